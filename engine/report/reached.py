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


def depths(scope: Scope) -> tuple[str, str]:
    """SQL over `report_leads` for a lead's deepest stage reached (its place; -1 for none), and
    the deepest it reached through every stage before it, each entered first after the one
    before (moves are numbered in time order)."""
    n = len(scope.stages)
    deepest = " ".join(f"WHEN s{i} IS NOT NULL THEN {i}" for i in reversed(range(n)))
    in_order = " ".join(f"WHEN s{i} IS NULL OR s{i} < s{i - 1} THEN {i - 1}" for i in range(1, n))
    return (f"(CASE {deepest} ELSE -1 END)",
            f"(CASE WHEN s0 IS NULL THEN -1 {in_order} ELSE {n - 1} END)")


def reached_rows(scope: Scope) -> list[dict]:
    """Per group and stage: leads that reached it (any stages), and in order (all stages)."""
    deepest, in_order = depths(scope)
    depth: dict[str, dict[str, list[int]]] = {}
    for grp, any_level, all_level, disqualified, n in scope.rows(f"""
            SELECT {group_of(scope)}, {deepest} AS deepest, {in_order} AS in_order, disqualified,
                count(*) FROM report_leads WHERE {cohort_filter(scope)}
            {group_by(scope, 'deepest', 'in_order', 'disqualified')}"""):
        counts = depth.setdefault(grp, _empty(scope))
        for kind, level in (("any", any_level), ("all", all_level)):
            if level >= 0:
                counts[kind][level] += n
        if disqualified:
            counts["dq"][0] += n
    rows = []
    for grp in sorted(depth) or ["all"]:
        rows.extend(_stage_rows(scope, grp, depth.get(grp) or _empty(scope)))
    return rows


def _empty(scope: Scope) -> dict[str, list[int]]:
    return {"any": [0] * len(scope.stages), "all": [0] * len(scope.stages), "dq": [0]}


def _stage_rows(scope: Scope, grp: str, counts: dict) -> list[dict]:
    """A group's rows: counts of deepest stages reached, summed from the bottom."""
    rows, previous, first = [], None, None
    for i, stage in enumerate(scope.stages):
        reached = sum(counts["any"][i:])
        in_order = sum(counts["all"][i:])
        first = reached if first is None else first
        first_in_order = in_order if i == 0 else rows[0]["in_order"]
        rows.append(dict(group=grp, stage=stage, reached=reached,
                         next_step=share(reached, previous), cumulative=share(reached, first),
                         in_order=in_order,
                         in_order_cumulative=share(in_order, first_in_order)))
        previous = reached
    rows.append(dict(group=grp, stage=DISQUALIFIED, reached=counts["dq"][0], next_step=None,
                     cumulative=share(counts["dq"][0], first), in_order=None,
                     in_order_cumulative=None))
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The funnel view as one figure."""
    shown = tuple(c for c in COLUMNS if c.key != "group" or scope.by)
    who = ("leads that entered the funnel in the period" if scope.given
           else "every lead of the run")
    return [Figure("funnel", f"Funnel: stages reached, of {who}", shown,
                   tuple(reached_rows(scope)), chart="funnel")]

