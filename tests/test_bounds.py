"""The bounds of dsl/bounds.py at their edges, and every defect the fuzz harness found, each with
its minimal input: what `check` passes compiles and runs; what it refuses is a located error."""

import io
import json
import types
from pathlib import Path

import pytest

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.check import Scope, walk
from leadrules.dsl.format import format_source
from leadrules.dsl.parser import code_part
from leadrules.engine.events import Event
from leadrules.engine.review.testfile import analyze_tests
from leadrules.engine.scoring.compiler import compile_condition, compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store import ingest, sources
from leadrules.engine.store.store import Store

DAY = 86_400_000_000
T0 = 1_767_225_600_000_000  # 2026-01-01


def codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in dsl.analyze(text).diagnostics]


# --- each bound at its edge ----------------------------------------------------------------

def nested(depth: int) -> str:
    """A condition whose and/or nest `depth` levels deep."""
    return "(score > 1 or " * (depth - 1) + "(fit > 1 and fit < 9)" + ")" * (depth - 1)


EDGES = [
    # (text that passes, text just past the bound, the code of the second)
    ("events a\nwhen a then +1000000\n", "events a\nwhen a then +1000001\n", "too-many-points"),
    ("events a\nwhen a then -1000000\n", "events a\nwhen a then -1000001\n", "too-many-points"),
    ("fields f: number\nfit +1000000 if f > 1\n", "fields f: number\nfit +1000001 if f > 1\n",
     "too-many-points"),
    ("events a\nwhen a then +1 within 36500 days\n", "events a\nwhen a then +1 within 36501 days\n",
     "bad-duration"),
    ("events a\nwhen a then +1 once per 5214 weeks\n",
     "events a\nwhen a then +1 once per 5215 weeks\n", "bad-duration"),
    ("events a\nwhen no activity for 876000 hours then -1\n",
     "events a\nwhen no activity for 876001 hours then -1\n", "bad-duration"),
    ("fields f: number\nfit +1 if f > 999999999999999\n",
     "fields f: number\nfit +1 if f > 1000000000000000\n", "number-too-large"),
    ("fields f: number\nfit +1 if f > 0.123456789\n",
     "fields f: number\nfit +1 if f > 0.1234567891\n", "number-too-large"),
    ("score between -999999999999999 and 999999999999999\n",
     "score between 0 and 9999999999999999\n", "number-too-large"),
    ("events a\nstages Name, Lead\nstage Name -> Lead if " + nested(32) + "\n",
     "events a\nstages Name, Lead\nstage Name -> Lead if " + nested(33) + "\n", "too-deep"),
    ("fields f: number\nfit +1 if " + "not " * 32 + "f > 1\n",
     "fields f: number\nfit +1 if " + "not " * 33 + "f > 1\n", "too-deep"),
    ("fields f: number\nfit +1 if f in [" + ", ".join(map(str, range(1000))) + "]\n",
     "fields f: number\nfit +1 if f in [" + ", ".join(map(str, range(1001))) + "]\n",
     "too-many-items"),
    ("events " + ", ".join(f"e{i}" for i in range(1000)) + "\n",
     "events " + ", ".join(f"e{i}" for i in range(1001)) + "\n", "too-many-items"),
    ('events a\nwhen a then alert "' + "x" * 7980 + '"\n',
     'events a\nwhen a then alert "' + "x" * 7981 + '"\n', "statement-too-long"),
    ('events a\nwhen a then +1  # ' + "x" * 7960 + "\n",
     'events a\nwhen a then +1  # ' + "x" * 7990 + "\n", "statement-too-long"),
]


@pytest.mark.parametrize("inside, beyond, code", EDGES, ids=[e[2] + str(i) for i, e in
                                                              enumerate(EDGES)])
def test_each_bound_holds_at_its_edge_and_is_an_error_past_it(inside, beyond, code):
    analysis = dsl.analyze(inside)
    assert analysis.errors == ()
    compile_ruleset(analysis.ruleset)  # and what passes, compiles
    assert code in [d.code for d in dsl.analyze(beyond).errors]


def test_a_long_line_is_refused_before_it_is_parsed():
    line = "when a then +1 and alert \"" + "x" * 9980 + "\""
    assert codes("events a\n" + line + "\n") == [("line-too-long", 2, 10001)]
    assert codes("events a\n# " + "x" * 9998 + "\n") == []
    assert codes("events a\n# " + "x" * 9999 + "\n") == [("line-too-long", 2, 10001)]
    assert codes("events a,\n  b  # " + "x" * 9999 + "\n") == [("line-too-long", 2, 10001)]


def test_the_bounds_are_in_the_language_reference():
    text = (Path(__file__).parents[1] / "docs" / "language.md").read_text(encoding="utf-8")
    for code in ("line-too-long", "statement-too-long", "too-deep", "too-many-items",
                 "number-too-large", "too-many-points"):
        assert f"`{code}`" in text


# --- the defects the fuzz harness found, each with its minimal input -------------------------

def test_a_number_of_thousands_of_digits_is_a_located_error():
    # was: ValueError (Exceeds the limit (4300 digits) for integer string conversion) from
    # check, check --format json, fmt --check and the formatter
    text = "events a\nwhen a then +" + "9" * 5000 + "\n"
    [problem] = dsl.analyze(text).diagnostics
    assert (problem.code, str(problem.span)) == ("number-too-large", "<rules>:2:13")
    assert problem.message == ("the number +99999999999...999999 has 5,000 digits before its "
                               "decimal point; a number has at most 15")
    json.dumps(problem.to_dict())
    with pytest.raises(dsl.RulesError, match=r"number-too-large"):
        format_source(text)


def test_a_condition_nested_past_what_python_compiles_is_refused_by_check():
    # was: check clean, then SyntaxError (too many nested parentheses) or MemoryError when the
    # compiler wrote the condition out as Python source
    text = ("events a\nstages Name, Lead\nstage Name -> Lead if "
            + "(score > 1 or (fit > 2 and " * 40 + "fit > 1" + "))" * 40 + "\n")
    assert ("too-deep", 3, 456) in codes(text)


def test_the_compiler_writes_deep_conditions_it_is_given_as_closures():
    # check stops at 32 levels; a tree built by hand may nest deeper and still compiles
    cond = ast.Compare(ast.Ref(("score",)), ">", ast.Literal(1))
    for _ in range(60):
        cond = ast.And((ast.Compare(ast.Ref(("fit",)), ">", ast.Literal(1)), ast.Not(cond)))
    predicate = compile_condition(cond, Scope((), {}, (), False))
    assert predicate(types.SimpleNamespace(score=5, fit=2)) is True
    assert predicate(types.SimpleNamespace(score=0, fit=2)) is False


def test_a_json_row_nested_thousands_deep_is_a_reject():
    # was: RecursionError (maximum recursion depth exceeded while decoding a JSON array)
    data = ('{"lead_id": "L1", "type": "a", "ts": "2026-01-05", "x": ' + "[" * 100_000
            + "]" * 100_000 + "}\n").encode()
    with sources.Source("-", ingest.EVENT_COLUMNS, ingest.EVENT_NESTED, "jsonl",
                        stdin=io.BytesIO(data)) as source:
        [bad] = list(source.rows())
    assert (bad.line, bad.reason) == (1, "invalid JSON: nested too deeply; a row is one object "
                                         "of values")


def test_a_superscript_count_in_a_rule_test_is_not_a_crash():
    # was: ValueError (invalid literal for int() with base 10: '2²'): '²'.isdigit() is True
    text = ('rules "b2b.rules"\n\ntest "t"\n  as of 2026-03-10\n'
            '  expect fired 2\u00b2 times when a then +1\n'
            '  expect fired ' + "9" * 5000 + ' times when a then +1\n')
    _, diagnostics = analyze_tests(text, "t.tests")
    assert [(d.code, d.span.line, d.message) for d in diagnostics] == [
        ("bad-value", 6, "a count of 5000 digits is more than a test's events can fire")]


def test_thousands_of_grade_lines_are_checked_in_linear_time():
    # was: 8,000 grade lines took 51 s in `check` (each line compared with every earlier one)
    down = "fields x: number\n" + "".join(f"grade A if x > {i}\n" for i in range(3000, 0, -1))
    assert dsl.analyze(down).diagnostics == ()
    up = "fields x: number\n" + "".join(f"grade A if x >= {i}\n" for i in range(3000))
    found = dsl.analyze(up).diagnostics
    assert len(found) == 2999 and {d.message for d in found} == {
        "this grade line can never be chosen: every lead it matches is already taken by line 2"}


def test_the_first_covering_line_is_named_as_before():
    text = ("fields x: number\ngrade A if x > 5\ngrade A if x > 9\ngrade B if x > 3\n"
            "grade C if x >= 3\ngrade D if x > 4\ngrade D if x >= 3\ngrade D otherwise\n"
            "grade D if x > 100\n")
    assert [(d.span.line, d.message[-6:]) for d in dsl.analyze(text).diagnostics] == [
        (3, "line 2"), (6, "line 4"), (7, "line 5"), (9, "line 2")]


def test_thousands_of_rules_compile_in_linear_time():
    # was: 20,000 rules took 81 s to compile (the text of each rule split the whole file again)
    text = "events a\n" + "".join(f"when a where x = {i} then +1\n" for i in range(5000))
    rules = compile_ruleset(dsl.analyze(text).raise_for_errors())
    assert len(rules.scoring["a"]) == 5000 and rules.scoring["a"][-1].rule.line == 5001


def test_many_stages_and_moves_are_checked_and_compiled_in_linear_time():
    stages = ", ".join(f"S{i}" for i in range(1000))
    moves = "".join(f"stage S{i % 999} -> S{i % 999 + 1} if score > {i}\n" for i in range(5000))
    ruleset = dsl.analyze(f"events a\nstages {stages}\n{moves}").raise_for_errors()
    rules = compile_ruleset(ruleset)
    assert [m.target for m in rules.moves["S0"].moves] == ["S1"] * 6


def test_the_largest_points_over_many_events_fit_the_store(tmp_path):
    # was: OverflowError (Python int too large to convert to SQLite INTEGER) in a run
    text = "events a\nscore between -999999999999999 and 999999999999999\nwhen a then +1000000\n"
    rules = compile_ruleset(dsl.analyze(text).raise_for_errors())
    events = [Event(f"e{i}", "L1", "a", T0 + i * DAY, {}) for i in range(300)]
    assert evaluate(rules, "L1", {}, events, T0 + 400 * DAY).score == 300_000_000
    leads, log = tmp_path / "leads.csv", tmp_path / "events.csv"
    leads.write_text("lead_id\nL1\n")
    log.write_text("event_id,lead_id,type,ts\n" + "".join(
        f"e{i},L1,a,2026-01-01T{i // 60:02d}:{i % 60:02d}:00Z\n" for i in range(300)))
    with Store(tmp_path / "s.db") as store:
        ingest.ingest(store, leads, log)
        run_rules(store, rules, T0 + 400 * DAY, full=True, workers=1)
        assert [(r["lead_id"], r["score"]) for r in store.results(rules.hash)] == [
            ("L1", 300_000_000)]


def test_walk_goes_any_depth_without_recursion():
    # every check pass walks every condition; a generator per level made that cost grow with
    # the depth, and a tree built by hand could pass Python's recursion limit
    cond = ast.Truthy(ast.Ref(("a",)))
    for _ in range(10_000):
        cond = ast.Not(cond)
    assert sum(1 for _ in walk(cond)) == 10_002
    assert [type(n).__name__ for n in walk(dsl.parse("fields a: number\nfit +1 if a = 1 or "
                                                    "not a > 2\n").statements[1])] == [
        "FitRule", "Or", "Compare", "Ref", "Literal", "Not", "Compare", "Ref", "Literal"]


@pytest.mark.parametrize("line, expected", [
    ('when a where t = "#1" then +1  # note', ('when a where t = "#1" then +1  ', 0)),
    ('fit +1 if t in ["a\\"(", "b"', ('fit +1 if t in ["a\\"(", "b"', 1)),
    ('alert "never closed # (', ('alert "never closed # (', 0)),
    ("stage A -> B if (a or (b and c)) ]", ("stage A -> B if (a or (b and c)) ]", -1)),
    ("# only a comment (", ("", 0)),
])
def test_code_part_splits_off_the_comment_and_counts_brackets(line, expected):
    assert code_part(line) == expected


def test_check_and_fmt_report_a_huge_number_with_its_place(tmp_path):
    # the commands that raised ValueError on it: check, check --format json, fmt --check
    from clitools import invoke

    path = tmp_path / "huge.rules"
    path.write_text("events a\nwhen a then +" + "9" * 5000 + "\n", encoding="utf-8")
    checked = invoke("check", "--format", "json", path)
    [problem] = json.loads(checked.stdout)["files"][0]["diagnostics"]
    assert (checked.exit_code, problem["code"], problem["line"], problem["col"]) == (
        1, "number-too-large", 2, 13)
    assert invoke("check", path).exit_code == 1
    formatted = invoke("fmt", "--check", path)
    assert formatted.exit_code == 1 and "error[number-too-large]" in formatted.stderr
