"""The README's quickstart is what CI runs: two commands, the second one `.ci/run`'s own."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def quickstart_blocks() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Quickstart\n(.*?)(?=^## |\Z)", text, re.S | re.M).group(1)
    blocks = re.findall(r"^```(?:sh|shell|bash|console)?\n(.*?)^```", section, re.S | re.M)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def test_quickstart_is_one_block_of_two_commands():
    blocks = quickstart_blocks()
    assert len(blocks) == 1
    assert len(blocks[0]) == 2
    install_and_demo, install_and_test = blocks[0]
    assert install_and_demo == "pip install . && leadrules demo"
    assert install_and_test.startswith("pip install '.[test]' && ")


def test_ci_runs_the_second_quickstart_line():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in script.splitlines() if line.strip() and not line.startswith("#")]
    assert commands[-1] == quickstart_blocks()[0][1]


def test_readme_links_into_docs_exist():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)", text)
    assert links, "the README links into docs/"
    assert [link for link in links if not (ROOT / link).exists()] == []
