"""engine.editor without a protocol: what each statement means (the hover text), and what
`leadrules lsp` says when pygls is not installed."""

import sys
from pathlib import Path

from clitools import golden, invoke
from leadrules import dsl
from leadrules.engine.editor import language
from leadrules.engine.editor.meaning import MEANINGS, meaning

DATA = Path(__file__).resolve().parent / "data" / "editor"
EVERY_KIND = DATA / "every-kind.rules"


def test_every_kind_of_statement_has_a_meaning():
    from leadrules.dsl import ast

    assert set(MEANINGS) == set(ast.Statement.__args__)


def test_the_meanings_of_every_kind_of_statement():
    ruleset = dsl.load(EVERY_KIND)
    text = "".join(f"line {s.span.line}: {meaning(s)}\n" for s in ruleset.statements)
    assert text == golden(DATA / "every-kind.meanings", text)


def test_a_document_that_does_not_parse_keeps_the_hover_of_its_other_lines():
    text = EVERY_KIND.read_text(encoding="utf-8").replace("when visit then +5 once",
                                                          "when visit then")
    assert language.hover(text, "x.rules", 5, 3) is None  # the broken line
    found = language.hover(text, "x.rules", 7, 3)
    assert found.markdown == ("line 7: Each `signup` event gives **+20** points.\n"
                              "- at most 2 times per lead, ever")


def test_definition_of_a_field_in_a_condition_and_of_bant():
    text = EVERY_KIND.read_text(encoding="utf-8")
    assert language.definition(text, "x.rules", 13, 12) == dsl.Span("x.rules", 4, 27, 4, 30)
    assert language.definition(text, "x.rules", 13, 1) is None  # a keyword


def test_lsp_without_pygls_says_how_to_get_it(monkeypatch):
    monkeypatch.delitem(sys.modules, "leadrules.engine.editor.server", raising=False)
    monkeypatch.setitem(sys.modules, "pygls", None)  # import pygls now fails, as if missing
    monkeypatch.setitem(sys.modules, "pygls.lsp.server", None)
    result = invoke("lsp")
    assert (result.exit_code, result.stderr) == (
        2, "error: leadrules lsp needs pygls: pip install 'leadrules[lsp]'\n")


def test_after_stage_the_stages_and_any_stage():
    text = EVERY_KIND.read_text(encoding="utf-8") + "stage \n"
    assert [(c.label, c.kind) for c in language.completions(text, "x.rules", 23, 7)] == [
        ("New", "stage"), ("Hot", "stage"), ("Won", "stage"), ("*", "keyword")]


def test_after_a_field_name_in_fields_the_types():
    text = EVERY_KIND.read_text(encoding="utf-8") + "fields region: \n"
    assert [c.label for c in language.completions(text, "x.rules", 23, 16)] == [
        "text", "number", "boolean", "date"]


def test_hover_on_a_bant_value_says_what_it_holds():
    text = (Path(__file__).resolve().parent.parent / "rulesets" / "b2b.rules").read_text(
        encoding="utf-8")
    found = language.hover(text, "b2b.rules", 57, 46)
    assert found.markdown.split("\n\n---\n\n") == [
        "`bant.all`: budget, authority, need and timeline are all true; BANT comes from line 50.",
        "line 57: A lead in `Lead` moves to `SalesLead` as soon as `score >= 76 and bant.all` "
        "holds after an event."]
