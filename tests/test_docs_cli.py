"""`leadrules docs`, and the hints that say where the bundled copy of a missing file is: the help's
examples name rulesets/b2b.rules and docs/..., which a plain `pip install` does not put here.
The installed copies are where `bundled` says: the work tree with an editable install, else
site-packages (as in CI)."""

from pathlib import Path

import pytest
from clitools import invoke
from leadrules.engine import bundled

ROOT = Path(__file__).resolve().parent.parent
RULES, TESTS = bundled.ruleset_path(), bundled.file_path("b2b.tests")


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_docs_lists_the_bundled_files_and_the_topics(elsewhere):
    result = invoke("docs")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[:7] == [f"Bundled files: {bundled.rulesets_dir()}", "  b2b.rules", "  b2b.tests",
                         "  datasette.yaml", "  sample/events.csv", "  sample/leads.csv",
                         "  sample/outcomes.csv"]
    assert lines[7] == f"Docs: {bundled.docs_dir()}"
    assert "  language       The `.rules` language" in lines
    assert "  datasette      Datasette: browsing the store" in lines


def test_docs_topic_prints_the_doc(elsewhere):
    result = invoke("docs", "rule-tests")
    assert (result.exit_code, result.stdout) == (
        0, (ROOT / "docs" / "rule-tests.md").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name, path", [
    ("language", "docs/language.md"), ("language.md", "docs/language.md"),
    ("b2b.rules", "rulesets/b2b.rules"), ("sample/leads.csv", "rulesets/sample/leads.csv"),
    ("datasette.yaml", "rulesets/datasette.yaml")])
def test_docs_path_names_the_installed_file(elsewhere, name, path):
    result = invoke("docs", "--path", name)
    installed = bundled.rulesets_dir().parent / path
    assert (result.exit_code, result.stdout) == (0, f"{installed}\n")
    assert installed.read_bytes() == (ROOT / path).read_bytes()


def test_an_unknown_topic_is_named_with_a_suggestion(elsewhere):
    result = invoke("docs", "langage")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "error: no doc or bundled file 'langage'; did you mean 'language'?; "
        "`leadrules docs` lists them\n")
    assert invoke("docs", "../cli.py").stderr == (
        "error: no doc or bundled file '../cli.py'; `leadrules docs` lists them\n")


def test_the_help_examples_rule_file_missing_here_says_where_the_bundled_one_is(elsewhere):
    for args in (("check", "rulesets/b2b.rules"), ("run", "rulesets/b2b.rules")):
        result = invoke(*args)
        assert result.exit_code == 2
        assert result.stderr == (
            "error: rulesets/b2b.rules: no such rule file\n"
            f"  = hint: the bundled b2b.rules is {RULES}; "
            "`leadrules init DIR` starts a repository with rulesets/ in it\n")


def test_a_missing_tests_file_or_doc_gets_the_hint_too(elsewhere):
    assert invoke("test", "rulesets/b2b.tests").stderr == (
        "error: rulesets/b2b.tests: no such test file or directory\n"
        f"  = hint: the bundled b2b.tests is {TESTS}; "
        "`leadrules init DIR` starts a repository with rulesets/ in it\n")
    assert invoke("check", "docs/language.md").stderr == (
        "error: docs/language.md: no such rule file\n"
        f"  = hint: the installed language.md is {bundled.topics()['language']}; "
        "`leadrules docs language` prints it\n")


def test_other_missing_files_get_no_hint(elsewhere):
    assert invoke("check", "mine.rules").stderr == "error: mine.rules: no such rule file\n"


def test_the_help_names_init_and_docs():
    out = invoke("--help").stdout
    assert "`leadrules docs` shows where pip put the bundled copies and the docs." in out
    assert "leadrules init marketing-rules      start a repository: rules, tests, hooks, CI" in out
