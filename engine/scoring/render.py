"""What the scoring commands print: a run's mode and changes, the funnel, and lists of leads."""

from __future__ import annotations

from typing import Iterable, Sequence

from leadrules.engine.scoring.compiler import DISQUALIFIED
from leadrules.engine.scoring.run import RunReport
from leadrules.engine.tables import BAR_WIDTH, rows_text, table

LEAD_COLUMNS = ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified",
                "owner", "label")


def run_mode(run: RunReport) -> str:
    """How much a run replayed: all leads, or which of them and why."""
    if run.mode == "full":
        return f"all {run.replayed:,} leads replayed"
    resumed = f" ({run.resumed:,} resumed from their last event)" if run.resumed else ""
    unchanged = (f" ({run.unchanged:,} more left as they were: new events only of types no "
                 "rule reacts to, or disqualified)" if run.unchanged else "")
    return (f"{run.replayed:,} of {run.leads:,} leads replayed{resumed}: those with new events"
            f"{unchanged}, a new profile, or a timer due")


def changes(run: RunReport) -> str:
    """What changed since the previous run of the same rules, by result."""
    if run.previous is None:
        return f"first run of these rules on this store; {run.new:,} leads scored"
    parts = [f"{name} {run.changed[name]:,}" for name in
             ("score", "grade", "band", "priority", "stage", "disqualified", "owner", "label",
              "sla") if run.changed[name]]
    detail = f" ({', '.join(parts)})" if parts else ""
    return (f"since run {run.previous}: {plural(run.changed['any'], 'lead')} changed{detail}, "
            f"{run.new:,} new")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def funnel(stage_order: Sequence[str], counts: dict[str, int]) -> str:
    """Leads per stage in funnel order, Disqualified last, with a bar for each."""
    order = [*stage_order, *sorted(set(counts) - set(stage_order) - {DISQUALIFIED})]
    if counts.get(DISQUALIFIED):
        order.append(DISQUALIFIED)
    total = sum(counts.values()) or 1
    widest = max(counts.values(), default=0) or 1
    rows = []
    for stage in order:
        n = counts.get(stage, 0)
        rows.append((stage, n, f"{100 * n / total:.1f}%", "#" * round(BAR_WIDTH * n / widest)))
    return table(("stage", "leads", "share", ""), rows)


def leads_text(rows: Iterable[dict], output: str) -> str:
    """Leads (dicts of LEAD_COLUMNS) as text, CSV, JSON or Markdown, without a final newline."""
    return rows_text(LEAD_COLUMNS, rows, output)[:-1]


def lead_dict(result) -> dict:
    """A LeadResult's LEAD_COLUMNS, as `leads_text` takes them."""
    return {c: getattr(result, c) for c in LEAD_COLUMNS}
