"""`leadrules test`: the test-file format, what fires, failures, coverage, and every output."""

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import clitools
import pytest
from clitools import invoke

from leadrules.engine.events import parse_timestamp
from leadrules.engine.review.ruletest import run_tests
from leadrules.engine.review.testfile import RuleTestError, parse_tests

DATA = Path(__file__).parent / "data" / "ruletest"
RULESETS = Path(__file__).parent.parent / "rulesets"


def golden(name: str, actual: str) -> str:
    return clitools.golden(DATA / name, actual)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """The rules and test files under their short names in the current directory."""
    return clitools.work_in(tmp_path, monkeypatch, *DATA.glob("*.rules"), *DATA.glob("*.tests"))


def write(path: str, text: str) -> Path:
    Path(path).write_text(text, encoding="utf-8")
    return Path(path)


# --- the format --------------------------------------------------------------------------

def test_a_test_file_parses_to_tests():
    parsed = parse_tests(
        'rules "campaign.rules"\n'
        "as of 2026-03-31\n"
        "\n"
        'TEST "A webinar"   # keywords in any case, comments anywhere\n'
        '  Lead title = "CMO", employees = 12000, country = none\n'
        '  event 2026-03-01T09:30:00Z page_visit topic = "pricing", minutes = 3\n'
        "  expect score = 25, band = 4, owner = none\n"
        '  expect actions = enroll "Nurture", assign "Vertrieb, DACH"\n'
        "  expect fired 2 times when webinar_signup then +25   # a comment\n"
        '  expect not fired "when content_request then +20"\n', "dir/x.tests")
    assert parsed.rules == Path("dir/campaign.rules")
    (test,) = parsed.tests
    assert (test.name, test.line, test.lead_id) == ("A webinar", 4, "x.tests:4")
    assert [(s.name, s.value) for s in test.profile] == [
        ("title", "CMO"), ("employees", "12000"), ("country", None)]
    (event,) = test.events
    assert (event.event_id, event.ts, event.type) == (
        "e06", parse_timestamp("2026-03-01T09:30:00Z"), "page_visit")
    assert [(p.name, p.value) for p in event.props] == [("topic", "pricing"), ("minutes", "3")]
    assert (test.as_of, test.as_of_line) == (parse_timestamp("2026-03-31"), 2)
    assert [(x.what, x.value, x.times) for x in test.expectations] == [
        ("score", 25, None), ("band", 4, None), ("owner", None, None),
        ("actions", (("enroll", "Nurture"), ("assign", "Vertrieb, DACH")), None),
        ("fired", "when webinar_signup then +25", 2),
        ("not fired", "when content_request then +20", None)]


def test_the_rules_default_to_the_file_of_the_same_name():
    parsed = parse_tests('test "t"\n as of 2026-01-01\n expect fired once fit +1 if a\n',
                         "rulesets/b2b.tests")
    assert parsed.rules == Path("rulesets/b2b.rules")
    assert [(x.what, x.times) for x in parsed.tests[0].expectations] == [("fired", 1)]


@pytest.mark.parametrize("line, message", [
    ("  score = 5", "a line cannot start with 'score'"),
    ('  event yesterday webinar_signup', "'yesterday' is not a time"),
    ("  expect band = 5", "'5' is not a band"),
    ("  expect priority = A5", "'A5' is not a priority"),
    ("  expect sla = late", "'late' is not an SLA outcome"),
    ("  expect fired 0 times when a then +1", "'fired 0 times' is 'not fired'"),
    ('  expect owner = "x", owner = "y"', "line 3 expects this already"),
    ('  lead title = "a", title = "b"', "the field title is given twice"),
    ('  lead title = "a" country = "b"', "unexpected 'country'"),
])
def test_a_bad_line_is_one_located_error(line, message):
    with pytest.raises(RuleTestError) as caught:
        parse_tests(f'test "t"\n  as of 2026-01-01\n{line}\n  expect score = 1\n', "x.tests")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.span.line, diagnostic.message) == (3, message)


def test_parse_errors_name_file_line_and_column_and_exit_2(cwd):
    result = invoke("test", "errors.tests")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == golden("errors.expected", result.stderr)


def test_an_empty_file_has_no_tests(cwd):
    write("empty.tests", "# nothing yet\n")
    result = invoke("test", "empty.tests")
    assert (result.exit_code, result.stderr) == (2, (
        "empty.tests:1:1: error[no-tests]: this file has no tests\n"
        "1 | # nothing yet\n"
        "  | ^\n"
        '  = hint: start one with a line like: test "A webinar makes a Lead"\n'))


# --- running tests ------------------------------------------------------------------------

def test_a_passing_file(cwd):
    result = invoke("test", "campaign.tests")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "pass  campaign.tests:4   A webinar and a whitepaper make a Lead\n"
        "pass  campaign.tests:15  Whitepapers earn points twice at most\n"
        "pass  campaign.tests:24  A quiet month costs 10 points\n"
        "pass  campaign.tests:29  Qualified by sales outside Germany\n"
        "pass  campaign.tests:38  A student is disqualified\n"
        "\n"
        "5 passed, 0 failed (1 file)\n")


def test_a_failing_test_shows_expected_actual_and_the_explanation(cwd):
    result = invoke("test", "failing.tests")
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == golden("failing.expected", result.stdout)


def test_an_unknown_rule_text_fails_with_a_hint(cwd):
    report = run_tests([Path("failing.tests")])
    failure = next(f for f in report.outcomes[0].failures if f.line == 10)
    assert (failure.what, failure.expected, failure.actual, failure.hint) == (
        "when webinar_sigup then +25", "fired", "campaign.rules has no such rule",
        "did you mean line 6: when webinar_signup then +25?")


def test_a_declaration_never_fires(cwd):
    write("decl.tests", 'rules "campaign.rules"\ntest "t"\n  as of 2026-01-01\n'
          "  expect fired score between 0 and 100\n")
    (failure,) = run_tests([Path("decl.tests")]).outcomes[0].failures
    assert (failure.expected, failure.actual) == ("fired", "line 9 is a declaration, which "
                                                           "never fires")


def test_an_expected_stage_the_rules_do_not_have_gets_a_hint(cwd):
    write("stage.tests", 'rules "campaign.rules"\ntest "t"\n  as of 2026-01-01\n'
          "  expect stage = Leed\n")
    (failure,) = run_tests([Path("stage.tests")]).outcomes[0].failures
    assert (failure.expected, failure.actual, failure.hint) == (
        "Leed", "Name", "the rules have no stage Leed; did you mean 'Lead'?")


# --- what counts as firing ---------------------------------------------------------------

FIRING_RULES = """\
events visit, call
fields title: text
when visit then +10 within 10 days
when call then +5 at most 1 times
when no activity for 5 days then alert "quiet"
"""


@pytest.mark.parametrize("events, expected", [
    # the window closing on a visit's points is not the rule firing again
    ("event 2026-01-01 visit", {3: 1, 5: 1}),
    # a capped call does not fire; a call is not activity here, so no quiet spell ends early
    ("event 2026-01-01 call\n  event 2026-01-02 call", {4: 1}),
    ("event 2026-01-01 visit\n  event 2026-01-03 visit", {3: 2, 5: 1}),
])
def test_what_fires(cwd, events, expected):
    write("f.rules", FIRING_RULES + "activity excludes call\n")
    write("f.tests", f'test "t"\n  {events}\n  as of 2026-02-01\n  expect score = 0\n')
    (outcome,) = run_tests([Path("f.tests")]).outcomes
    assert dict(outcome.fired) == expected


def test_events_after_a_disqualification_fire_nothing(cwd):
    """A student's sales_qualification is listed by explain but sets no BANT: the
    disqualification (line 17) fires, `bant from` (line 18) does not."""
    write("s.tests", 'rules "campaign.rules"\ntest "t"\n  lead title = "Student"\n'
          "  event 2026-01-01 sales_qualification budget = yes\n  as of 2026-02-01\n"
          '  expect stage = Disqualified\n')
    (outcome,) = run_tests([Path("s.tests")]).outcomes
    assert outcome.passed
    assert 18 not in outcome.fired and outcome.fired[17] == 1


# --- coverage ----------------------------------------------------------------------------

def test_coverage_lists_every_rule_and_those_no_test_fired(cwd):
    result = invoke("test", "campaign.tests", "--coverage")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden("coverage.expected", result.stdout)


def test_min_coverage_fails_below_the_share_given(cwd):
    result = invoke("test", "campaign.tests", "--min-coverage", "90")
    assert result.exit_code == 1
    assert result.stderr == "coverage of campaign.rules is 88.2%, below --min-coverage 90%\n"
    assert "Fired by no test (2 rules):" in result.stdout
    assert invoke("test", "campaign.tests", "--min-coverage", "88").exit_code == 0


def test_json_output(cwd):
    result = invoke("test", "failing.tests", "campaign.tests", "--format", "json",
                    "--min-coverage", "50")
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == golden("failing.json", result.stdout)
    assert json.loads(result.stdout)["coverage"][0]["percent"] == 88.2


def test_junit_output(cwd):
    result = invoke("test", "failing.tests", "campaign.tests", "--format", "junit")
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout == golden("failing.junit.xml", result.stdout)
    root = ET.fromstring(result.stdout)
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in root] == [
        ("failing.tests", "3", "2"), ("campaign.tests", "5", "0")]


# --- files, paths and bad input --------------------------------------------------------------

def test_directories_are_searched_for_test_files(cwd):
    Path("sub").mkdir()
    shutil.move("campaign.tests", "sub/campaign.tests")
    shutil.copy("campaign.rules", "sub/campaign.rules")
    os.remove("failing.tests")
    os.remove("errors.tests")
    result = invoke("test")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == (
        f"pass  {Path('sub/campaign.tests')}:4   A webinar and a whitepaper make a Lead")
    assert result.stdout.endswith("\n5 passed, 0 failed (1 file)\n")


def test_no_test_files_is_an_error_with_a_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("test")
    assert (result.exit_code, result.stderr) == (2, (
        "error: no test files (*.tests) in .; write the tests of FILE.rules in FILE.tests "
        "beside it (`leadrules docs rule-tests` shows how)\n"))
    assert invoke("test", "nope.tests").stderr == (
        "error: nope.tests: no such test file or directory\n")


def test_a_missing_rule_file_is_bad_input(cwd):
    write("lonely.tests", 'test "t"\n  as of 2026-01-01\n  expect score = 0\n')
    result = invoke("test", "lonely.tests")
    assert (result.exit_code, result.stderr) == (2, (
        "error: lonely.tests: no rule file lonely.rules beside it; name the rules it tests "
        'with a line like: rules "b2b.rules"\n'))
    write("named.tests", 'rules "gone.rules"\ntest "t"\n  as of 2026-01-01\n  expect score = 0\n')
    result = invoke("test", "named.tests")
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        2, "named.tests:1:7: error[missing-rules]: no rule file gone.rules")


def test_a_ruleset_with_errors_is_bad_input(cwd):
    write("broken.rules", "events a\nwhen a then 25\n")
    write("broken.tests", 'test "t"\n  as of 2026-01-01\n  expect score = 0\n')
    result = invoke("test", "broken.tests")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("broken.rules:2:13: error[missing-sign]: points need a sign")


def test_help_shows_examples():
    result = invoke("test", "--help")
    assert result.exit_code == 0
    assert "leadrules test rulesets/ --min-coverage 100 --format junit" in result.stdout


# --- the bundled ruleset's own tests --------------------------------------------------------

def test_the_bundled_tests_pass_and_fire_every_rule():
    result = invoke("test", RULESETS, "--min-coverage", "100")
    assert (result.exit_code, result.stderr) == (0, "")
    assert "Coverage: 40 of 40 rules fired in at least one test (100.0%)" in result.stdout
    report = run_tests([RULESETS])
    assert report.failed == 0 and report.passed >= 15
    assert [(c.rules_path, c.uncovered) for c in report.coverage] == [
        (str(RULESETS / "b2b.rules"), ())]


def test_the_first_example_of_the_docs_passes(tmp_path):
    text = (Path(__file__).parent.parent / "docs" / "rule-tests.md").read_text(encoding="utf-8")
    example = text.split("```\n", 2)[1]
    shutil.copy(RULESETS / "b2b.rules", tmp_path / "b2b.rules")
    write(tmp_path / "example.tests", example)
    report = run_tests([tmp_path / "example.tests"])
    assert (report.passed, report.failed) == (1, 0)
