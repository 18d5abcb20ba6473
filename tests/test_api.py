"""docs/api.md's example runs as written and prints what the page says; the public names exist."""

import re
import subprocess
import sys
from pathlib import Path

import leadrules

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_the_documented_example_prints_what_the_page_shows(tmp_path):
    text = DOC.read_text(encoding="utf-8")
    code, printed = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, re.S).groups()
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, check=True)
    assert done.stdout == printed
    assert done.stderr == ""


def test_every_public_name_is_importable_and_documented():
    documented = DOC.read_text(encoding="utf-8")
    for name in leadrules.__all__:
        assert getattr(leadrules, name) is not None
    assert [n for n in ("load", "analyze", "compile_ruleset", "Store", "ingest", "run_rules",
                        "evaluate", "Event", "LeadrulesError") if f"`{n}" not in documented] == []


def test_an_unknown_name_is_an_attribute_error():
    try:
        leadrules.no_such_thing
    except AttributeError as error:
        assert str(error) == "module 'leadrules' has no attribute 'no_such_thing'"
    else:
        raise AssertionError("no error")
