"""Parsing: statements to AST nodes, statement splitting, spans."""

from decimal import Decimal

import pytest

import dsl
from dsl import ast
from dsl.errors import Span
from dsl.parser import split_statements

N = ast.Name


def ref(*path):
    return ast.Ref(tuple(path))


def lit(value):
    return ast.Literal(value)


CASES = [
    ('ruleset "B2B demand funnel"', ast.RulesetName("B2B demand funnel")),
    ("events a, b", ast.EventsDecl((N("a"), N("b")))),
    ("activity excludes email_open", ast.ActivityExcludes((N("email_open"),))),
    ("fields title: text, employees: number",
     ast.FieldsDecl((ast.FieldDecl(N("title"), N("text")), ast.FieldDecl(N("employees"), N("number"))))),
    ("when webinar_signup then +25", ast.ScoreRule(N("webinar_signup"), None, 25)),
    ("when newsletter_unsubscribe then -20", ast.ScoreRule(N("newsletter_unsubscribe"), None, -20)),
    ('when page_visit where topic in ["product", "pricing"] then +10',
     ast.ScoreRule(N("page_visit"), ast.InList(ref("topic"), (lit("product"), lit("pricing"))), 10)),
    ("score between 0 and 150", ast.ScoreBounds(0, 150)),
    ('fit +30 if title in ["Geschäftsführer", "CEO"]',
     ast.FitRule(30, ast.InList(ref("title"), (lit("Geschäftsführer"), lit("CEO"))))),
    ("fit +20 if employees > 5000 and employees <= 10000",
     ast.FitRule(20, ast.And((ast.Compare(ref("employees"), ">", lit(5000)),
                              ast.Compare(ref("employees"), "<=", lit(10000)))))),
    ("grade A if fit >= 70", ast.Classify("grade", "A", ast.Compare(ref("fit"), ">=", lit(70)))),
    ("grade D otherwise", ast.Classify("grade", "D", None)),
    ("band 4 otherwise", ast.Classify("band", "4", None)),
    ('disqualify "competitor" if email ends with "@wettbewerber.de"',
     ast.Disqualify("competitor", ast.TextMatch(ref("email"), "ends with", lit("@wettbewerber.de")))),
    ('disqualify "student" if title contains "Student"',
     ast.Disqualify("student", ast.TextMatch(ref("title"), "contains", lit("Student")))),
    ("bant from sales_qualification, reset on deal_lost, sales_rejected",
     ast.BantDecl(N("sales_qualification"), (N("deal_lost"), N("sales_rejected")))),
    ("bant from sales_qualification", ast.BantDecl(N("sales_qualification"), ())),
    ("stages Name, Lead", ast.StagesDecl((N("Name"), N("Lead")))),
    ("stage Name -> Interaction on any activity",
     ast.StageMove(N("Name"), N("Interaction"), ast.OnActivity())),
    ("stage Interaction -> TargetCustomer if grade in [A, B, C]",
     ast.StageMove(N("Interaction"), N("TargetCustomer"), ast.OnCondition(
         ast.InList(ref("grade"), (ast.Symbol("A"), ast.Symbol("B"), ast.Symbol("C")))))),
    ("stage Lead -> SalesLead if score >= 76 and bant.all",
     ast.StageMove(N("Lead"), N("SalesLead"), ast.OnCondition(ast.And((
         ast.Compare(ref("score"), ">=", lit(76)), ast.Truthy(ref("bant", "all"))))))),
    ("stage SalesLead -> Lead on sales_rejected",
     ast.StageMove(N("SalesLead"), N("Lead"), ast.OnEvent(N("sales_rejected"), None))),
    ('stage * -> Lead on deal_lost where reason = "timing"',
     ast.StageMove(None, N("Lead"), ast.OnEvent(N("deal_lost"),
                                               ast.Compare(ref("reason"), "=", lit("timing"))))),
    ("fit +1 if not (a = 1 or b != 2.5) and c is missing and d is set and e not in [true]",
     ast.FitRule(1, ast.And((
         ast.Not(ast.Or((ast.Compare(ref("a"), "=", lit(1)),
                         ast.Compare(ref("b"), "!=", lit(Decimal("2.5")))))),
         ast.IsMissing(ref("c")), ast.IsMissing(ref("d"), negated=True),
         ast.InList(ref("e"), (lit(True),), negated=True))))),
    ('fit +1 if title starts with "Head \\"of\\""',
     ast.FitRule(1, ast.TextMatch(ref("title"), "starts with", lit('Head "of"')))),
]


@pytest.mark.parametrize("text, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_statement_parses_to_node(text, expected):
    assert dsl.parse(text).statements == (expected,)


def test_spans_point_at_the_source_and_equality_ignores_them():
    ruleset = dsl.parse("# head\n\nwhen webinar_signup then +25  # trailing\n", "x.rules")
    rule = ruleset.statements[0]
    assert rule.span == Span("x.rules", 3, 1, 3, 29)
    assert rule.event.span == Span("x.rules", 3, 6, 3, 20)
    assert rule == ast.ScoreRule(N("webinar_signup"), None, 25, span=None)
    assert ruleset.text_of(rule.span) == "when webinar_signup then +25"


def test_a_statement_continues_after_a_trailing_comma():
    text = "events a, b,\n       c  # more\nwhen a then +1\n"
    assert split_statements(text)[0].line == 1
    assert [c.line for c in split_statements(text)] == [1, 3]
    assert dsl.parse(text).statements[0] == ast.EventsDecl((N("a"), N("b"), N("c")))


def test_a_statement_continues_inside_brackets():
    text = 'fit +1 if title in [\n  "CEO",\n  "CMO"\n]\nwhen a then +1\n'
    assert [c.line for c in split_statements(text)] == [1, 5]


def test_an_unclosed_bracket_does_not_swallow_the_next_statement():
    text = 'fit +1 if title in ["CEO",\nwhen a then +1\n'
    assert [c.line for c in split_statements(text)] == [1, 2]


def test_comments_and_blank_lines_are_not_statements():
    assert split_statements("# only a comment\n\n   \n# another\n") == []
    assert dsl.parse("").statements == ()


def test_bundled_ruleset_parses_completely():
    from engine.bundled import ruleset_path
    ruleset = dsl.load(ruleset_path())
    assert ruleset.name == "B2B demand funnel"
    kinds = [type(s).__name__ for s in ruleset.statements]
    assert kinds.count("ScoreRule") == 5
    assert kinds.count("StageMove") == 8
    assert kinds.count("Classify") == 8
