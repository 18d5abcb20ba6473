"""Parsing: statements to AST nodes, statement splitting, spans."""

import os
import subprocess
import sys
import time
from datetime import date
from decimal import Decimal

import pytest

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.errors import Span
from leadrules.dsl.parser import parse_statements, split_statements
from leadrules.dsl.statements import statements as cached_statements

N = ast.Name
D = ast.Duration


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
    ("when email_click then +15 at most 3 times per 30 days",
     ast.ScoreRule(N("email_click"), None, 15, (ast.AtMost(3, D(30, "days")),))),
    ("when a then +5 once", ast.ScoreRule(N("a"), None, 5, (ast.Once(),))),
    ("when a then +5 once per 1 week", ast.ScoreRule(N("a"), None, 5, (ast.Once(D(1, "weeks")),))),
    ("when a then +5 at most 2 times", ast.ScoreRule(N("a"), None, 5, (ast.AtMost(2),))),
    ("when a then +5 within 90 days", ast.ScoreRule(N("a"), None, 5, (ast.Within(D(90, "days")),))),
    ("when a then +5 decay 50% every 12 hours",
     ast.ScoreRule(N("a"), None, 5, (ast.Decay(50, D(12, "hours")),))),
    ('when a then +5 once and alert "hot" and enroll "x"',
     ast.ScoreRule(N("a"), None, 5, (ast.Once(),), (ast.Action("alert", "hot"),
                                                     ast.Action("enroll", "x")))),
    ('when a then enroll "x"', ast.ScoreRule(N("a"), None, None, (), (ast.Action("enroll", "x"),))),
    ("when no activity for 30 days then -10", ast.InactivityRule(D(30, "days"), -10)),
    ('when no activity for 60 days then enroll "Wake-up nurture"',
     ast.InactivityRule(D(60, "days"), None, (ast.Action("enroll", "Wake-up nurture"),))),
    ('label hot if priority in ["A1", "A2", "B1"]',
     ast.Classify("label", "hot", ast.InList(ref("priority"), (lit("A1"), lit("A2"), lit("B1"))))),
    ('on entering SalesLead assign "Vertrieb DACH" if country in ["DE", "AT", "CH"]',
     ast.OnEntering(N("SalesLead"), ast.Action("assign", "Vertrieb DACH"),
                    ast.InList(ref("country"), (lit("DE"), lit("AT"), lit("CH"))))),
    ('on entering SalesLead assign "Sales International" otherwise',
     ast.OnEntering(N("SalesLead"), ast.Action("assign", "Sales International"), None, True)),
    ('on entering Lead enroll "Follow-up nurture"',
     ast.OnEntering(N("Lead"), ast.Action("enroll", "Follow-up nurture"))),
    ("sla SalesLead: sales_contacted within 2 days",
     ast.Sla(N("SalesLead"), N("sales_contacted"), D(2, "days"))),
    ('goal "25 new customers in 2027": entered Customer >= 25 between 2027-01-01 and 2027-12-31',
     ast.Goal("25 new customers in 2027", ast.Entered(N("Customer")), ">=", 25, False,
              date(2027, 1, 1), date(2027, 12, 31))),
    ('goal "c": conversion Lead -> SalesLead >= 20% by 2027-06-30',
     ast.Goal("c", ast.Conversion(N("Lead"), N("SalesLead")), ">=", 20, True, None,
              date(2027, 6, 30))),
    ('goal "n": leads in Lead < 500', ast.Goal("n", ast.LeadsIn(N("Lead")), "<", 500)),
    ("stage A -> B if days in stage > 30 or days since last activity >= 7",
     ast.StageMove(N("A"), N("B"), ast.OnCondition(ast.Or((
         ast.Compare(ast.DaysInStage(), ">", lit(30)),
         ast.Compare(ast.DaysSinceActivity(), ">=", lit(7))))))),
    ("stage A -> B if count page_visit within 2 weeks >= 3",
     ast.StageMove(N("A"), N("B"), ast.OnCondition(ast.Compare(
         ast.CountWithin(N("page_visit"), D(2, "weeks")), ">=", lit(3))))),
    ("fit +5 if signup < 2027-01-01",
     ast.FitRule(5, ast.Compare(ref("signup"), "<", lit(date(2027, 1, 1))))),
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
    from leadrules.engine.bundled import ruleset_path
    ruleset = dsl.load(ruleset_path())
    assert ruleset.name == "B2B demand funnel"
    kinds = [type(s).__name__ for s in ruleset.statements]
    assert {kind: kinds.count(kind) for kind in sorted(set(kinds))} == {
        "ActivityExcludes": 1, "BantDecl": 1, "Classify": 9, "Disqualify": 3, "EventsDecl": 1,
        "FieldsDecl": 1, "FitRule": 7, "Goal": 6, "InactivityRule": 2, "OnEntering": 3,
        "RulesetName": 1, "ScoreBounds": 1, "ScoreRule": 6, "Sla": 1, "StageMove": 8,
        "StagesDecl": 1}


def test_the_sketch_ruleset_parses_and_checks_clean():
    from pathlib import Path
    path = Path(__file__).parent / "data" / "sketch.rules"
    analysis = dsl.analyze(path.read_text(encoding="utf-8"), str(path))
    assert analysis.diagnostics == ()
    assert len(analysis.ruleset.statements) == 45


def test_keywords_are_read_in_any_case():
    upper = dsl.parse('When x THEN +25 Once per 2 Days AND Enroll "y"\nfit +1 if a = TRUE\n')
    lower = dsl.parse('when x then +25 once per 2 days and enroll "y"\nfit +1 if a = true\n')
    assert upper == lower


# The parser tables and the statements of rule files are cached in the user's cache directory
# (dsl.cache, dsl.statements); each case runs in a fresh interpreter, because a process builds its parser once.
_PARSE_B2B = ("import sys; from leadrules import dsl; from leadrules.engine import bundled; "
              "print(len(dsl.load(bundled.ruleset_path()).statements), 'lark' in sys.modules)")


def _parse_in_child(cache_home, **more_env):
    env = {name: value for name, value in os.environ.items() if name != "LEADRULES_NO_CACHE"}
    env.update(XDG_CACHE_HOME=str(cache_home), **more_env)
    done = subprocess.run([sys.executable, "-c", _PARSE_B2B], env=env, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip(), done.stderr


def test_the_parser_is_cached_in_the_users_cache_directory_and_read_back(tmp_path):
    assert _parse_in_child(tmp_path) == ("52 True", "")
    (cached,) = (tmp_path / "leadrules").glob("grammar-*.cache")
    made = cached.stat().st_mtime_ns
    for kept in (tmp_path / "leadrules").glob("rules-*.pickle"):
        kept.unlink()  # so that the file is parsed again, with the cached parser
    assert _parse_in_child(tmp_path) == ("52 True", "")
    assert cached.stat().st_mtime_ns == made  # read, not built again


def test_a_rule_file_parsed_before_is_read_back_without_the_parser(tmp_path):
    assert _parse_in_child(tmp_path) == ("52 True", "")
    (kept,) = (tmp_path / "leadrules").glob("rules-*.pickle")
    made = kept.stat().st_mtime_ns
    assert _parse_in_child(tmp_path) == ("52 False", "")  # neither Lark nor the parser imported
    assert kept.stat().st_mtime_ns == made
    kept.write_bytes(b"not statements\n")
    assert _parse_in_child(tmp_path) == ("52 True", "")
    assert kept.read_bytes() != b"not statements\n"


def test_kept_statements_equal_parsed_ones_also_with_syntax_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    text = 'ruleset "r"\nevents a, b\nwhen a then +5\nwhen b then ++5\nstage X -> Y if\n'
    parsed = parse_statements(text, "r.rules")
    assert len(parsed[1]) == 2  # two syntax errors, kept with the statements
    assert cached_statements(text, "r.rules") == parsed  # parsed, kept
    assert cached_statements(text, "r.rules") == parsed  # read back
    assert cached_statements(text, "s.rules") == parse_statements(text, "s.rules")  # spans differ
    assert len(list((tmp_path / "leadrules").glob("rules-*.pickle"))) == 2
    spans = [d.span.path for d in cached_statements(text, "s.rules")[1]]
    assert spans == ["s.rules", "s.rules"]


def test_a_damaged_cache_file_is_built_again_silently(tmp_path):
    _parse_in_child(tmp_path)
    (cached,) = (tmp_path / "leadrules").glob("grammar-*.cache")
    cached.write_bytes(b"not a parser\n")
    for kept in (tmp_path / "leadrules").glob("rules-*.pickle"):
        kept.unlink()  # so that the file is parsed again, with the damaged parser file
    assert _parse_in_child(tmp_path) == ("52 True", "")
    assert cached.read_bytes() != b"not a parser\n"


def test_no_cache_when_leadrules_no_cache_is_set_or_the_directory_cannot_be_made(tmp_path):
    assert _parse_in_child(tmp_path, LEADRULES_NO_CACHE="1") == ("52 True", "")
    assert not (tmp_path / "leadrules").exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert _parse_in_child(blocked) == ("52 True", "")  # a file where the directory would be


def test_a_new_install_forgets_cached_parsers_unused_for_30_days(tmp_path):
    folder = tmp_path / "leadrules"
    folder.mkdir()
    stale = folder / "grammar-0123-lark1.0.cache"
    recent = folder / "grammar-4567-lark1.0.cache"
    other = folder / "notes.txt"  # not a cached parser: never deleted
    month_ago = time.time() - 31 * 86_400
    for path in (stale, recent, other):
        path.write_text("x")
    os.utime(stale, (month_ago, month_ago))
    os.utime(other, (month_ago, month_ago))
    assert _parse_in_child(tmp_path) == ("52 True", "")
    assert (stale.exists(), recent.exists(), other.exists()) == (False, True, True)
    assert len(list(folder.glob("grammar-*.cache"))) == 2  # the recent one, and this one's


def test_kept_statements_unused_for_30_days_are_forgotten_when_new_ones_are_kept(tmp_path):
    folder = tmp_path / "leadrules"
    folder.mkdir()
    stale, recent = folder / "rules-0123.pickle", folder / "rules-4567.pickle"
    month_ago = time.time() - 31 * 86_400
    for path in (stale, recent):
        path.write_text("x")
    os.utime(stale, (month_ago, month_ago))
    assert _parse_in_child(tmp_path) == ("52 True", "")
    assert (stale.exists(), recent.exists()) == (False, True)
    assert len(list(folder.glob("rules-*.pickle"))) == 2
