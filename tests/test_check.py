"""Diagnostics: every error code against a golden file of its exact rendering."""

import os
from pathlib import Path

import pytest

from leadrules import dsl
from leadrules.dsl.errors import RulesError

GOLDEN = Path(__file__).parent / "data" / "errors"
CASES = sorted(GOLDEN.glob("*.rules"))


def render(path: Path) -> str:
    """What `leadrules check` prints about a file, with the path relative to tests/data."""
    name = f"errors/{path.name}"
    try:
        analysis = dsl.analyze(dsl.read_source(path), name)
    except RulesError as error:  # a file that cannot even be read as text
        return error.render().replace(str(path), name) + "\n"
    return "".join(d.render(analysis.ruleset.source) + "\n" for d in analysis.diagnostics)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_diagnostics_match_golden_file(path: Path):
    expected = path.with_suffix(".expected")
    actual = render(path)
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        expected.write_text(actual, encoding="utf-8")
    assert actual == expected.read_text(encoding="utf-8")


def test_every_golden_input_reports_something():
    assert all(render(p) for p in CASES)


def test_clean_ruleset_has_no_diagnostics():
    text = ("events a\nfields t: text\nwhen a then +1\nfit +5 if t = \"x\"\n"
            "stages Name, Lead\nstage Name -> Lead on a\n")
    assert dsl.analyze(text).diagnostics == ()


def test_load_raises_with_every_error_sorted():
    path = GOLDEN / "several-errors.rules"
    with pytest.raises(RulesError) as caught:
        dsl.load(path)
    assert [(d.span.line, d.code) for d in caught.value.diagnostics] == [
        (2, "missing-sign"), (3, "unknown-statement"), (4, "syntax"), (5, "syntax")]


def test_warnings_do_not_fail_unless_strict():
    text = "grade A if fit >= 70\ngrade D otherwise\ngrade C if fit >= 30\n"
    assert dsl.analyze(text).raise_for_errors() is not None
    with pytest.raises(RulesError, match=r"warning\[unreachable-line\]"):
        dsl.analyze(text).raise_for_errors(strict=True)


def test_missing_rule_file_is_a_usage_error():
    with pytest.raises(dsl.UsageError, match="nope.rules: no such rule file"):
        dsl.read_source("nope.rules")


def test_deep_nesting_is_a_located_error_not_a_crash():
    text = "fields a: number\nfit +1 if " + "not " * 2000 + "a = 1\n"
    assert [(d.code, d.span.line) for d in dsl.analyze(text).diagnostics] == [("too-deep", 2)]
    text = "fields a: number\nfit +1 if " + "not " * 5000 + "a = 1\n"
    assert [(d.code, d.span.line) for d in dsl.analyze(text).diagnostics] == [("line-too-long", 2)]


def test_many_parentheses_and_long_conditions_parse():
    text = "fields a: number\nfit +1 if " + "(" * 2000 + "a = 1" + ")" * 2000 + "\n"
    assert dsl.analyze(text).diagnostics == ()


try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is in the test extra
    given = None

if given:
    WORDS = st.sampled_from(["when", "then", "+25", "25", "stage", "->", "if", "score", ">=",
                             "and", "or", "not", "(", ")", "[", "]", ",", '"x"', "a", "in",
                             "events", "grade", "A", "otherwise", "\n", "#", "*", "bant.all"])

    @settings(max_examples=300, deadline=None)
    @given(st.one_of(st.text(), st.lists(WORDS, max_size=30).map(" ".join)))
    def test_no_input_raises_anything_but_diagnostics(text):
        analysis = dsl.analyze(text, "fuzz.rules")
        for diagnostic in analysis.diagnostics:
            assert diagnostic.render(text).startswith("fuzz.rules:")


def test_a_huge_file_is_refused_quickly(tmp_path):
    path = tmp_path / "huge.rules"
    path.write_bytes(b"when a then +1\n" * 700_000)  # 10.5 MB
    with pytest.raises(RulesError) as caught:
        dsl.read_source(path)
    assert caught.value.render() == (
        f"{path}:1:1: error[file-too-large]: this file has 10.5 MB; a rule file has at most 2 MB\n"
        "  = hint: is this really a rule file? split a huge ruleset into several files")


def test_binary_garbage_and_empty_files_give_diagnostics_not_crashes(tmp_path):
    garbage = bytes(range(256)) * 40
    (tmp_path / "bin.rules").write_bytes(garbage)
    with pytest.raises(RulesError) as caught:
        dsl.read_source(tmp_path / "bin.rules")
    assert [d.code for d in caught.value.diagnostics] == ["bad-encoding"]
    text = garbage.decode("latin-1")
    assert all(d.render(text) for d in dsl.analyze(text).diagnostics)
    assert dsl.analyze("").diagnostics == ()
