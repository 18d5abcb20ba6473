"""The SLA view: per `sla` line and owner (or --by group), the SLA entries of the period and
what became of them: met in time, met late, overdue, left first, still open; and the median
hours to the SLA's event."""

from __future__ import annotations

import attrs

from leadrules.engine.report.figure import Figure, columns, share
from leadrules.engine.report.scope import (
    HOUR,
    NONE,
    Scope,
    bucket_sql,
    group_sql,
    quote,
    summary,
)

COLUMNS = columns(("rule", "sla", "text"), ("period", "began in", "text"),
                  ("group", "owner", "text"), ("entries", "entries"),
                  ("due", "due"), ("met", "met in time"), ("late", "met late"),
                  ("overdue", "overdue"), ("left", "left first"), ("open", "still open"),
                  ("in_time", "in time", "pct"), ("median_hours", "median hours to event",
                                                  "hours"))


def sla_cte(scope: Scope) -> str:
    """A CTE `slas`: the SLA entries that began in the period, each with its rule and --period
    bucket (`rule`, joined by the character 31), its group and the time
    its event came (`met_at`): in time, or late (after the deadline, before the lead left the
    stage, by the as-of), looked up in the stored events."""
    events = " ".join(f"WHEN {quote(rule.rule.label)} THEN {quote(rule.event)}"
                      for group in scope.rules.slas.values() for rule in group) or "WHEN 0 THEN 0"
    by = scope.by or "owner"
    group, joins = group_sql(attrs.evolve(scope, by=by), "s.lead_id")
    start = -(1 << 62) if scope.start is None else scope.start
    return f"""slas AS (
    SELECT s.rule || char(31) || {bucket_sql(scope.period, 's.entered_at')} AS rule,
        {group} AS grp, s.entered_at, s.due, s.outcome,
        CASE WHEN s.outcome = 'met' THEN s.decided_at
             WHEN s.outcome = 'overdue' THEN (
                SELECT min(e.ts) FROM events e WHERE e.lead_id = s.lead_id
                AND e.type = (CASE s.rule {events} END) AND e.ts > s.due AND e.ts <= {scope.as_of}
                AND e.ts < coalesce((SELECT min(m.ts) FROM stage_moves m
                    WHERE m.ruleset = s.ruleset AND m.lead_id = s.lead_id AND m.ts > s.due),
                    {scope.as_of + 1})) END AS met_at
    FROM sla s {joins}
    WHERE s.ruleset = {int(scope.key)} AND s.entered_at >= {int(start)}
        AND s.entered_at < {int(scope.end)})"""


def sla_rows(scope: Scope) -> list[dict]:
    """Per SLA line and group, and per line over all groups (group "(all)")."""
    counts = """count(*), count(CASE WHEN outcome = 'met' THEN 1 END),
        count(CASE WHEN outcome = 'overdue' AND met_at IS NOT NULL THEN 1 END),
        count(CASE WHEN outcome = 'overdue' AND met_at IS NULL THEN 1 END),
        count(CASE WHEN outcome = 'left' THEN 1 END),
        count(CASE WHEN outcome = 'pending' THEN 1 END),
        group_concat(met_at - entered_at) FILTER (WHERE met_at IS NOT NULL)"""
    rows = []
    for key, grp, entries, met, late, overdue, left, pending, hours in scope.rows(
            f"WITH {sla_cte(scope)} SELECT rule, grp, {counts} FROM slas GROUP BY rule, grp "
            f"UNION ALL SELECT rule, '(all)', {counts} FROM slas GROUP BY rule"):
        due = met + late + overdue
        rule, period = key.split("\x1f")
        rows.append(dict(rule=rule, period=period, group=grp, entries=entries, due=due, met=met,
                         late=late, overdue=overdue, left=left, open=pending,
                         in_time=share(met, due),
                         median_hours=summary(hours, HOUR)["median"] if hours else None))
    rows.sort(key=lambda r: (r["rule"], r["period"], r["group"] == "(all)", r["group"] == NONE,
                             r["group"]))
    return rows


def figures(scope: Scope) -> list[Figure]:
    """The SLA view as one figure."""
    shown = tuple(c if c.key != "group" else attrs.evolve(c, header=scope.by or "owner")
                  for c in COLUMNS if c.key != "period" or scope.period)
    notes = () if scope.rules.slas else ("the rules have no sla line",)
    series = f", by {scope.period}" if scope.period else ""
    return [Figure("sla", f"SLAs: entries that began in the period{series}, and what became "
                   "of them",
                   shown, tuple(sla_rows(scope)), notes, chart="sla")]

