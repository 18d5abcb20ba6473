"""The TextMate grammars of docs/editors/vscode, run by vscode-textmate and vscode-oniguruma from
npm (what VS Code itself uses) over the bundled rules and tests: the scopes of chosen tokens."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "docs" / "editors" / "vscode"
PACKAGES = ["vscode-textmate@9.3.2", "vscode-oniguruma@2.0.1"]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """{path: [[(text, innermost scope), ...] per line]} of the bundled rule and test files."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run vscode-textmate (apt-get install nodejs npm)")
    where = tmp_path_factory.mktemp("npm")
    install = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", where, *PACKAGES],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    shutil.copy(ROOT / "tests" / "tmgrammar.js", where)
    files = [ROOT / "rulesets" / "b2b.rules", ROOT / "rulesets" / "b2b.tests"]
    run = subprocess.run([node, where / "tmgrammar.js", VSCODE / "syntaxes", *files],
                         capture_output=True, text=True, timeout=120, cwd=where)
    assert run.returncode == 0, run.stderr
    return {Path(path).name: [[(t["text"], t["scopes"][-1]) for t in line] for line in lines]
            for path, lines in json.loads(run.stdout).items()}


def _line(found, name: str, start: str) -> list[tuple[str, str]]:
    """The tokens of the first line that starts with `start`, spaces dropped."""
    lines = [line for line in found[name] if "".join(t for t, _ in line).startswith(start)]
    return [(text, scope) for text, scope in lines[0] if text.strip()]


def test_a_scoring_rule(tokens):
    assert _line(tokens, "b2b.rules", "when email_click") == [
        ("when", "keyword.control.statement.leadrules"), ("email_click", "entity.name.leadrules"),
        ("then", "keyword.other.leadrules"), ("+15", "constant.numeric.leadrules"),
        ("at most", "keyword.other.leadrules"), ("3", "constant.numeric.leadrules"),
        ("times", "keyword.other.leadrules"), ("per", "keyword.other.leadrules"),
        ("30", "constant.numeric.leadrules"), ("days", "keyword.other.leadrules")]


def test_strings_comments_fields_and_moves(tokens):
    assert _line(tokens, "b2b.rules", "ruleset") == [
        ("ruleset", "keyword.control.statement.leadrules"),
        ('"', "punctuation.definition.string.begin.leadrules"),
        ("B2B demand funnel", "string.quoted.double.leadrules"),
        ('"', "punctuation.definition.string.end.leadrules")]
    assert _line(tokens, "b2b.rules", "# Everything") == [
        ("# Everything the rules may refer to. A typo anywhere below is an error with a "
         "suggestion.", "comment.line.number-sign.leadrules")]
    fields = _line(tokens, "b2b.rules", "fields")
    assert fields[:4] == [("fields", "keyword.control.statement.leadrules"),
                          ("title", "entity.name.leadrules"),
                          (":", "punctuation.separator.key-value.leadrules"),
                          ("text", "storage.type.leadrules")]
    assert ("number", "storage.type.leadrules") in fields
    assert _line(tokens, "b2b.rules", "stage Lead -> SalesLead") == [
        ("stage", "keyword.control.statement.leadrules"), ("Lead", "entity.name.leadrules"),
        ("->", "keyword.operator.arrow.leadrules"), ("SalesLead", "entity.name.leadrules"),
        ("if", "keyword.other.leadrules"), ("score", "variable.language.leadrules"),
        (">=", "keyword.operator.comparison.leadrules"), ("76", "constant.numeric.leadrules"),
        ("and", "keyword.other.leadrules"), ("bant.all", "variable.language.bant.leadrules")]


def test_actions_and_dates(tokens):
    entering = _line(tokens, "b2b.rules", "on entering SalesLead assign")
    assert entering[:4] == [("on", "keyword.control.statement.leadrules"),
                            ("entering", "keyword.other.leadrules"),
                            ("SalesLead", "entity.name.leadrules"),
                            ("assign", "support.function.action.leadrules")]
    goal = _line(tokens, "b2b.rules", "goal")
    assert ("2027-01-01", "constant.numeric.date.leadrules") in goal
    assert ("entered", "keyword.other.leadrules") in goal


def test_a_tests_file(tokens):
    assert _line(tokens, "b2b.tests", "rules")[0] == ("rules",
                                                      "keyword.control.statement.leadrules-tests")
    event = _line(tokens, "b2b.tests", "  event 2026-03-02T09:30:00Z")
    assert event[:3] == [("event", "keyword.control.statement.leadrules-tests"),
                         ("2026-03-02T09:30:00Z", "constant.numeric.timestamp.leadrules"),
                         ("content_request", "entity.name.leadrules")]
    assert event[-1][1] == "comment.line.number-sign.leadrules"
    fired = _line(tokens, "b2b.tests", "  expect fired 4 times when email_click")
    assert fired[:6] == [("expect", "keyword.control.statement.leadrules-tests"),
                         ("fired", "keyword.other.leadrules-tests"),
                         ("4 times", "keyword.other.leadrules-tests"),
                         ("when", "keyword.control.statement.leadrules"),
                         ("email_click", "entity.name.leadrules"),
                         ("then", "keyword.other.leadrules")]


def test_every_line_of_the_bundled_files_is_tokenised_without_a_gap(tokens):
    """No text is left unscoped but spaces and commas."""
    for name, lines in tokens.items():
        for number, line in enumerate(lines, start=1):
            bare = [text for text, scope in line if scope.startswith("source.")
                    and text.strip(" ,[]().:")]
            assert bare == [], f"{name}:{number}"


def test_the_extension_names_files_that_exist_and_starts_leadrules_lsp():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    contributes = manifest["contributes"]
    assert [(g["language"], g["scopeName"]) for g in contributes["grammars"]] == [
        ("leadrules", "source.leadrules"), ("leadrules-tests", "source.leadrules-tests")]
    for grammar in contributes["grammars"]:
        assert json.loads((VSCODE / grammar["path"]).read_text(encoding="utf-8"))[
            "scopeName"] == grammar["scopeName"]
    for language in contributes["languages"]:
        assert (VSCODE / language["configuration"]).is_file()
    assert [lang["extensions"] for lang in contributes["languages"]] == [[".rules"], [".tests"]]
    assert contributes["configuration"]["properties"]["leadrules.command"]["default"] == [
        "leadrules", "lsp"]
    assert (VSCODE / manifest["main"]).is_file()
    if shutil.which("node"):
        check = subprocess.run(["node", "--check", VSCODE / manifest["main"]],
                               capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stderr
