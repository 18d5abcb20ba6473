"""The conversion (cohort) view: the leads that entered stage X in each period, and the share
of them that reached stage Y by the run's as-of, and within N days of entering X."""

from __future__ import annotations

from leadrules.engine.report.figure import Figure, columns, share
from leadrules.engine.report.scope import DAY, Scope, bucket_sql, group_by, quote

COLUMNS = columns(("period", "entered in", "text"), ("group", "group", "text"),
                  ("entered", "entered"), ("reached", "reached"), ("rate", "conversion", "pct"),
                  ("within", "within"), ("within_rate", "conversion within", "pct"))


def stages_of(scope: Scope) -> tuple[str, str]:
    """X and Y: --cohort and --target, by default the first and the last stage."""
    return scope.cohort or scope.stages[0], scope.target or scope.stages[-1]


def first_after(scope: Scope, source: str, target: str) -> str:
    """SQL over `report_leads` for a lead's first entry into `target` at or after its first
    dated entry into `source` (NULL if none). Most leads enter `target` first after `source`;
    for the others (a recycle) its moves are looked up by key."""
    x, y = scope.stages.index(source), scope.stages.index(target)
    return f"""(CASE WHEN t{y} >= t{x} THEN t{y} WHEN t{y} IS NULL OR t{x} IS NULL THEN NULL ELSE
            (SELECT min(m.ts) FROM stage_moves m WHERE m.ruleset = {int(scope.key)}
             AND m.lead_id = report_leads.lead_id AND m.to_stage = {quote(target)}
             AND m.ts >= t{x}) END)"""


def pair_ctes(scope: Scope, source: str, target: str, leads: str = "1",
              grouped: bool = True) -> str:
    """A CTE `pairs`: per lead, its group (grp), its first dated entry into `source` (t) and
    its first entry into `target` at or after that (ty, NULL if none); `leads` filters the
    leads, and without `grouped` every lead is in the group 'all'."""
    x = scope.stages.index(source)
    group = "grp" if grouped else "'all'"
    return f"""pairs AS (SELECT lead_id, {group} AS grp, t{x} AS t,
        {first_after(scope, source, target)} AS ty
        FROM report_leads WHERE t{x} IS NOT NULL AND {leads})"""


def cohort_rows(scope: Scope) -> list[dict]:
    """Per entry period and group: entered X, reached Y, and within --within of entering."""
    source, target = stages_of(scope)
    period = scope.period or "month"
    start = -(1 << 62) if scope.start is None else scope.start
    within = scope.within if scope.within is not None else 0
    # per day first, then per period: the label of a period is computed once per day
    day = "(t / 1000000 - ((t / 1000000) % 86400 + 86400) % 86400)"  # its midnight, in s
    rows = []
    for label, grp, entered, reached, fast in scope.rows(f"""
            WITH {pair_ctes(scope, source, target)},
            days AS (SELECT {day} AS day, grp, count(*) AS n, count(ty) AS reached,
                         count(*) FILTER (WHERE ty - t <= ?) AS fast
                     FROM pairs WHERE t >= ? AND t < ? {group_by(scope, 'day')})
            SELECT {bucket_sql(period, '(day * 1000000)')} AS label, grp, sum(n), sum(reached),
                sum(fast)
            FROM days GROUP BY label, grp ORDER BY label, grp""", (within, start, scope.end)):
        row = dict(period=label, group=grp, entered=entered, reached=reached,
                   rate=share(reached, entered))
        if scope.within is not None:
            row.update(within=fast, within_rate=share(fast, entered))
        rows.append(row)
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The conversion view as one figure."""
    source, target = stages_of(scope)
    shown = tuple(c for c in COLUMNS if (c.key != "group" or scope.by)
                  and (not c.key.startswith("within") or scope.within is not None))
    within = "" if scope.within is None else f", and within {scope.within // DAY} days"
    return [Figure("conversion", f"Conversion: leads that entered {source}, by "
                   f"{scope.period or 'month'}, and how many reached {target} by the as-of"
                   f"{within}", shown, tuple(cohort_rows(scope)), chart="cohort")]
