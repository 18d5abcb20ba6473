"""The HTML report: one self-contained file (inline CSS and SVG charts; no script, no CDN, no
web font) with a chart and the table of every figure."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Callable, Sequence

from leadrules.dsl.errors import UsageError
from leadrules.engine.report import charts
from leadrules.engine.report.figure import Figure
from leadrules.engine.report.render import cell
from leadrules.engine.report.scope import Scope
from leadrules.engine.scoring.compiler import DISQUALIFIED

INSTALL = "pip install 'leadrules[report]'"

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2rem auto; max-width: 60rem;
       color: #222; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2.2rem; }
p.scope { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: .8rem; margin: .6rem 0; }
th, td { padding: .2rem .5rem; border-bottom: 1px solid #ddd; }
th { text-align: left; background: #f3f5f8; } td.n { text-align: right;
font-variant-numeric: tabular-nums; }
.status-achieved { color: #2e7d4f; font-weight: bold; } .status-missed { color: #b3302a;
font-weight: bold; } .status-behind { color: #c06a12; font-weight: bold; }
.status-on-track { color: #2f6fb0; font-weight: bold; }
p.note { color: #666; font-size: .8rem; } figure { margin: .5rem 0; }
svg { max-width: 100%; height: auto; }
"""


def require() -> None:
    """A clear error when matplotlib, which draws the charts, is not installed."""
    if not charts.available():
        raise UsageError("--html draws its charts with matplotlib, which is not installed: "
                         f"{INSTALL}")


def write(path: Path, scope: Scope, figures: Sequence[Figure]) -> None:
    """Write the report to `path` (through a temporary file, so it is whole or absent)."""
    text = page(scope, figures)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def page(scope: Scope, figures: Sequence[Figure]) -> str:
    """The whole HTML document."""
    body = []
    # goals first: whether they are on track is the first question
    for figure in sorted(figures, key=lambda f: f.view != "goals"):
        chart = _chart(figure)
        body.append(f"<section id=\"{figure.view}\"><h2>{html.escape(figure.title)}</h2>"
                    + (f"<figure>{chart}</figure>" if chart else "") + _table(figure)
                    + "".join(f"<p class=\"note\">{html.escape(n)}</p>" for n in figure.notes)
                    + "</section>")
    title = f"Funnel report: {scope.rules.name}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class=\"scope\">{html.escape(scope.describe())}"
            "</p>" + "\n".join(body) + "</body></html>\n")


def _table(figure: Figure) -> str:
    head = "".join(f"<th>{html.escape(c.header)}</th>" for c in figure.columns)
    rows = []
    for r in figure.rows:
        cells = []
        for c in figure.columns:
            value = html.escape(cell(c, r))
            if c.key == "status":
                cells.append(f"<td class=\"status-{value.replace(' ', '-')}\">{value}</td>")
            else:
                align = "" if c.kind == "text" else ' class="n"'
                cells.append(f"<td{align}>{value}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _single_group(figure: Figure) -> list[dict]:
    """The rows of a figure when they are of one group (and one period); else none: the
    charts draw the totals, and a breakdown is left to the table."""
    keys = {(r.get("group", "all"), r.get("period", "all")) for r in figure.rows}
    return list(figure.rows) if len(keys) == 1 else []


def _funnel(figure: Figure) -> str | None:
    rows = [r for r in _single_group(figure) if r["stage"] != DISQUALIFIED]
    if not rows:
        return None
    notes = ["" if r["next_step"] is None else f"{100 * r['next_step']:.1f}%" for r in rows]
    return charts.funnel_chart([r["stage"] for r in rows], [r["reached"] for r in rows],
                               title="Leads that reached each stage (and of the stage before)",
                               notes=notes)


def _flow(figure: Figure) -> str | None:
    rows = _single_group(figure)
    if not rows:
        return None
    return charts.bar_chart([r["stage"] for r in rows],
                            {"in": [r["in"] for r in rows], "out": [r["out"] for r in rows],
                             "end": [r["end"] for r in rows]},
                            title="Entries, exits and balance at the end, per stage")


def _cohort(figure: Figure) -> str | None:
    if not figure.rows:
        return None
    periods = sorted({r["period"] for r in figure.rows})
    series: dict[str, list] = {}
    for r in figure.rows:
        series.setdefault(r.get("group", "all"), [None] * len(periods))[
            periods.index(r["period"])] = r["rate"]
    return charts.line_chart(periods, series, title="Conversion of each entry cohort",
                             fmt=lambda v: f"{100 * v:.0f}%")


def _velocity(figure: Figure) -> str | None:
    rows = [r for r in _single_group(figure) if r["median"] is not None]
    if not rows:
        return None
    return charts.bar_chart([r["stage"] for r in rows], {"median days in stage": [
        r["median"] for r in rows]}, title="Median days in stage (finished stays)",
        fmt=lambda v: f"{v:,.1f}")


def _sla(figure: Figure) -> str | None:
    rows = [r for r in figure.rows if r["group"] == "(all)"]
    if not rows:
        return None
    names = [r["rule"].split(": ", 1)[-1] + ("" if r["period"] == "all" else f" ({r['period']})")
             for r in rows]
    return charts.bar_chart(names, {key: [r[key] for r in rows] for key in
                                    ("met", "late", "overdue", "open")},
                            title="SLA entries: met in time, met late, overdue, open")


def _goals(figure: Figure) -> str | None:
    rows = [r for r in figure.rows if r["actual"] is not None or r["status"] == "not started"]
    if not rows:
        return None
    progress = [_progress(r) for r in rows]
    return charts.bar_chart(
        [r["goal"] for r in rows], {"progress": progress},
        title="Goals: actual ÷ target (for an 'at most' goal, target ÷ actual)",
        fmt=lambda v: f"{100 * v:.0f}%", colors=[charts.STATUS_COLORS[r["status"]]
                                                 for r in rows], reference=1.0)


def _progress(row: dict) -> float:
    target = float(row["target"].split()[1].rstrip("%")) / (100 if row["percent"] else 1)
    actual = row["actual"] or 0
    if row["target"].startswith("<"):
        return min(1.5, target / actual) if actual else 1.0
    return min(1.5, actual / target) if target else 1.0


CHARTS: dict[str, Callable[[Figure], str | None]] = {
    "funnel": _funnel, "flow": _flow, "cohort": _cohort, "velocity": _velocity,
    "sla": _sla, "goals": _goals}


def _chart(figure: Figure) -> str | None:
    draw = CHARTS.get(figure.chart)
    return draw(figure) if draw is not None else None
