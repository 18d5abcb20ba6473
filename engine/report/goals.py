"""The goals view: each `goal` line of the ruleset measured over the run's stage history, with
the share of its period elapsed, a projection at the current pace, and a status."""

from __future__ import annotations

import datetime as dt
import json
import operator
from typing import Iterable, Iterator

import attrs

from leadrules.dsl import ast
from leadrules.dsl.check import Scope as NameScope
from leadrules.dsl.check import walk
from leadrules.engine.report.cohort import pair_ctes
from leadrules.engine.report.figure import Figure, columns, share
from leadrules.engine.report.scope import DAY, Scope, micros, ordered_stages, quote
from leadrules.engine.report.velocity import pair_days
from leadrules.engine.scoring.compiler import DISQUALIFIED, compile_condition

STATUSES = ("achieved", "on track", "behind", "missed", "not started")
# --fail-on: the statuses that fail for each choice
FAILING = {"behind": ("behind", "missed"), "missed": ("missed",)}
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt,
        "=": operator.eq, "!=": operator.ne}

COLUMNS = columns(("goal", "goal", "text"), ("measure", "measure", "text"),
                  ("target", "target", "text"), ("period", "period", "text"),
                  ("actual", "actual", "value"), ("elapsed", "period elapsed", "pct"),
                  ("projected", "projected", "value"), ("status", "status", "text"))


@attrs.frozen
class GoalResult:
    """One goal measured: `actual` (a count, a share 0..1 for conversions, days for medians;
    None when nothing was measured), and what it means."""

    goal: ast.Goal
    actual: float | int | None
    elapsed: float | None
    projected: float | int | None
    status: str


def measure_text(goal: ast.Goal) -> str:
    # the goal's parts as written; dsl.write, not dsl.format, which imports the parser (lark)
    from leadrules.dsl.write import write

    text = write(goal.measure)
    return text + (f" where {write(goal.where)}" if goal.where is not None else "")


def target_text(goal: ast.Goal) -> str:
    return f"{goal.op} {goal.target}{'%' if goal.percent else ''}"


def period_text(goal: ast.Goal) -> str:
    if goal.start is not None:
        return f"{goal.start} .. {goal.end}"
    return f"by {goal.end}" if goal.end is not None else "whole history"


def evaluate_goals(scope: Scope) -> list[GoalResult]:
    """Every goal of the ruleset, in file order."""
    return [evaluate_goal(scope, goal) for goal in scope.ruleset.of(ast.Goal)]


def evaluate_goal(scope: Scope, goal: ast.Goal) -> GoalResult:
    """A goal's actual value over its period (up to the as-of), and its status."""
    plain = attrs.evolve(scope, by=None)
    first = scope.first_entry()
    start = micros(goal.start) if goal.start is not None else (first if first is not None
                                                              else scope.as_of)
    end = micros(goal.end + dt.timedelta(days=1)) if goal.end is not None else None
    stop = min(end, scope.as_of + 1) if end is not None else scope.as_of + 1
    if scope.as_of < start:
        return GoalResult(goal, None, 0.0, None, "not started")
    leads = _lead_filter(plain, goal)
    actual = _actual(plain, goal, leads, start, stop)
    elapsed = 1.0 if end is None else min(1.0, (stop - start) / (end - start))
    counting = isinstance(goal.measure, ast.Entered)
    projected = (actual / elapsed if counting and elapsed else actual)
    return GoalResult(goal, actual, elapsed, projected,
                      _status(goal, actual, projected, over=end is not None and stop == end,
                              counting=counting))


def _status(goal: ast.Goal, actual, projected, over: bool, counting: bool) -> str:
    target = goal.target / 100 if goal.percent else goal.target
    holds = _OPS[goal.op]
    if actual is None:
        return "missed" if over else "behind"
    if over:
        return "achieved" if holds(actual, target) else "missed"
    if counting and goal.op in (">=", ">") and holds(actual, target):
        return "achieved"  # counts only grow: reached is reached
    if counting and goal.op in ("<=", "<", "=") and not holds(actual, target) and (
            goal.op != "=" or actual > target):
        return "missed"  # and exceeded is exceeded
    return "on track" if holds(projected, target) else "behind"


def _actual(scope: Scope, goal: ast.Goal, leads: str, start: int, stop: int):
    m = goal.measure
    if isinstance(m, ast.Entered):
        ((n,),) = scope.rows("SELECT count(DISTINCT lead_id) FROM report_stays WHERE ix = ? "
                             f"AND entered >= ? AND entered < ? AND {leads}",
                             (ordered_stages(scope).index(m.stage.text), start, stop))
        return n
    if isinstance(m, ast.LeadsIn):
        ((n,),) = scope.rows("SELECT count(*) FROM report_stays WHERE ix = ? AND entered < ? "
                             f"AND (left_at IS NULL OR left_at >= ?) AND {leads}",
                             (ordered_stages(scope).index(m.stage.text), stop, stop))
        return n
    if isinstance(m, ast.Conversion):
        ((entered, reached),) = scope.rows(
            f"WITH {pair_ctes(scope, m.source.text, m.target.text, leads, grouped=False)} "
            "SELECT count(*), count(ty) FROM pairs WHERE t >= ? AND t < ?", (start, stop))
        return share(reached, entered)
    pair = (m.source.text, m.target.text)
    stats = pair_days(scope, [pair], leads, start, stop, grouped=False)[pair]
    return stats["all"]["median"] if "all" in stats else None


def _lead_filter(scope: Scope, goal: ast.Goal) -> str:
    """SQL limiting a goal to the leads its `where` holds for ("1" without one): they are put
    in the working table `report_goal_leads`."""
    if goal.where is None:
        return "1"
    matches = compile_condition(goal.where, NameScope.of(scope.ruleset), scope.ruleset)
    nodes = list(walk(goal.where))
    fields = sorted({n.path[0] for n in nodes if isinstance(n, ast.Ref)}
                    & set(scope.rules.fields))
    reads = Reads(fields, results=any(isinstance(n, ast.Ref) and n.path[0] not in fields
                                      for n in nodes),
                  stay=any(isinstance(n, ast.DaysInStage) for n in nodes))
    scope.store.scratch("DROP TABLE IF EXISTS temp.report_goal_leads;\n"
                        "CREATE TEMP TABLE report_goal_leads (lead_id TEXT PRIMARY KEY);\n")
    # listed first: the connection cannot insert while it reads (sqlite3 crashes)
    chosen = [(lead_id,) for lead_id, view in _lead_views(scope, reads, _measured(goal))
              if matches(view)]
    scope.store.scratch("INSERT INTO report_goal_leads VALUES (?)", chosen)
    return "lead_id IN (SELECT lead_id FROM report_goal_leads)"


@attrs.frozen
class Reads:
    """What a goal's `where` reads of a lead: profile fields, the run's results (score, fit,
    grade, band, priority, stage, bant), the time it entered its stage (days in stage)."""

    fields: list[str]
    results: bool
    stay: bool


class LeadView:
    """A lead as a goal's `where` reads it: the run's stored results and the profile fields
    the condition names."""

    __slots__ = ("profile", "score", "fit", "stage", "_bant", "_grade", "_band", "now",
                 "entered_at", "notes")

    @property
    def bant(self) -> dict:
        if isinstance(self._bant, str):  # parsed when read: most conditions never read it
            self._bant = json.loads(self._bant)
        return self._bant

    def grade(self):
        return self._grade

    def band(self):
        return self._band

    def priority(self):
        return None if self._grade is None or self._band is None else f"{self._grade}{self._band}"

    def days_in_stage(self):
        return None if self.entered_at is None else (self.now - self.entered_at) // DAY


def _measured(goal: ast.Goal) -> str:
    """The stage a lead must have entered to count in a goal's measure at all."""
    m = goal.measure
    return m.stage.text if isinstance(m, (ast.Entered, ast.LeadsIn)) else m.source.text


def _lead_views(scope: Scope, reads: Reads, stage: str) -> Iterator[tuple[str, LeadView]]:
    """Each lead of the run that entered `stage` as a LeadView, its profile holding the
    fields the condition reads, as declared (the others are None); its results, and the time
    it entered its stage, only when the condition reads them (else None)."""
    readers = scope.rules.fields
    empty = dict.fromkeys(readers)
    extracts = "".join(f", json_extract(l.profile, {quote('$.' + f)})" for f in reads.fields)
    results = ("r.score, r.fit, r.grade, r.band, r.stage, r.bant" if reads.results
               else "NULL, NULL, NULL, NULL, NULL, NULL")
    since = ("(SELECT max(m.ts) FROM stage_moves m WHERE m.ruleset = r.ruleset "
             "AND m.lead_id = r.lead_id)" if reads.stay else "NULL")
    for lead_id, score, fit, grade, band, stage, bant, entered, *values in scope.rows(
            f"SELECT r.lead_id, {results}, {since}{extracts} "
            # CROSS JOIN: the working table (no index) outside, the keyed tables looked up
            "FROM report_leads f CROSS JOIN results r ON r.ruleset = ? "
            "AND r.lead_id = f.lead_id CROSS JOIN leads l ON l.lead_id = f.lead_id "
            f"WHERE {_entered(scope, stage)}", (scope.key,)):
        view = LeadView()
        view.profile = {**empty, **{f: readers[f](v) for f, v in zip(reads.fields, values)}}
        view.score, view.fit, view.stage = score, fit, stage
        view._bant = bant or {}
        view._grade, view._band, view.now, view.entered_at = grade, band, scope.as_of, entered
        view.notes = None
        yield lead_id, view


def _entered(scope: Scope, stage: str) -> str:
    """SQL over `report_leads f`: the lead entered `stage` (Disqualified is not a stage of the
    funnel: its own column)."""
    if stage == DISQUALIFIED:
        return "f.disqualified"
    return f"f.s{scope.stages.index(stage)} IS NOT NULL"


def goal_row(result: GoalResult) -> dict:
    goal = result.goal
    return dict(goal=goal.name, measure=measure_text(goal), target=target_text(goal),
                period=period_text(goal), actual=result.actual, elapsed=result.elapsed,
                projected=result.projected, status=result.status,
                percent=goal.percent)


def figures(scope: Scope) -> list[Figure]:
    """The goals view as one figure."""
    rows = tuple(goal_row(r) for r in evaluate_goals(scope))
    notes = () if rows else ("the rules have no goal line",)
    return [Figure("goals", "Goals", COLUMNS, rows, notes, chart="goals")]


def failing(rows: Iterable[dict], fail_on: str | None) -> list[dict]:
    """The goals whose status fails `--fail-on` (behind: behind or missed; missed: missed)."""
    return [] if fail_on is None else [r for r in rows if r["status"] in FAILING[fail_on]]

