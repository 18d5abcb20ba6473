"""The formatter: golden files, layout rules, round trips over written and generated rules."""

import os
import string
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.errors import RulesError, Span
from leadrules.dsl.format import format_ruleset, format_source
from leadrules.dsl.parser import code_part

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "fmt"
CASES = sorted(GOLDEN.glob("*.rules"))
ROOT = Path(__file__).parent.parent
N = ast.Name


def read(path: Path) -> str:
    """A file's text exactly as stored: no newline translation, so CRLF input stays CRLF."""
    return path.read_bytes().decode("utf-8")


def fmt(text: str) -> str:
    return format_source(text, "test.rules")


# --- golden files ------------------------------------------------------------------------------

@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_format_matches_golden_file(path: Path):
    expected = path.with_suffix(".expected")
    actual = format_source(read(path), path.name)
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        expected.write_bytes(actual.encode("utf-8"))
    assert actual == read(expected)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_output_means_the_same_and_is_stable(path: Path):
    text = read(path)
    once = fmt(text)
    assert dsl.parse(once) == dsl.parse(text)
    assert fmt(once) == once


def test_there_are_enough_golden_cases():
    assert len(CASES) >= 6
    assert all(p.with_suffix(".expected").exists() for p in CASES)


def test_crlf_input_has_crlf_and_output_has_none():
    text = read(GOLDEN / "crlf.rules")
    assert "\r\n" in text
    assert "\r" not in fmt(text)


# --- the bundled rule files --------------------------------------------------------------------

# The only difference the formatter makes to the bundled files: the `then`s of the first run of
# `when` rules are aligned (see the alignment rule in dsl/format.py).


@pytest.mark.parametrize("path", [ROOT / "rulesets" / "b2b.rules", DATA / "sketch.rules"],
                         ids=["b2b", "sketch"])
def test_bundled_ruleset_and_the_sketch_are_canonical(path: Path):
    assert fmt(read(path)) == read(path)


@pytest.mark.parametrize("path", [ROOT / "rulesets" / "b2b.rules", DATA / "sketch.rules"],
                         ids=["b2b", "sketch"])
def test_bundled_files_format_to_a_fixed_point(path: Path):
    once = fmt(read(path))
    assert fmt(once) == once
    assert dsl.parse(once) == dsl.parse(read(path))


# --- errors ------------------------------------------------------------------------------------

def test_a_file_with_a_syntax_error_is_refused_with_the_diagnostic():
    with pytest.raises(RulesError) as caught:
        format_source("events a\nwhen a then +1 at\n", "bad.rules")
    assert caught.value.render() == (
        "bad.rules:2:18: error[syntax]: the statement ends too early\n"
        "2 | when a then +1 at\n"
        "  |                  ^\n"
        "  = hint: expected 'most'")


def test_every_syntax_error_is_reported_not_just_the_first():
    with pytest.raises(RulesError) as caught:
        format_source("wen a then +1\nwhen a then 25\n", "bad.rules")
    assert [(d.span.line, d.code) for d in caught.value.diagnostics] == [
        (1, "unknown-statement"), (2, "missing-sign")]


def test_semantic_errors_do_not_stop_formatting():
    text = "events a\nWHEN  webinar_sigup THEN +25\nstage X -> Y on nothing\n"
    assert dsl.analyze(text).errors
    assert fmt(text) == "events a\nwhen webinar_sigup then +25\nstage X -> Y on nothing\n"


def test_too_deep_to_write_is_a_located_error():
    cond = ast.Truthy(ast.Ref(("a",)))
    for _ in range(5000):
        cond = ast.Not(cond)
    deep = ast.FitRule(1, cond, span=Span("deep.rules", 3, 1, 3, 20))
    with pytest.raises(RulesError) as caught:
        format_ruleset(ast.Ruleset((ast.ScoreBounds(0, 9), deep), path="deep.rules"))
    assert [(d.code, str(d.span)) for d in caught.value.diagnostics] == [
        ("too-deep", "deep.rules:3:1")]


# --- layout rules, one statement at a time -----------------------------------------------------

LAYOUT = [
    ("", ""),
    ("\n\n  \n# only a comment\n\n", "# only a comment\n"),
    ("#x  \t\n", "#x\n"),  # comment text is kept as written, trailing whitespace removed
    ("when a then +1", "when a then +1\n"),
    ("when a then +1\n\n\n\nwhen b then +2\n", "when a then +1\n\nwhen b then +2\n"),
    ("fit +1 if a = 1 #c", "fit +1 if a = 1  #c\n"),
    ("events a,  # first\n  b  # last\n", "# first\nevents a, b  # last\n"),
    ("stage * -> Lead on deal_lost", "stage * -> Lead on deal_lost\n"),
    ("goal \"N\": conversion A -> B >= 20% by 2027-06-30",
     "goal \"N\": conversion A -> B >= 20% by 2027-06-30\n"),
    ("when a then +1 once per 1 days", "when a then +1 once per 1 day\n"),
    ("when a then +1 within 2 hour", "when a then +1 within 2 hours\n"),
    ('fit +1 if t = "a\\"b\\\\c"', 'fit +1 if t = "a\\"b\\\\c"\n'),
    ('fit +1 if t = "\\x"', 'fit +1 if t = "\\\\x"\n'),  # an unknown escape is a backslash
    ("fit +1 if x in [ 1,2 ,3 ]", "fit +1 if x in [1, 2, 3]\n"),
    ("fit +1 if x = 2.50", "fit +1 if x = 2.50\n"),
    ("when a then alert \"x\" AND enroll \"y\"", "when a then alert \"x\" and enroll \"y\"\n"),
]


@pytest.mark.parametrize("text, expected", LAYOUT)
def test_layout(text, expected):
    assert fmt(text) == expected


def events_line(count: int, width: int = 10) -> list[str]:
    return [f"e{i:0{width - 1}d}" for i in range(count)]


def test_a_declaration_of_exactly_100_characters_stays_on_one_line():
    text = "events " + ", ".join(events_line(7)) + ", e12345678"
    assert len(text) == 100
    assert fmt(text) == text + "\n"


def test_a_declaration_of_101_characters_wraps_aligned_under_the_first_name():
    names = events_line(8)
    text = "events " + ", ".join(names)
    assert len(text) == 101
    assert fmt(text) == "events " + ", ".join(names[:7]) + ",\n       " + names[7] + "\n"


def test_every_wrapped_line_is_filled_up_to_100_characters_with_its_comma():
    names = events_line(30)
    lines = fmt("stages " + ", ".join(names)).splitlines()
    assert [len(line) for line in lines] == [90, 90, 90, 90, 29]
    assert all(line.startswith("       e") for line in lines[1:])


def test_a_run_is_aligned_when_its_longest_when_part_is_exactly_40_characters():
    head = "when " + "e" * 34  # with the space before `then`: 40 characters
    assert fmt(f"{head} then +1\nwhen a then +2\n") == f"{head} then +1\nwhen a{' ' * 33} then +2\n"


def test_a_run_with_a_when_part_of_41_characters_keeps_single_spaces():
    text = "when " + "e" * 35 + " then +1\nwhen a then +2\n"
    assert fmt(text) == text


def test_format_ruleset_aligns_consecutive_when_rules_and_nothing_else():
    rules = ast.Ruleset((ast.ScoreRule(N("a"), None, 1), ast.ScoreRule(N("bbb"), None, -1),
                         ast.InactivityRule(ast.Duration(30, "days"), -10),
                         ast.ScoreRule(N("c"), None, 2, (ast.Once(),))))
    assert format_ruleset(rules) == ("when a   then +1\nwhen bbb then -1\n"
                                     "when no activity for 30 days then -10\nwhen c then +2 once\n")


# --- round trips over generated rulesets -------------------------------------------------------

# Names: identifiers (with umlauts) and, now and then, keywords, which are names wherever the
# grammar expects one; the few that collide with a construct in the same place are left out.
NOT_NAMES = {"no", "any", "count", "days", "not", "true", "false"}
KEYWORDS = ["when", "stage", "On", "in", "set", "score", "between", "Otherwise", "once", "within"]
names = st.one_of(
    st.text(string.ascii_letters + "_äöüÄÖÜß", min_size=1, max_size=3).flatmap(
        lambda head: st.text(string.ascii_letters + string.digits + "_ä", max_size=8).map(
            lambda tail: head + tail)),
    st.sampled_from(KEYWORDS)).filter(lambda s: s.lower() not in NOT_NAMES)
name = names.map(ast.Name)
# Event and field names may be quoted: "Page Visit", "Lead Origin", "Total Time (s)"
spaced = st.text(string.ascii_letters + " -().äß", min_size=1, max_size=12).filter(str.strip)
qname = st.one_of(names, spaced).map(ast.Name)
texts = st.text(st.one_of(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")),
                          st.sampled_from('"\\#[]()ä,')), max_size=12)
ints = st.integers(-10_000, 10_000)
decimals = st.builds(lambda whole, frac: Decimal(f"{whole}.{frac}"), ints,
                     st.text("0123456789", min_size=1, max_size=3))
dates = st.dates(date(1000, 1, 1), date(9999, 12, 31))
units = st.sampled_from(["hours", "days", "weeks"])
durations = st.builds(ast.Duration, st.integers(1, 400), units)
values = st.one_of(st.builds(ast.Literal, st.one_of(texts, ints, decimals, st.booleans(), dates)),
                   st.builds(ast.Symbol, names))
refs = st.one_of(st.lists(names, min_size=1, max_size=2).map(lambda parts: ast.Ref(tuple(parts))),
                 spaced.map(lambda text: ast.Ref((text,))))
operands = st.one_of(refs, st.just(ast.DaysInStage()), st.just(ast.DaysSinceActivity()),
                     st.builds(ast.CountWithin, name, durations))
ops = st.sampled_from(["=", "!=", "<", "<=", ">", ">="])
atoms = st.one_of(
    st.builds(ast.Compare, operands, ops, values, st.booleans()),
    st.builds(ast.InList, refs, st.lists(values, max_size=3).map(tuple), st.booleans(),
              st.booleans()),
    st.builds(ast.TextMatch, refs, st.sampled_from(["contains", "starts with", "ends with"]),
              values | st.lists(values, max_size=3).map(tuple), st.booleans()),
    st.builds(ast.IsMissing, refs, st.booleans()),
    st.builds(ast.Truthy, refs))
conditions = st.recursive(atoms, lambda inner: st.one_of(
    st.builds(ast.And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    st.builds(ast.Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
    st.builds(ast.Not, inner)), max_leaves=8)
maybe_cond = st.none() | conditions
limits = st.one_of(st.builds(ast.Once, st.none() | durations),
                   st.builds(ast.AtMost, st.integers(1, 20), st.none() | durations),
                   st.builds(ast.Within, durations),
                   st.builds(ast.Decay, st.integers(1, 100) | st.just(Decimal("12.5")), durations))
per_values = st.builds(ast.PerValue, st.integers(1, 3600) | decimals.filter(lambda d: d > 0),
                       qname, st.none() | st.integers(1, 500))
actions = st.builds(ast.Action, st.sampled_from(["assign", "enroll", "alert"]), texts)
name_lists = st.lists(name, min_size=1, max_size=14).map(tuple)


@st.composite
def outcomes(draw, with_limits=True):
    """(points, limits, actions): points with optional limits and actions, or actions alone."""
    if draw(st.booleans()):
        chosen = draw(st.lists(limits, max_size=2)) if with_limits else []
        return draw(ints), tuple(chosen), tuple(draw(st.lists(actions, max_size=2)))
    return None, (), tuple(draw(st.lists(actions, min_size=1, max_size=2)))


@st.composite
def periods(draw):
    first, second = sorted(draw(st.lists(dates, min_size=2, max_size=2)))
    return draw(st.sampled_from([(None, None), (None, second), (first, second)]))


@st.composite
def goals(draw):
    start, end = draw(periods())
    measure = draw(st.one_of(st.builds(ast.Entered, name), st.builds(ast.Conversion, name, name),
                             st.builds(ast.LeadsIn, name)))
    return ast.Goal(draw(texts), measure, draw(ops), draw(st.integers(0, 500) | decimals),
                    draw(st.booleans()), start, end)


statements = st.one_of(
    st.builds(ast.RulesetName, texts),
    st.builds(ast.EventsDecl, name_lists),
    st.builds(ast.ActivityExcludes, name_lists),
    st.builds(ast.FieldsDecl, st.lists(st.builds(ast.FieldDecl, qname, st.sampled_from(
        ["text", "number", "date", "boolean"]).map(ast.Name)), min_size=1, max_size=8).map(tuple),
        st.lists(texts, max_size=3).map(tuple)),
    outcomes().flatmap(lambda o: st.builds(ast.ScoreRule, qname, maybe_cond, st.just(o[0]),
                                           st.just(o[1]), st.just(o[2]), st.none() if o[0] is None
                                           else st.none() | per_values)),
    outcomes(with_limits=False).flatmap(lambda o: st.builds(
        ast.InactivityRule, durations, st.just(o[0]), st.just(o[2]))),
    st.lists(ints, min_size=2, max_size=2).map(sorted).map(lambda b: ast.ScoreBounds(*b)),
    st.builds(ast.FitRule, ints, conditions),
    st.builds(ast.Classify, st.just("grade"), st.sampled_from("ABCD"), maybe_cond),
    st.builds(ast.Classify, st.just("band"), st.sampled_from("1234"), maybe_cond),
    st.builds(ast.Classify, st.just("label"), names, maybe_cond),
    st.builds(ast.Disqualify, texts, conditions),
    st.builds(ast.BantDecl, name, st.lists(name, max_size=3).map(tuple)),
    st.builds(ast.BantDecl, qname, st.lists(qname, min_size=1, max_size=3).map(tuple), conditions),
    st.builds(ast.StagesDecl, name_lists),
    st.builds(ast.StageMove, st.none() | name, name, st.one_of(
        st.builds(ast.OnCondition, conditions), st.builds(ast.OnEvent, name, maybe_cond),
        st.just(ast.OnActivity()))),
    st.builds(ast.OnEntering, name, actions, conditions),
    st.builds(ast.OnEntering, name, actions, st.none(), st.booleans()),
    st.builds(ast.Sla, name, name, durations),
    goals())


@settings(max_examples=200, deadline=None)
@given(st.lists(statements, min_size=1, max_size=8).map(tuple))
def test_generated_rulesets_round_trip(statements):
    text = format_ruleset(ast.Ruleset(statements))
    parsed = dsl.parse(text)
    assert parsed.statements == statements
    assert format_ruleset(parsed) == text
    assert format_source(text) == text


comments = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=10).map(
    lambda text: ("#" + text).strip())
indented = comments.map(lambda c: "  " + c)
extras = st.lists(st.one_of(st.just(""), st.just("   "), comments, indented), max_size=2)


@settings(max_examples=100, deadline=None)
@given(st.lists(statements, min_size=1, max_size=6).map(tuple), st.data())
def test_comments_and_blank_lines_anywhere_are_kept_in_order(statements, data):
    woven, written = [], []
    for line in format_ruleset(ast.Ruleset(statements)).splitlines():
        loose = data.draw(extras)
        trailing = data.draw(st.none() | comments)
        woven += [*loose, line + (f" {trailing}" if trailing else "")]
        written += [c.strip() for c in loose if c.strip()] + ([trailing] if trailing else [])
    text = "\r\n".join(woven) if data.draw(st.booleans()) else "\n".join(woven)
    once = fmt(text)
    assert dsl.parse(once).statements == statements
    assert fmt(once) == once
    kept = [line[len(code_part(line)[0]):].strip() for line in once.splitlines()]
    assert [c for c in kept if c] == written
