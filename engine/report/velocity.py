"""The velocity view: days in each stage for the stays that ended in the period (median,
quartiles, p90, mean), the age of the stays still open at its end, and the days from entering
one stage to entering the next."""

from __future__ import annotations

from leadrules.engine.report.cohort import pair_ctes
from leadrules.engine.report.figure import Figure, columns
from leadrules.engine.report.scope import QUANTILES, Scope, quantiles, quote, stays
from leadrules.engine.scoring.compiler import DISQUALIFIED

_STATS = (("n", "stays", "count"), *((name, name, "days") for name, _ in QUANTILES),
          ("mean", "mean", "days"))
STAY_COLUMNS = columns(("group", "group", "text"), ("stage", "stage", "text"), *_STATS,
                       ("open", "still in it"), ("open_median", "their median age", "days"))
PAIR_COLUMNS = columns(("group", "group", "text"), ("source", "from", "text"),
                       ("target", "to", "text"), ("n", "leads"),
                       *((name, name, "days") for name, _ in QUANTILES), ("mean", "mean", "days"))


def _start(scope: Scope) -> int:
    return -(1 << 62) if scope.start is None else scope.start


def stay_rows(scope: Scope) -> list[dict]:
    """Per group and stage: finished stays (left in the period) and open ones (at its end)."""
    found = quantiles(scope, stays(scope), f"""
        SELECT grp, stage, (left_at - entered) FROM stays
        WHERE entered IS NOT NULL AND left_at >= ?1 AND left_at < ?2
        UNION ALL
        SELECT grp, stage || ' (open)', ({scope.at} - entered) FROM stays
        WHERE entered IS NOT NULL AND entered < ?2 AND (left_at IS NULL OR left_at >= ?2)
        AND stage != {quote(DISQUALIFIED)}""", (_start(scope), scope.end))
    done = {key: v for key, v in found.items() if not key[1].endswith(" (open)")}
    still = {(g, k[:-len(" (open)")]): v for (g, k), v in found.items() if k.endswith(" (open)")}
    groups = sorted({g for g, _ in (*done, *still)}) or ["all"]
    rows = []
    for grp in groups:
        for stage in scope.stages:
            stats = done.get((grp, stage), {})
            row = dict(group=grp, stage=stage, n=stats.get("n", 0))
            row.update({name: stats.get(name) for name, _, _ in _STATS[1:]})
            open_stats = still.get((grp, stage), {})
            row.update(open=open_stats.get("n", 0), open_median=open_stats.get("median"))
            rows.append(row)
    return rows


def pairs(scope: Scope) -> list[tuple[str, str]]:
    """Each stage and the next, and the first and the last."""
    stages = scope.stages
    found = list(zip(stages, stages[1:]))
    if len(stages) > 2:
        found.append((stages[0], stages[-1]))
    return found


def pair_days(scope: Scope, source: str, target: str, leads: str = "1", start: int | None = None,
              end: int | None = None, grouped: bool = True) -> dict[str, dict]:
    """Per group: n, mean and quantiles of the days from a lead's first entry into `source` to
    its first entry into `target` after it, for the leads entering `target` in [start, end)."""
    start = _start(scope) if start is None else start
    end = scope.end if end is None else end
    found = quantiles(scope, pair_ctes(scope, source, target, leads, grouped), """
        SELECT grp, 'pair', (ty - t) FROM pairs
        WHERE ty >= ? AND ty < ?""", (start, end))
    return {grp: stats for (grp, _), stats in found.items()}


def pair_rows(scope: Scope) -> list[dict]:
    rows = []
    for source, target in pairs(scope):
        for grp, stats in sorted(pair_days(scope, source, target).items()):
            rows.append(dict(group=grp, source=source, target=target, **stats))
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The velocity view: time in stage, and time between stages."""
    def shown(cols):
        return tuple(c for c in cols if c.key != "group" or scope.by)
    return [Figure("velocity", "Velocity: days in stage (stays that ended in the period; "
                   "open stays at its end)", shown(STAY_COLUMNS), tuple(stay_rows(scope)),
                   chart="velocity"),
            Figure("velocity_pairs", "Velocity: days from entering a stage to entering a later "
                   "one (leads entering the later stage in the period)", shown(PAIR_COLUMNS),
                   tuple(pair_rows(scope)))]
