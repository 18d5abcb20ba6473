"""The velocity view: days in each stage for the stays that ended in the period (median,
quartiles, p90, mean), the age of the stays still open at its end, and the days from entering
one stage to entering the next."""

from __future__ import annotations

import attrs

from leadrules.engine.report.cohort import first_after
from leadrules.engine.report.figure import Figure, columns
from leadrules.engine.report.scope import (
    QUANTILES,
    Scope,
    ordered_stages,
    group_by,
    group_of,
    summary,
)

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
    dq, places = len(scope.stages), ordered_stages(scope)
    done, still = {}, {}
    for grp, ix, finished, ages in scope.rows(
            f"SELECT {group_of(scope)}, ix, "
            "group_concat(left_at - entered) FILTER (WHERE left_at >= ?1 AND left_at < ?2), "
            f"group_concat({scope.at} - entered) FILTER (WHERE entered < ?2 AND ix < {dq} "
            "AND (left_at IS NULL OR left_at >= ?2)) "
            f"FROM report_stays WHERE ix <= {dq} {group_by(scope, 'ix')}",
            (_start(scope), scope.end)):
        if finished is not None:
            done[grp, places[ix]] = summary(finished)
        if ages is not None:
            still[grp, places[ix]] = summary(ages)
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


def pair_days(scope: Scope, pairs: list[tuple[str, str]], leads: str = "1",
              start: int | None = None, end: int | None = None,
              grouped: bool = True) -> dict[tuple[str, str], dict[str, dict]]:
    """Per pair (source, target) and group: n, mean and quantiles of the days from a lead's
    first entry into `source` to its first entry into `target` after it, for the leads
    entering `target` in [start, end); every pair from one scan of `report_leads`."""
    start = _start(scope) if start is None else start
    end = scope.end if end is None else end
    scope = scope if grouped else attrs.evolve(scope, by=None)
    days = []
    for source, target in pairs:
        ty = first_after(scope, source, target)
        days.append(f"group_concat({ty} - t{scope.stages.index(source)}) "
                    f"FILTER (WHERE {ty} >= {int(start)} AND {ty} < {int(end)})")
    entered = " OR ".join(sorted({f"t{scope.stages.index(x)} IS NOT NULL" for x, _ in pairs}))
    found: dict[tuple[str, str], dict[str, dict]] = {pair: {} for pair in pairs}
    for group, *texts in scope.rows(f"SELECT {group_of(scope)}, {', '.join(days)} "
                                    f"FROM report_leads WHERE ({entered}) AND {leads} "
                                    f"{group_by(scope)}"):
        for pair, text in zip(pairs, texts):
            if text is not None:
                found[pair][group] = summary(text)
    return found


def pair_rows(scope: Scope) -> list[dict]:
    rows = []
    for (source, target), stats in pair_days(scope, pairs(scope)).items():
        for group, values in sorted(stats.items()):
            rows.append(dict(group=group, source=source, target=target, **values))
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The velocity view: time in stage, and time between stages."""
    return stay_figures(scope) + pair_figures(scope)


def stay_figures(scope: Scope) -> list[Figure]:
    """Time in stage (from report_stays)."""
    return [Figure("velocity", "Velocity: days in stage (stays that ended in the period; "
                   "open stays at its end)", _shown(scope, STAY_COLUMNS),
                   tuple(stay_rows(scope)), chart="velocity")]


def pair_figures(scope: Scope) -> list[Figure]:
    """Time between stages (from report_leads)."""
    return [Figure("velocity_pairs", "Velocity: days from entering a stage to entering a later "
                   "one (leads entering the later stage in the period)",
                   _shown(scope, PAIR_COLUMNS), tuple(pair_rows(scope)))]


def _shown(scope: Scope, cols: tuple) -> tuple:
    return tuple(c for c in cols if c.key != "group" or scope.by)
