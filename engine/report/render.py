"""A report's figures as text for a terminal, csv, json or markdown; html is in html.py."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from leadrules.engine.events import format_timestamp
from leadrules.engine.report.figure import Column, Figure
from leadrules.engine.report.scope import Scope, day_text
from leadrules.engine.tables import BAR_WIDTH, table

# The column whose bars text draws, per chart kind
BARS = {"funnel": "reached", "cohort": "rate"}


def cell(column: Column, row: dict) -> str:
    """A value as people read it: 1,234 / 12.5% / 3.2 (days, hours); empty for none."""
    value = row.get(column.key)
    if value is None:
        return ""
    kind = column.kind
    if kind == "value":
        kind = "pct" if row.get("percent") else "number"
    if kind == "count":
        return f"{value:,}"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind in ("days", "hours") or (kind == "number" and isinstance(value, float)):
        return f"{value:,.1f}"
    return f"{value:,}" if kind == "number" else str(value)


def text(scope: Scope, figures: Sequence[Figure]) -> str:
    """Every figure as a titled table, the run and the period stated at the top."""
    parts = [scope.describe()]
    for figure in figures:
        headers = [c.header for c in figure.columns]
        rows = [[cell(c, r) for c in figure.columns] for r in figure.rows]
        bar = BARS.get(figure.chart)
        if bar is not None:
            widest = max((r.get(bar) or 0 for r in figure.rows), default=0) or 1
            headers.append("")
            for cells, r in zip(rows, figure.rows):
                cells.append("#" * round(BAR_WIDTH * (r.get(bar) or 0) / widest))
        body = table(headers, rows) if rows else "(nothing to show)"
        notes = "".join(f"\nNote: {n}" for n in figure.notes)
        parts.append(f"{figure.title}\n{body}{notes}")
    return "\n\n".join(parts) + "\n"


def markdown(scope: Scope, figures: Sequence[Figure]) -> str:
    """Every figure as a markdown table, for a pull request or a wiki."""
    parts = [f"**{scope.describe()}**"]
    for figure in figures:
        lines = [f"### {figure.title}", "",
                 "| " + " | ".join(c.header for c in figure.columns) + " |",
                 "|" + "|".join("---:" if c.kind not in ("text",) else "---"
                                for c in figure.columns) + "|"]
        lines += ["| " + " | ".join(cell(c, r).replace("|", "\\|") or "–"
                                    for c in figure.columns) + " |" for r in figure.rows]
        lines += [f"\n_{n}_" for n in figure.notes]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _raw(value):
    return round(value, 4) if isinstance(value, float) else value


def csv_text(figures: Sequence[Figure]) -> str:
    """One CSV table per figure; with several, each starts with a `# view: title` line and
    they are separated by a blank line."""
    out = io.StringIO()
    for i, figure in enumerate(figures):
        if len(figures) > 1:
            out.write(("\n" if i else "") + f"# {figure.view}: {figure.title}\n")
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in figure.columns])
        writer.writerows([["" if r.get(c.key) is None else _raw(r.get(c.key))
                           for c in figure.columns] for r in figure.rows])
    return out.getvalue()


def to_data(scope: Scope, figures: Sequence[Figure]) -> dict:
    """The report as plain data: the run, the period, and every figure's rows."""
    start = scope.start if scope.start is not None else scope.first_entry()
    return {
        "ruleset": scope.rules.name, "rules": scope.rules.path, "run": scope.run["run_id"],
        "as_of": format_timestamp(scope.as_of),
        "period": {"from": None if start is None else day_text(start),
                   "to": day_text(scope.at), "whole_history": not scope.given,
                   "series": scope.period, "by": scope.by},
        "figures": [{"view": f.view, "title": f.title,
                     "columns": [{"key": c.key, "header": c.header, "kind": c.kind}
                                 for c in f.columns],
                     "rows": [{c.key: _raw(r.get(c.key)) for c in f.columns} for r in f.rows],
                     "notes": list(f.notes)} for f in figures]}


def json_text(scope: Scope, figures: Sequence[Figure]) -> str:
    return json.dumps(to_data(scope, figures), indent=2, ensure_ascii=False) + "\n"
