"""What a report measures over: one run's stored stage history, a period, groups; and the SQL
that every view shares (stays in stages, period buckets, breakdowns, percentiles)."""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Callable, Iterable, Iterator, Sequence

import attrs

from leadrules.dsl import ast
from leadrules.dsl.check import suggest
from leadrules.dsl.errors import UsageError
from leadrules.engine.events import format_timestamp
from leadrules.engine.report import beside
from leadrules.engine.scoring.compiler import DISQUALIFIED, CompiledRuleset
from leadrules.engine.store.store import Store

DAY = 86_400_000_000
HOUR = 3_600_000_000
PERIODS = ("week", "month", "quarter")
# --by: these name result columns; any other name is a declared profile field
RESULT_GROUPS = ("owner", "label", "grade", "band", "priority")
NONE = "(none)"  # the group of leads without a value


@attrs.frozen
class Scope:
    """One report's inputs. Times are microseconds since the epoch, UTC; the period is
    [start, end), start None for "since the first entry", end at most just after the as-of."""

    store: Store
    rules: CompiledRuleset
    ruleset: ast.Ruleset  # for the goals
    run: dict
    key: int  # the ruleset's number in the store's rows
    start: int | None
    end: int
    given: bool  # whether --from or --to was given (the whole history otherwise)
    period: str | None = None  # week, month or quarter: a series
    by: str | None = None
    within: int | None = None  # --within, in microseconds
    cohort: str | None = None  # the stage a cohort entered (default: the first)
    target: str | None = None  # the stage it should reach (default: the last)
    first: int | None = None  # the earliest dated entry into a stage (make_scope finds it)
    # the process that made report_stays and measures views beside this one (see beside)
    side: beside.Beside | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def as_of(self) -> int:
        return self.run["as_of"]

    @property
    def stages(self) -> tuple[str, ...]:
        return self.rules.stages or (self.rules.first_stage,)

    @property
    def at(self) -> int:
        """The last moment of the period: balances and ages are taken then."""
        return self.end - 1

    def rows(self, sql: str, params: Sequence = ()) -> Iterator[tuple]:
        return self.store.read(sql, params)

    def first_entry(self) -> int | None:
        """The earliest dated entry into a stage: where the whole history starts."""
        return self.first

    def history_start(self) -> int:
        """The period's start, or the day of the first entry when none was given."""
        if self.start is not None:
            return self.start
        first = self.first_entry()
        return day_start(first if first is not None else self.as_of)

    def describe(self) -> str:
        """The run and the period, as every report states them at the top."""
        start = self.start if self.start is not None else self.first_entry()
        period = (f"{day_text(start)} .. {day_text(self.at)}" if start is not None
                  else "no dated history")
        whole = "" if self.given else " (the whole history)"
        return (f"\"{self.rules.name}\", run {self.run['run_id']} as of "
                f"{format_timestamp(self.as_of)}; period {period}{whole}")


def make_scope(store: Store, rules: CompiledRuleset, ruleset: ast.Ruleset, *,
               run_id: int | None = None, start: dt.date | None = None,
               end: dt.date | None = None, aside: Callable[[Scope], object] | None = None,
               **options) -> Scope:
    """A Scope for the latest run of `rules` (or run `run_id`, which must be it), checking
    every option against the ruleset and the store; bad ones are UsageErrors. `aside(scope)`,
    if given, is measured by the process that makes report_stays, if there is one: its result
    is `scope.side.result()` (see views.aside)."""
    run = _run_of(store, rules, run_id)
    key = store.ruleset_number(rules.hash)
    stop = run["as_of"] + 1 if end is None else min(micros(end + dt.timedelta(days=1)),
                                                   run["as_of"] + 1)
    begin = None if start is None else micros(start)
    if begin is not None and begin >= stop:
        raise UsageError(f"--from {start}: the period starts after it ends "
                         f"({day_text(stop - 1)}, the run's as-of or --to)")
    scope = Scope(store, rules, ruleset, run, key, begin, stop, start is not None or
                  end is not None, **options)
    _check_options(scope)
    side = prepare(scope, aside)
    ((first,),) = store.read("SELECT min(entry) FROM report_leads")
    return attrs.evolve(scope, first=first, side=side)


def _run_of(store: Store, rules: CompiledRuleset, run_id: int | None) -> dict:
    latest = store.last_run(rules.hash)
    if latest is None:
        raise UsageError(f"{store.path}: no run of {rules.path} in the store (its content "
                         f"{rules.hash[:12]}); score the leads with `leadrules run "
                         f"{rules.path}` first")
    if run_id is None or run_id == latest["run_id"]:
        return latest
    run = store.run(run_id)
    if run is None:
        raise UsageError(f"--run {run_id}: no such run in {store.path}")
    if run["ruleset_hash"] != rules.hash:
        raise UsageError(f"--run {run_id}: that run scored other rules "
                         f"({run['ruleset_path']}, content {run['ruleset_hash'][:12]})")
    raise UsageError(f"--run {run_id}: run {latest['run_id']} of the same rules has replaced "
                     f"its results; reports read the latest run of a ruleset")


def _check_options(scope: Scope) -> None:
    stages = scope.stages
    for option, stage in (("--cohort", scope.cohort), ("--target", scope.target)):
        if stage is not None and stage not in stages:
            raise UsageError(f"{option} {stage}: not a stage of {scope.rules.path}"
                             f"{_hint(stage, stages)}")
    if scope.by is not None and scope.by not in (*RESULT_GROUPS, *scope.rules.fields):
        known = (*RESULT_GROUPS, *scope.rules.fields)
        raise UsageError(f"--by {scope.by}: not a field of {scope.rules.path} nor one of "
                         f"{', '.join(RESULT_GROUPS)}{_hint(scope.by, known)}")


def _hint(word: str, known: Iterable[str]) -> str:
    hint = suggest(word, known)
    return f"; {hint}" if hint else ""


# Dates -------------------------------------------------------------------------------------

def micros(day: dt.date) -> int:
    """Midnight UTC of a date."""
    return (day - dt.date(1970, 1, 1)).days * DAY


def day_start(ts: int) -> int:
    return ts // DAY * DAY


def day_text(ts: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=ts // DAY)).isoformat()


def buckets(period: str, start: int, end: int) -> list[tuple[str, int, int]]:
    """(label, start, end) of each week (from Monday), month or quarter meeting [start, end),
    clipped to it."""
    day = dt.date(1970, 1, 1) + dt.timedelta(days=start // DAY)
    if period == "week":
        first = day - dt.timedelta(days=day.weekday())
    elif period == "month":
        first = day.replace(day=1)
    else:
        first = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    found = []
    while micros(first) < end:
        following = _next(period, first)
        found.append((bucket_label(period, first), max(micros(first), start),
                      min(micros(following), end)))
        first = following
    return found


def _next(period: str, day: dt.date) -> dt.date:
    if period == "week":
        return day + dt.timedelta(days=7)
    months = 1 if period == "month" else 3
    year, month = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + year, month + 1, 1)


def bucket_label(period: str, first: dt.date) -> str:
    if period == "week":
        return f"week of {first.isoformat()}"
    if period == "month":
        return first.strftime("%Y-%m")
    return f"{first.year}-Q{(first.month - 1) // 3 + 1}"


def bucket_sql(period: str | None, column: str) -> str:
    """SQL for the label of the bucket that the time in `column` falls in ('all' for none)."""
    moment = f"{column} / 1000000, 'unixepoch'"
    if period is None:
        return "'all'"
    if period == "week":
        return f"'week of ' || date({moment}, '-6 days', 'weekday 1')"
    if period == "month":
        return f"strftime('%Y-%m', {moment})"
    return (f"strftime('%Y', {moment}) || '-Q' || "
            f"((CAST(strftime('%m', {moment}) AS INTEGER) + 2) / 3)")


# Shared SQL --------------------------------------------------------------------------------

def prepare(scope: Scope, aside: Callable[[Scope], object] | None = None
            ) -> beside.Beside | None:
    """Make this connection's working tables for the scope, from its stored stage history
    (each from one scan of `stage_moves` in key order), which every view reads instead of it:

    - `report_leads`: one row per lead, in lead_id order: grp, `entry` (the time of its entry
      into the funnel, move 0), `disqualified`, for the i-th stage of the funnel `s{i}`, the
      number of the move that first entered it, and `t{i}`, the time of its first dated entry
      (NULL: never); and its `deepest` and `in_order` stages reached (see `depths`).
    - `report_stays`: each dated stay of a lead in a stage: `ix`, the stage's place in
      `ordered_stages` (see `stage_index`), lead_id, seq, `entered`, `left_at` (NULL while it
      lasts: a stay ends where the lead's next move begins the next one), `nx`, the place of
      the stage it left for, and grp. Keyed by (grp, ix), so that a view reads it stage by
      stage without sorting.

    The two are made at once when the store is a file: `report_stays` by a forked process
    (see `beside`), in a database attached to this connection, and that process measures
    `aside` too, if given; otherwise both in TEMP. The process, if any, is returned.
    """
    store = scope.store
    # (the temporary tables' cache as large as the store's, 64 MiB, so that they stay in it)
    store.scratch("PRAGMA temp.cache_size = -65536;\n"
                  "DROP TABLE IF EXISTS temp.report_leads;\n"
                  "DROP TABLE IF EXISTS temp.report_stays;\n")
    beside.detach(store)
    side = None
    if beside.usable(store):
        work = None if aside is None else functools.partial(_measured_aside, scope, aside)
        try:
            side = beside.Beside(store, _stays_sql(scope, beside.SCHEMA), work)
        except OSError:  # no scratch file, or no process to be had: this connection makes both
            pass
    try:
        store.scratch(_groups_sql(scope) + _leads_sql(scope))
        if side is None or not side.attach(store):
            store.scratch(_stays_sql(scope, "temp"))
            return None
        return side
    finally:
        if side is not None:
            side.close()


def _measured_aside(scope: Scope, aside: Callable[[Scope], object], store: Store) -> object:
    """`aside` of the scope in the process beside, on its own connection (its report_stays
    holds every dated entry, so also the first)."""
    ((first,),) = store.read("SELECT min(entered) FROM report_stays WHERE seq = 0")
    return aside(attrs.evolve(scope, store=store, first=first, side=None))


def _leads_sql(scope: Scope) -> str:
    group, joins = group_sql(scope)
    # FILTER, not CASE: an aggregate step skipped costs less than one given a NULL
    firsts = ", ".join(
        f"min(m.seq) FILTER (WHERE m.to_stage = {quote(stage)}) AS s{i}, "
        f"min(m.ts) FILTER (WHERE m.to_stage = {quote(stage)}) AS t{i}"
        for i, stage in enumerate(scope.stages))
    deepest, in_order = depths(scope)
    return f"""CREATE TEMP TABLE report_leads AS SELECT *, {deepest} AS deepest,
    {in_order} AS in_order FROM (
    SELECT m.lead_id, {group} AS grp, min(m.ts) FILTER (WHERE m.seq = 0) AS entry,
        count(*) FILTER (WHERE m.to_stage = {quote(DISQUALIFIED)}) > 0 AS disqualified, {firsts}
    FROM stage_moves m {joins}
    WHERE m.ruleset = {int(scope.key)} GROUP BY m.lead_id);
"""


def depths(scope: Scope) -> tuple[str, str]:
    """SQL over the columns s{i} of a lead's first moves into each stage for its deepest stage
    reached (its place; -1 for none), and the deepest it reached through every stage before
    it, each entered first after the one before (moves are numbered in time order)."""
    n = len(scope.stages)
    deepest = " ".join(f"WHEN s{i} IS NOT NULL THEN {i}" for i in reversed(range(n)))
    in_order = " ".join(f"WHEN s{i} IS NULL OR s{i} < s{i - 1} THEN {i - 1}" for i in range(1, n))
    return (f"(CASE {deepest} ELSE -1 END)",
            f"(CASE WHEN s0 IS NULL THEN -1 {in_order} ELSE {n - 1} END)")


def _stays_sql(scope: Scope, schema: str) -> str:
    group, joins = group_sql(scope)
    key = "grp, " if scope.by is not None else ""
    return _groups_sql(scope) + f"""CREATE TABLE {schema}.report_stays (grp TEXT NOT NULL,
    ix INTEGER NOT NULL, lead_id TEXT NOT NULL, seq INTEGER NOT NULL, entered INTEGER NOT NULL,
    left_at INTEGER, nx INTEGER, PRIMARY KEY ({key}ix, lead_id, seq)) WITHOUT ROWID;
INSERT INTO {schema}.report_stays
    SELECT {group}, {stage_index(scope, 'm.to_stage')}, m.lead_id, m.seq, m.ts, m.left_at,
        {stage_index(scope, 'm.next_stage')}
    FROM stage_stays m {joins}
    WHERE m.ruleset = {int(scope.key)} AND m.ts IS NOT NULL;
"""


def _groups_sql(scope: Scope) -> str:
    """SQL for `report_results` in the connection's TEMP database: the run's results in the
    columns --by may name, read once. Joined as the `results` view, whose rows are in two
    tables, every row of a join would read both (the SLA view's join by owner took seconds
    at 100k leads after an incremental run)."""
    columns = ", ".join(RESULT_GROUPS)
    return f"""DROP TABLE IF EXISTS temp.report_results;
CREATE TEMP TABLE report_results (lead_id TEXT PRIMARY KEY, {columns}) WITHOUT ROWID;
INSERT INTO temp.report_results
    SELECT lead_id, {columns} FROM results WHERE ruleset = {int(scope.key)};
"""


def group_of(scope: Scope) -> str:
    """The group of a row of a working table: its grp, or 'all' without --by."""
    return "grp" if scope.by is not None else "'all'"


def group_by(scope: Scope, *keys: str) -> str:
    """GROUP BY the group of a working table's rows and `keys`: without --by every row is in
    the group 'all', which a sort would only slow down (and which `report_stays`'s key leaves
    out, so that it is read per stage in its key order)."""
    terms = (*(("grp",) if scope.by is not None else ()), *keys)
    return f"GROUP BY {', '.join(terms)}" if terms else ""


def group_sql(scope: Scope, lead: str = "m.lead_id") -> tuple[str, str]:
    """The SQL of the --by group of the lead in column `lead`, and the joins it needs."""
    if scope.by is None:
        return "'all'", ""
    if scope.by in RESULT_GROUPS:
        return (f"coalesce(CAST(g_r.{scope.by} AS TEXT), '{NONE}')",
                f"JOIN temp.report_results g_r ON g_r.lead_id = {lead}")
    path = "$." + scope.by.replace('"', "")
    return (f"coalesce(nullif(json_extract(g_l.profile, '{path}'), ''), '{NONE}')",
            f"JOIN leads g_l ON g_l.lead_id = {lead}")


def stage_index(scope: Scope, column: str) -> str:
    """SQL for the place of the stage in `column` in `ordered_stages` (0 for the first stage
    of the funnel, len(stages) for Disqualified, one more for any other name, or none)."""
    places = ordered_stages(scope)
    cases = " ".join(f"WHEN {quote(s)} THEN {i}" for i, s in enumerate(places))
    return f"(CASE {column} {cases} ELSE {len(places)} END)"


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


QUANTILES = (("p25", 0.25), ("median", 0.5), ("p75", 0.75), ("p90", 0.9))


def summary(text: str, unit: int = DAY) -> dict:
    """n, mean and QUANTILES of integer durations in microseconds joined by commas (SQLite's
    group_concat), in `unit`s; Python holds one group's values at a time (as integers: SQLite
    writes them out faster than fractions). A percentile p of n sorted values is the value at
    rank (n - 1) * p, counting from 0, interpolated between its neighbours."""
    # one text per group, split and sorted in C: streaming each value through Python was
    # three quarters of a report's time in Python
    return {name: value / unit if name != "n" else value
            for name, value in summarize(sorted(map(int, text.split(",")))).items()}


def summarize(values: Sequence[float]) -> dict:
    """n, mean and QUANTILES of sorted values (at least one)."""
    n = len(values)
    found = {"n": n, "mean": math.fsum(values) / n}
    for name, p in QUANTILES:
        position = (n - 1) * p
        low = math.floor(position)
        value = values[low]
        if low + 1 < n:
            value += (values[low + 1] - value) * (position - low)
        found[name] = value
    return found


def ordered_stages(scope: Scope, with_disqualified: bool = True) -> list[str]:
    return [*scope.stages, *([DISQUALIFIED] if with_disqualified else [])]
