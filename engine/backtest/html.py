"""A Backtest as one self-contained HTML page: the facts, a ROC curve and a lift chart (drawn
by engine.report.charts, the funnel report's charting), and every table of the text report."""

from __future__ import annotations

import html
from pathlib import Path

from leadrules.dsl.errors import UsageError
from leadrules.engine.backtest import render, stats
from leadrules.engine.backtest.report import Backtest

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5em; }
.charts figure { margin: 0; width: 34em; } figcaption { font-size: .85em; color: #555; }
ul.facts { list-style: none; padding: 0; } .warning { color: #9a3b00; }
"""


def page(report: Backtest) -> str:
    """The whole page as text."""
    facts = [f"<li><b>{_e(name)}:</b> {_e(value)}</li>" for name, value in render.head(report)]
    facts += [f"<li>{_e(line)}</li>" for line in render.coverage_lines(report)]
    facts += [f"<li><b>Note:</b> {_e(note)}</li>" for note in report.notes]
    facts.append(f"<li><b>Base rate:</b> {_e(render.base_line(report))}</li>")
    body = ["<h1>leadrules backtest</h1>", '<ul class="facts">', *facts, "</ul>",
            '<div class="charts">', *(f"<figure>{svg}<figcaption>{_e(caption)}</figcaption>"
                                      "</figure>" for svg, caption in _charts(report)),
            "</div>"]
    for title, section in render.sections(report):
        body.append(f"<h2>{_e(title)}</h2>")
        body.append(_table(*section) if isinstance(section, tuple) else "<ul>" + "".join(
            f'<li class="{"warning" if title.startswith("Warnings") else ""}">{_e(line)}</li>'
            for line in section) + "</ul>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>leadrules backtest: {_e(report.figures.rules_name)}</title>"
            f"<style>{_STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(path: str | Path, report: Backtest) -> None:
    """Write the page to `path`, whole: through a temporary file beside it."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.leadrules-tmp")
    temporary.write_text(page(report), encoding="utf-8")
    temporary.replace(path)


def _charts(report: Backtest) -> list[tuple[str, str]]:
    """The ROC curve of the score, the lift and the cumulative capture by decile, of each side,
    as inline SVG drawn by the funnel report's charts. The ROC curve is read at false positive
    rates 0, 0.1, ... 1, so that its points stand evenly on the chart's axis."""
    try:
        from leadrules.engine.report import charts
    except ImportError:  # pragma: no cover - engine.report ships with leadrules
        charts = None
    if charts is None or not charts.available():
        raise UsageError("--html draws its charts with matplotlib: pip install "
                         "'leadrules[report]'")
    names = ([report.figures.rules_name] if len(report.sides) == 1 else ["old", "new"])
    sides = list(zip(names, report.sides))
    grid = [k / 10 for k in range(11)]
    roc = {f"{name} (AUC {render.ratio(f.auc)})": [stats.roc_at(f.roc, x) for x in grid]
           for name, f in sides if f.roc}
    roc["chance"] = grid
    deciles = [str(d.number) for d in report.figures.deciles]
    lift = {name: [d.lift(f.base) or 0.0 for d in f.deciles] for name, f in sides}
    capture = {name: [100 * (d.capture or 0.0) for d in f.deciles] for name, f in sides}
    return [
        (charts.line_chart([f"{x:.1f}" for x in grid], roc, fmt=lambda v: f"{v:.1f}",
                           title="ROC curve of the score", width=5.5),
         "Going down the ranking: the share of converted leads found (up) against the share of "
         "the others taken along (across). The higher the curve, the better; the diagonal is "
         "chance."),
        (charts.bar_chart(deciles, lift, title="Lift by decile of the score",
                          fmt=lambda v: f"{v:.2f}", horizontal=False, reference=1.0, width=5.5),
         "Each tenth of the leads, best scores first: its conversion rate over the base rate "
         "(the dashed line, 1.0)."),
        (charts.line_chart(deciles, capture, title="Converted leads captured (%)",
                           fmt=lambda v: f"{v:.0f}%", width=5.5),
         "The share of all converted leads in the tenths down to each one.")]


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    cells = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>"


def _e(text: object) -> str:
    return html.escape(str(text))
