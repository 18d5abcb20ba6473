"""The funnel (reached) view: how many leads ever entered each stage or a later one, with
next-step and cumulative conversion; and the strict variant, leads that passed through every
stage in order."""

from __future__ import annotations

from leadrules.engine.report.figure import Figure, columns, share
from leadrules.engine.report.scope import Scope, group_by, group_of
from leadrules.engine.scoring.compiler import DISQUALIFIED

COLUMNS = columns(("group", "group", "text"), ("stage", "stage", "text"),
                  ("reached", "reached (any stages)"), ("next_step", "of the stage before", "pct"),
                  ("cumulative", "of the first stage", "pct"),
                  ("in_order", "reached (all stages)"), ("in_order_cumulative",
                                                         "all stages: of the first", "pct"))


def cohort_filter(scope: Scope) -> str:
    """The leads a funnel counts (in `report_leads`): those whose entry into the funnel falls
    in the period when one was given; every lead otherwise, those without a date too."""
    if not scope.given:
        return "1"
    start = -(1 << 62) if scope.start is None else scope.start
    return f"entry >= {int(start)} AND entry < {int(scope.end)}"


def reached_rows(scope: Scope) -> list[dict]:
    """Per group and stage: leads that reached it (any stages), and in order (all stages)."""
    n = len(scope.stages)
    levels = ", ".join(f"count(*) FILTER (WHERE {column} >= {i})"
                       for column in ("deepest", "in_order") for i in range(n))
    found = {grp: (counts[:n], counts[n:-1], counts[-1]) for grp, *counts in scope.rows(
        f"SELECT {group_of(scope)}, {levels}, count(*) FILTER (WHERE disqualified) "
        f"FROM report_leads WHERE {cohort_filter(scope)} {group_by(scope)}")}
    rows = []
    for grp in sorted(found) or ["all"]:
        rows.extend(_stage_rows(scope, grp, *found.get(grp, ([0] * n, [0] * n, 0))))
    return rows


def _stage_rows(scope: Scope, grp: str, reached: list[int], in_order: list[int],
                disqualified: int) -> list[dict]:
    """A group's rows from its leads that reached each stage or a later one, and through every
    stage up to it in order."""
    rows = []
    for i, stage in enumerate(scope.stages):
        rows.append(dict(group=grp, stage=stage, reached=reached[i],
                         next_step=share(reached[i], reached[i - 1] if i else None),
                         cumulative=share(reached[i], reached[0]), in_order=in_order[i],
                         in_order_cumulative=share(in_order[i], in_order[0])))
    rows.append(dict(group=grp, stage=DISQUALIFIED, reached=disqualified, next_step=None,
                     cumulative=share(disqualified, reached[0]), in_order=None,
                     in_order_cumulative=None))
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The funnel view as one figure."""
    shown = tuple(c for c in COLUMNS if c.key != "group" or scope.by)
    who = ("leads that entered the funnel in the period" if scope.given
           else "every lead of the run")
    return [Figure("funnel", f"Funnel: stages reached, of {who}", shown,
                   tuple(reached_rows(scope)), chart="funnel")]

