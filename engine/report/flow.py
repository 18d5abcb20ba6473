"""The flow view: per stage and period, the balance at the start, entries, exits (forward,
backward, out of the funnel) and the balance at the end; start + in - out = end."""

from __future__ import annotations

from leadrules.engine.report.figure import Figure, columns
from leadrules.engine.report.scope import (
    Scope,
    buckets,
    ordered_stages,
    quote,
    stage_index,
    stays,
)
from leadrules.engine.scoring.compiler import DISQUALIFIED

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
    values = ", ".join(f"({quote(label)}, {i}, {a}, {b})" for i, (label, a, b) in enumerate(spans))
    found = {}
    for label, _, grp, stage, *counts in scope.rows(f"""
            WITH {stays(scope)}, spans(label, i, a, b) AS (VALUES {values}),
            moved AS (SELECT *, {stage_index(scope, 'stage')} AS ix,
                          {stage_index(scope, 'next_stage')} AS nx
                      FROM stays WHERE entered IS NOT NULL)
            SELECT label, i, grp, stage,
                count(CASE WHEN entered < a AND (left_at IS NULL OR left_at >= a) THEN 1 END),
                count(CASE WHEN entered >= a AND entered < b THEN 1 END),
                count(CASE WHEN left_at >= a AND left_at < b AND nx > ix THEN 1 END),
                count(CASE WHEN left_at >= a AND left_at < b AND nx <= ix THEN 1 END),
                count(CASE WHEN left_at >= a AND left_at < b AND next_stage = {quote(DISQUALIFIED)}
                      THEN 1 END),
                count(CASE WHEN entered < b AND (left_at IS NULL OR left_at >= b) THEN 1 END)
            FROM moved JOIN spans ON entered < b AND (left_at IS NULL OR left_at >= a)
            GROUP BY i, grp, stage"""):
        start, entered, forward, backward, out, end = counts
        found[label, grp, stage] = dict(
            period=label, group=grp, stage=stage, start=start, entered=entered,
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
