"""The funnel (reached) view: how many leads ever entered each stage or a later one, with
next-step and cumulative conversion; and the strict variant, leads that passed through every
stage in order."""

from __future__ import annotations

from leadrules.engine.report.figure import Figure, columns, share
from leadrules.engine.report.scope import Scope, stage_index
from leadrules.engine.scoring.compiler import DISQUALIFIED

COLUMNS = columns(("group", "group", "text"), ("stage", "stage", "text"),
                  ("reached", "reached (any stages)"), ("next_step", "of the stage before", "pct"),
                  ("cumulative", "of the first stage", "pct"),
                  ("in_order", "reached (all stages)"), ("in_order_cumulative",
                                                         "all stages: of the first", "pct"))


def cohort_filter(scope: Scope) -> str:
    """The leads a funnel counts: those whose entry into the funnel (move 0) falls in the period
    when one was given; every lead otherwise, those without a date too."""
    if not scope.given:
        return "1"
    start = -(1 << 62) if scope.start is None else scope.start
    return (f"lead_id IN (SELECT lead_id FROM stage_moves WHERE ruleset = {int(scope.key)} "
            f"AND seq = 0 AND ts >= {int(start)} AND ts < {int(scope.end)})")


def reached_rows(scope: Scope) -> list[dict]:
    """Per group and stage: leads that reached it (any stages), and in order (all stages)."""
    depth: dict[tuple[str, str], dict[int, list[int]]] = {}
    for grp, kind, level, n in scope.rows(f"""
            WITH firsts AS (SELECT lead_id, grp, {stage_index(scope, 'stage')} AS ix, s
                       FROM report_firsts WHERE {cohort_filter(scope)}),
            reach AS (SELECT lead_id, grp, max(ix) AS deepest FROM firsts
                      WHERE ix IS NOT NULL GROUP BY lead_id),
            steps AS (SELECT lead_id, grp, ix, s, lag(ix, 1, -1) OVER w AS pi,
                          lag(s, 1, -1) OVER w AS ps
                      FROM firsts WHERE ix IS NOT NULL
                      WINDOW w AS (PARTITION BY lead_id ORDER BY ix)),
            strict AS (SELECT lead_id, grp, coalesce(min(CASE WHEN ix != pi + 1 OR s <= ps
                           THEN pi + 1 END), max(ix) + 1) - 1 AS deepest
                       FROM steps GROUP BY lead_id)
            SELECT grp, 'any', deepest, count(*) FROM reach GROUP BY grp, deepest
            UNION ALL SELECT grp, 'all', deepest, count(*) FROM strict GROUP BY grp, deepest
            UNION ALL SELECT grp, 'dq', 0, count(DISTINCT lead_id) FROM firsts
                WHERE ix IS NULL GROUP BY grp"""):
        counts = depth.setdefault(grp, {"any": [0] * len(scope.stages),
                                        "all": [0] * len(scope.stages), "dq": [0]})
        if level >= 0:
            counts[kind][level] += n
    rows = []
    for grp in sorted(depth) or ["all"]:
        counts = depth.get(grp) or {"any": [0] * len(scope.stages),
                                    "all": [0] * len(scope.stages), "dq": [0]}
        rows.extend(_stage_rows(scope, grp, counts))
    return rows


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

