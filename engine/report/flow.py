"""The flow view: per stage and period, the balance at the start, entries, exits (forward,
backward, out of the funnel) and the balance at the end; start + in - out = end."""

from __future__ import annotations

from leadrules.engine.report.figure import Figure, columns
from leadrules.engine.report.scope import (
    Scope,
    buckets,
    ordered_stages,
    group_by,
    group_of,
)

EVER = -(1 << 62)  # the start of a period with no --from: before every entry

COLUMNS = columns(("period", "period", "text"), ("group", "group", "text"),
                  ("stage", "stage", "text"), ("start", "start"), ("in", "in"),
                  ("out_forward", "out: forward"), ("out_backward", "out: backward"),
                  ("out_funnel", "out: of the funnel"), ("out", "out"), ("end", "end"))


def windows(scope: Scope) -> list[tuple[str, int, int]]:
    """The periods of the view: one, or each --period bucket of it."""
    if scope.period is None:
        return [("all", EVER if scope.start is None else scope.start, scope.end)]
    return buckets(scope.period, scope.history_start(), scope.end)


def flow_rows(scope: Scope) -> list[dict]:
    """Every (period, group, stage) row of the flow view, in period, group and funnel order."""
    spans = windows(scope)
    places = ordered_stages(scope)
    found = {}
    for i, grp, ix, *counts in scope.rows(_counts(scope, spans)):
        start, entered, forward, backward, out, end = counts
        found[spans[i][0], grp, places[ix]] = dict(
            period=spans[i][0], group=grp, stage=places[ix], start=start, entered=entered,
            out_forward=forward, out_backward=backward, out_funnel=out,
            out=forward + backward + out, end=end)
    groups = sorted({grp for _, grp, _ in found}) or ["all"]
    rows = []
    for label, _, _ in spans:
        for grp in groups:
            for stage in ordered_stages(scope):
                row = found.get((label, grp, stage)) or dict(
                    period=label, group=grp, stage=stage, start=0, entered=0, out_forward=0,
                    out_backward=0, out_funnel=0, out=0, end=0)
                row["in"] = row.pop("entered")
                rows.append(row)
    return rows


# A stay's counts in a period [a, b) that it meets: at the start, in, out forward, backward and
# of the funnel (dq: Disqualified's place, after the stages), at the end
_COUNTS = """
    count(*) FILTER (WHERE entered < {a} AND (left_at IS NULL OR left_at >= {a})),
    count(*) FILTER (WHERE entered >= {a}),
    count(*) FILTER (WHERE left_at < {b} AND nx > ix AND nx < {dq}),
    count(*) FILTER (WHERE left_at < {b} AND nx <= ix AND ix < {dq}),
    count(*) FILTER (WHERE left_at < {b} AND nx = {dq}),
    count(*) FILTER (WHERE left_at IS NULL OR left_at >= {b})"""


def _counts(scope: Scope, spans: list[tuple[str, int, int]]) -> str:
    """SQL for the counts of each (span i, group, stage ix) of the flow view, over the stays
    that meet the span."""
    dq, group = len(scope.stages), group_of(scope)
    if len(spans) == 1:  # its bounds as constants: the stays are read in key order, unsorted
        ((_, a, b),) = spans
        return (f"SELECT 0, {group}, ix, {_COUNTS.format(a=a, b=b, dq=dq)} FROM report_stays "
                f"WHERE entered < {b} AND (left_at IS NULL OR left_at >= {a}) AND ix <= {dq} "
                f"{group_by(scope, 'ix')}")
    values = ", ".join(f"({i}, {a}, {b})" for i, (_, a, b) in enumerate(spans))
    return (f"WITH spans(i, a, b) AS (VALUES {values}) "
            f"SELECT i, {group}, ix, {_COUNTS.format(a='a', b='b', dq=dq)} FROM report_stays "
            "JOIN spans ON entered < b AND (left_at IS NULL OR left_at >= a) "
            f"WHERE ix <= {dq} {group_by(scope, 'ix', 'i')}")


def undated(scope: Scope) -> int:
    """Leads whose entry into the funnel has no date (they have no event)."""
    ((n,),) = scope.rows("SELECT count(*) FROM stage_moves WHERE ruleset = ? AND seq = 0 "
                         "AND ts IS NULL", (scope.key,))
    return n


def figures(scope: Scope) -> list[Figure]:
    """The flow view as one figure."""
    rows = flow_rows(scope)
    shown = [c for c in COLUMNS if (c.key != "period" or scope.period)
             and (c.key != "group" or scope.by)]
    notes = []
    if n := undated(scope):
        have = "lead has" if n == 1 else "leads have"
        notes.append(f"{n:,} {have} no event, so no dated entry into the funnel: counted in "
                     "the funnel view, not in flows")
    return [Figure("flow", "Flow: leads in, out and in each stage", tuple(shown), tuple(rows),
                   tuple(notes), chart="flow")]
