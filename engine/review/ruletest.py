"""`leadrules test`: run rule tests against their ruleset, check what they expect, measure coverage.

A test file (engine/testfile.py) names a rule file; each test is one lead evaluated as of one
moment with the engine's own `evaluate`, and its expectations are compared with the result. A
rule "fires" for a lead when it acted on it (docs/rule-tests.md lists what that means for each
kind of rule); coverage counts, for every rule that can act, the tests in which it fired.
"""

from __future__ import annotations

import difflib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable, Mapping

import attrs

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.check import suggest
from leadrules.dsl.errors import Diagnostic, RulesError, UsageError
from leadrules.engine import tables
from leadrules.engine.events import Event
from leadrules.engine.review.testfile import (
    RuleTest,
    RuleTestError,
    RuleTestFile,
    analyze_tests,
    read_tests_source,
)
from leadrules.engine.scoring.compiler import DISQUALIFIED, CompiledRuleset, compile_ruleset
from leadrules.engine.scoring.evaluate import LeadState, evaluate
from leadrules.engine.scoring.explain import explain
from leadrules.engine.scoring.results import ActionTaken, LeadResult, PointChange, Seen, StageChange

# The statements that can act on a lead, and so can fire and be covered; the others declare.
COVERABLE = (ast.ScoreRule, ast.InactivityRule, ast.FitRule, ast.Classify, ast.Disqualify,
             ast.BantDecl, ast.StageMove, ast.OnEntering, ast.Sla)
NOT_COUNTED = "ruleset, events, fields, activity excludes, score between, stages, goal"
INDENT = "    "


@attrs.frozen
class RuleLine:
    """One statement of a ruleset: its line, its text as written, and its node."""

    line: int
    text: str
    node: object

    @property
    def coverable(self) -> bool:
        return isinstance(self.node, COVERABLE)


class RuleIndex:
    """The statements of one ruleset by line, found by their text."""

    def __init__(self, ruleset: ast.Ruleset):
        self.path = ruleset.path
        self.lines = [RuleLine(s.span.line, ruleset.text_of(s.span), s)
                      for s in ruleset.statements]
        self.by_node = {line.node: line for line in self.lines}
        self.coverable = [line for line in self.lines if line.coverable]
        self.event_rules = {line.line for line in self.lines
                            if isinstance(line.node, ast.ScoreRule)}
        self.bant_line = next((line.line for line in self.lines
                               if isinstance(line.node, ast.BantDecl)), None)

    def find(self, text: str) -> tuple[RuleLine | None, str | None]:
        """The statement written as `text` (compared as parsed: spacing and keyword case do not
        matter), or None and a hint naming the closest rule."""
        try:
            parsed = dsl.parse(text, "<expect>").statements
        except RulesError:
            parsed = ()
        if len(parsed) == 1 and parsed[0] in self.by_node:
            return self.by_node[parsed[0]], None
        texts = {" ".join(line.text.lower().split()): line for line in self.coverable}
        close = difflib.get_close_matches(" ".join(text.lower().split()), texts, n=1)
        if close:
            line = texts[close[0]]
            return None, f"did you mean line {line.line}: {line.text}?"
        return None, f"copy the rule's line from {self.path}"


@attrs.frozen
class Failure:
    """One expectation that did not hold, or one thing a test names that its rules do not know."""

    line: int
    what: str
    expected: str
    actual: str
    hint: str | None = None

    def to_dict(self) -> dict:
        return {"line": self.line, "what": self.what, "expected": self.expected,
                "actual": self.actual, "hint": self.hint}

    def one_line(self) -> str:
        return f"line {self.line}: {self.what}: expected {self.expected}, actual {self.actual}"


@attrs.frozen
class Outcome:
    """What came of one test: its failures (none: it passed), how the actual results came about
    (for a failed test that ran), and how many times each rule fired, by line."""

    test: RuleTest
    rules_path: str
    failures: tuple[Failure, ...]
    explanation: str | None
    fired: Mapping[int, int]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def location(self) -> str:
        return f"{self.test.path}:{self.test.line}"


@attrs.frozen
class RuleCoverage:
    """One coverable rule and the number of tests in which it fired."""

    line: int
    text: str
    tests: int


@attrs.frozen
class Coverage:
    """How much of one ruleset its tests exercise."""

    rules_path: str
    test_files: tuple[str, ...]
    rules: tuple[RuleCoverage, ...]

    @property
    def covered(self) -> int:
        return sum(1 for r in self.rules if r.tests)

    @property
    def percent(self) -> float:
        return 100.0 * self.covered / len(self.rules) if self.rules else 100.0

    @property
    def uncovered(self) -> tuple[RuleCoverage, ...]:
        return tuple(r for r in self.rules if not r.tests)

    def below(self, minimum: float) -> bool:
        return self.covered * 100 < minimum * len(self.rules)


@attrs.frozen
class Report:
    """Every test's outcome, in file order, and the coverage of each ruleset tested."""

    files: tuple[str, ...]
    outcomes: tuple[Outcome, ...]
    coverage: tuple[Coverage, ...]

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.passed)

    @property
    def passed(self) -> int:
        return len(self.outcomes) - self.failed

    def below(self, minimum: float | None) -> tuple[Coverage, ...]:
        """The rulesets whose coverage is below `minimum` percent."""
        return () if minimum is None else tuple(c for c in self.coverage if c.below(minimum))


@attrs.frozen
class Suite:
    """One ruleset under test: as parsed, compiled, and indexed by line and text."""

    path: str
    rules: CompiledRuleset
    index: RuleIndex


# --- finding and loading -------------------------------------------------------------------

def find_test_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, with each directory replaced by the *.tests files below it."""
    paths = list(paths)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(path.rglob("*.tests")))
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"{path}: no such test file or directory", missing=path)
    if not found:
        where = ", ".join(str(p) for p in paths)
        raise UsageError(f"no test files (*.tests) in {where}; write the tests of FILE.rules "
                         "in FILE.tests beside it (`leadrules docs rule-tests` shows how)")
    return list(dict.fromkeys(found))


def load_test_files(paths: Iterable[Path]) -> list[RuleTestFile]:
    """Every test file parsed; RuleTestError with the diagnostics of all of them if any is bad."""
    parsed, diagnostics, sources = [], [], {}
    for path in paths:
        text = read_tests_source(path)
        tests, found = analyze_tests(text, str(path))
        parsed.append(tests)
        diagnostics.extend(found)
        sources[str(path)] = text
    if diagnostics:
        raise RuleTestError(diagnostics, sources)
    return parsed


def _load_suite(tests: RuleTestFile) -> Suite:
    rules_path = tests.rules
    if not rules_path.is_file():
        if tests.rules_span is None:
            raise UsageError(f"{tests.path}: no rule file {rules_path} beside it; name the rules "
                             "it tests with a line like: rules \"b2b.rules\"")
        raise RuleTestError([Diagnostic("missing-rules", f"no rule file {rules_path}",
                                        tests.rules_span,
                                        hint="the path is relative to the test file")],
                            {tests.path: tests.source})
    try:
        ruleset = dsl.load(rules_path)
    except RulesError as error:  # the rules have errors: the tests cannot mean anything
        raise RuleTestError(error.diagnostics, error.sources) from None
    return Suite(str(rules_path), compile_ruleset(ruleset), RuleIndex(ruleset))


def run_tests(paths: Iterable[Path]) -> Report:
    """Find, parse and run the tests under `paths`, and measure each ruleset's coverage."""
    files = load_test_files(find_test_files(paths))
    suites: dict[Path, Suite] = {}
    outcomes: list[Outcome] = []
    tested: dict[Path, list[str]] = {}
    for tests in files:
        key = tests.rules.resolve()
        if key not in suites:
            suites[key] = _load_suite(tests)
        tested.setdefault(key, []).append(tests.path)
        outcomes.extend(run_test(test, suites[key]) for test in tests.tests)
    coverage = tuple(_coverage(suite, tuple(tested[key]),
                               [o for o in outcomes if o.rules_path == suite.path])
                     for key, suite in suites.items())
    return Report(tuple(f.path for f in files), tuple(outcomes), coverage)


# --- one test ----------------------------------------------------------------------------

def run_test(test: RuleTest, suite: Suite) -> Outcome:
    """Evaluate the test's lead and compare the results with what the test expects."""
    rules = suite.rules
    problems = _unknown_names(test, suite)
    if problems:  # the lead would be evaluated with parts of it silently ignored
        return Outcome(test, suite.path, tuple(problems), None, {})
    profile = {s.name: s.value for s in test.profile if s.value is not None}
    events = [Event(e.event_id, test.lead_id, e.type, e.ts,
                    {p.name: p.value for p in e.props if p.value is not None})
              for e in test.events]
    result = evaluate(rules, test.lead_id, profile, events, test.as_of, trace=True)
    fired = fired_rules(suite, result, profile, {e.event_id for e in events})
    failures = tuple(f for x in test.expectations for f in _check(x, result, fired, suite))
    explanation = explain(rules, result, profile, test.as_of,
                          f"set on line {test.as_of_line}") if failures else None
    return Outcome(test, suite.path, failures, explanation, fired)


def _unknown_names(test: RuleTest, suite: Suite) -> list[Failure]:
    rules = suite.rules
    found = []
    for setting in test.profile:
        if setting.name not in rules.fields:
            found.append(Failure(setting.span.line, "lead field",
                                 f"a field declared in {suite.path}", setting.name,
                                 suggest(setting.name, rules.fields) or
                                 f"declare it in the fields line of {suite.path}"))
    for event in test.events:
        if event.type not in rules.events:
            found.append(Failure(event.span.line, "event type",
                                 f"an event declared in {suite.path}", event.type,
                                 suggest(event.type, rules.events) or
                                 f"declare it in the events line of {suite.path}"))
    return found


# --- what fired --------------------------------------------------------------------------

def fired_rules(suite: Suite, result: LeadResult, profile: Mapping[str, object],
                event_ids: set[str]) -> dict[int, int]:
    """How many times each rule fired for a lead, by line: the steps at which it acted."""
    steps: dict[int, set] = {}
    context = (suite, event_ids)
    for item in result.history:
        step = _FIRINGS.get(type(item), _nothing)(item, context)
        if step is not None:
            steps.setdefault(step[0], set()).add(step[1])
    for sla in result.slas:
        steps.setdefault(sla.rule.line, set()).add(sla.entered)
    for line in result.because.values():
        steps.setdefault(line.rule.line, set()).add(None)
    state = LeadState(suite.rules, profile)  # before any event: what fit lines read
    for line in suite.rules.fit:
        if line.pred(state):
            steps.setdefault(line.rule.line, set()).add(None)
    return {line: len(keys) for line, keys in sorted(steps.items())}


def _points(item: PointChange, context) -> tuple | None:
    """Points earned, not capped; for a `when EVENT` rule only at its event (a `within` window
    closing or a `decay` period ending is not the rule firing again)."""
    suite, event_ids = context
    if item.capped_by is not None:
        return None
    if item.rule.line in suite.index.event_rules and item.cause not in event_ids:
        return None
    return item.rule.line, (item.ts, item.cause)


def _acted(item: ActionTaken | StageChange, context) -> tuple | None:
    """An action taken or a stage move made (disqualification included), at one step."""
    return None if item.rule is None else (item.rule.line, (item.ts, item.cause))


def _seen(item: Seen, context) -> tuple | None:
    """An event that sets or resets BANT, for the `bant from` line."""
    suite, _ = context
    rules, event = suite.rules, item.event
    if item.scored and (event.type == rules.bant_source or event.type in rules.bant_resets):
        return suite.index.bant_line, (event.ts, event.event_id)
    return None


def _nothing(item, context) -> None:
    return None


_FIRINGS = {PointChange: _points, ActionTaken: _acted, StageChange: _acted, Seen: _seen}


# --- expectations --------------------------------------------------------------------------

_ACTUAL = {
    "score": lambda r: r.score,
    "fit": lambda r: r.fit,
    "grade": lambda r: r.grade,
    "band": lambda r: r.band,
    "priority": lambda r: r.priority,
    "label": lambda r: r.label,
    "stage": lambda r: r.stage,
    "disqualified": lambda r: r.disqualified,
    "owner": lambda r: r.owner,
    "sla": lambda r: r.sla,
    "actions": lambda r: tuple((a.kind, a.value) for a in r.actions),
}
_QUOTED = ("disqualified", "owner")


def _check(expectation, result: LeadResult, fired: Mapping[int, int],
           suite: Suite) -> list[Failure]:
    if expectation.what in _ACTUAL:
        return _check_result(expectation, result, suite)
    return _check_fired(expectation, fired, suite)


def _check_result(expectation, result: LeadResult, suite: Suite) -> list[Failure]:
    what, expected = expectation.what, expectation.value
    actual = _ACTUAL[what](result)
    if actual == expected:
        return []
    return [Failure(expectation.span.line, what, show(what, expected), show(what, actual),
                    _value_hint(what, expected, suite.rules))]


def show(what: str, value) -> str:
    """A result as a test file writes it."""
    if value is None or value == ():
        return "none"
    if what == "actions":
        return ", ".join(f'{kind} "{text}"' for kind, text in value)
    return f'"{value}"' if what in _QUOTED else str(value)


def _value_hint(what: str, expected, rules: CompiledRuleset) -> str | None:
    """A hint when the expected value is one the rules can never give."""
    known = {"stage": (*rules.stages, DISQUALIFIED),
             "disqualified": tuple(g.value for g in rules.disqualify),
             "label": tuple(g.value for g in rules.labels)}.get(what)
    if known is None or expected is None or expected in known:
        return None
    close = suggest(expected, known)
    return f"the rules have no {what} {show(what, expected)}" + (f"; {close}" if close else "")


def times(n: int) -> str:
    """How often a rule fired, in words."""
    return "not fired" if n == 0 else "fired once" if n == 1 else f"fired {n} times"


def _check_fired(expectation, fired: Mapping[int, int], suite: Suite) -> list[Failure]:
    text, line = expectation.value, expectation.span.line
    wanted = ("not fired" if expectation.what == "not fired" else
              "fired" if expectation.times is None else times(expectation.times))
    rule, hint = suite.index.find(text)
    if rule is None:
        return [Failure(line, text, wanted, f"{suite.path} has no such rule", hint)]
    if not rule.coverable:
        return [Failure(line, text, wanted, f"line {rule.line} is a declaration, which never "
                        "fires", "name a rule that acts on a lead: when, fit, grade, band, "
                        "label, disqualify, bant from, stage, on entering or sla")]
    count = fired.get(rule.line, 0)
    holds = {"not fired": count == 0, "fired": count > 0}.get(wanted, count == expectation.times)
    return [] if holds else [Failure(line, text, wanted, times(count))]


# --- coverage ----------------------------------------------------------------------------

def _coverage(suite: Suite, test_files: tuple[str, ...], outcomes: list[Outcome]) -> Coverage:
    rules = tuple(RuleCoverage(r.line, r.text, sum(1 for o in outcomes if o.fired.get(r.line)))
                  for r in suite.index.coverable)
    return Coverage(suite.path, test_files, rules)


# --- output ----------------------------------------------------------------------------------

def render_text(report: Report, coverage: bool = False) -> str:
    """One line per test, then each failure with the explanation, coverage, and a summary."""
    width = max((len(o.location) for o in report.outcomes), default=0)
    lines = [f"{'pass' if o.passed else 'FAIL'}  {o.location:<{width}}  {o.test.name}".rstrip()
             for o in report.outcomes]
    for outcome in report.outcomes:
        if not outcome.passed:
            lines += ["", f"FAIL  {outcome.location}  {outcome.test.name}"]
            lines += failure_lines(outcome)
    if coverage:
        for covered in report.coverage:
            lines += [""] + coverage_lines(covered)
    lines += ["", f"{report.passed} passed, {report.failed} failed "
                  f"({_count(len(report.files), 'file')})"]
    return "\n".join(lines) + "\n"


def failure_lines(outcome: Outcome) -> list[str]:
    """Expected against actual for each failure, then how the actual results came about."""
    lines = []
    for failure in outcome.failures:
        lines.append(f"{INDENT}line {failure.line}: {failure.what}")
        lines.append(f"{INDENT * 2}expected  {failure.expected}")
        lines.append(f"{INDENT * 2}actual    {failure.actual}")
        if failure.hint:
            lines.append(f"{INDENT * 2}hint      {failure.hint}")
    if outcome.explanation is not None:
        lines.append(f"{INDENT}How the actual results came about:")
        lines += [f"{INDENT * 2}{line}".rstrip() for line in outcome.explanation.splitlines()]
    else:
        lines.append(f"{INDENT}(not run: {outcome.rules_path} does not declare what the test "
                     "names above)")
    return lines


def coverage_lines(coverage: Coverage) -> list[str]:
    """The table of coverable rules with the tests that fired each, the rules none fired, and
    the share covered."""
    lines = [f"Coverage of {coverage.rules_path} by {', '.join(coverage.test_files)}",
             tables.table(("line", "tests", "rule"),
                          [(r.line, r.tests, r.text) for r in coverage.rules])]
    if coverage.uncovered:
        lines.append(f"Fired by no test ({_count(len(coverage.uncovered), 'rule')}):")
        lines += [f"{INDENT}line {r.line}: {r.text}" for r in coverage.uncovered]
    lines.append(f"Coverage: {coverage.covered} of {_count(len(coverage.rules), 'rule')} fired "
                 f"in at least one test ({coverage.percent:.1f}%)")
    lines.append(f"Not counted: declarations, which never fire ({NOT_COUNTED})")
    return lines


def render_json(report: Report, coverage: bool = False, minimum: float | None = None) -> str:
    """One JSON object: counts, every test with its failures, and coverage when asked for."""
    below = report.below(minimum)
    data = {
        "ok": report.failed == 0 and not below,
        "passed": report.passed,
        "failed": report.failed,
        "files": list(report.files),
        "tests": [{"file": o.test.path, "line": o.test.line, "name": o.test.name,
                   "rules": o.rules_path, "outcome": "pass" if o.passed else "fail",
                   "failures": [f.to_dict() for f in o.failures],
                   "explanation": o.explanation} for o in report.outcomes],
        "coverage": [{"rules": c.rules_path, "tests": list(c.test_files),
                      "covered": c.covered, "total": len(c.rules),
                      "percent": round(c.percent, 1), "below_minimum": c in below,
                      "coverable": [{"line": r.line, "text": r.text, "tests": r.tests}
                                     for r in c.rules],
                      "not_fired": [{"line": r.line, "text": r.text} for r in c.uncovered]}
                     for c in report.coverage] if coverage or minimum is not None else None,
        "min_coverage": minimum,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_junit(report: Report) -> str:
    """JUnit XML for CI: one testsuite per test file, one testcase per test."""
    root = ET.Element("testsuites", name="leadrules test", tests=str(len(report.outcomes)),
                      failures=str(report.failed))
    for path in report.files:
        mine = [o for o in report.outcomes if o.test.path == path]
        suite = ET.SubElement(root, "testsuite", name=path, tests=str(len(mine)),
                              failures=str(sum(1 for o in mine if not o.passed)), errors="0",
                              skipped="0")
        for outcome in mine:
            case = ET.SubElement(suite, "testcase", classname=path, name=outcome.test.name,
                                 file=path, line=str(outcome.test.line))
            if not outcome.passed:
                failure = ET.SubElement(case, "failure", type="expectation", message="; ".join(
                    f.one_line() for f in outcome.failures))
                failure.text = "\n".join(failure_lines(outcome)) + "\n"
    ET.indent(root)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode") + "\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
