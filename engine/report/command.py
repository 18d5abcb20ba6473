"""`leadrules report` in one call: the scope from the options, the views measured, rendered."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Callable

import attrs

from leadrules.dsl import ast
from leadrules.dsl.errors import UsageError
from leadrules.engine.report import render
from leadrules.engine.report.goals import failing
from leadrules.engine.report.scope import DAY, make_scope
from leadrules.engine.report.views import VIEWS, aside, build
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.store.store import Store


@attrs.frozen
class Outcome:
    text: str  # what to print
    failing: tuple[str, ...]  # one line per goal that fails --fail-on


def parse_days(text: str | None) -> int | None:
    """--within: `30d`, `30 days` or `30`, in microseconds."""
    if text is None:
        return None
    found = re.fullmatch(r"\s*(\d+)\s*(d|days?)?\s*", text)
    if not found:
        raise UsageError(f"--within {text}: write a number of days, e.g. 30d")
    return int(found.group(1)) * DAY


def report(store: Store, ruleset: ast.Ruleset, view: str, *, run_id: int | None = None,
           start: dt.date | None = None, end: dt.date | None = None, period: str | None = None,
           by: str | None = None, within: str | None = None, cohort: str | None = None,
           target: str | None = None, output: str = "text", html: Path | None = None,
           fail_on: str | None = None, progress: Callable[[int], None] | None = None
           ) -> Outcome:
    """Measure `view` ("all" for every one) and render it as `output`; write `html` too.
    `progress(1)` after each view measured (see `views_of`)."""
    if html is not None:
        from leadrules.engine.report import html as html_report  # fails early without matplotlib

        html_report.require()
    rules = compile_ruleset(ruleset)
    scope = make_scope(store, rules, ruleset, run_id=run_id, start=start, end=end,
                       period=period, by=by, within=parse_days(within), cohort=cohort,
                       target=target, aside=aside(view if html is None else "all"))
    figures = build(scope, view, progress)
    if html is not None:
        html_report.write(html, scope, figures if view == "all" else build(scope, "all", progress))
    rendered = {"text": lambda: render.text(scope, figures),
                "markdown": lambda: render.markdown(scope, figures),
                "csv": lambda: render.csv_text(figures),
                "json": lambda: render.json_text(scope, figures)}[output]()
    goal_rows = [r for f in figures if f.view == "goals" for r in f.rows]
    if fail_on is not None and view not in ("goals", "all"):
        raise UsageError("--fail-on is for goals: use it with `report goals` or `report all`")
    lines = tuple(f"goal \"{r['goal']}\" is {r['status']}" for r in failing(goal_rows, fail_on))
    return Outcome(rendered, lines)


def views_of(view: str, html: bool) -> int:
    """How many views `report` measures: for a progress display."""
    every = len(VIEWS)
    return every if view == "all" else 1 + (every if html else 0)


def demo_summary(store: Store, ruleset: ast.Ruleset, html: Path) -> str:
    """What `demo` ends with: where its HTML report is (written when matplotlib is there), and
    the status of each goal."""
    from leadrules.engine.report import charts, goals
    from leadrules.engine.report import html as html_report
    from leadrules.engine.tables import table

    rules = compile_ruleset(ruleset)
    scope = make_scope(store, rules, ruleset)
    if charts.available():
        html_report.write(html, scope, build(scope, "all"))
        where = f"HTML report: {html.resolve()}"
    else:
        where = f"HTML report: not written; its charts need matplotlib: {html_report.INSTALL}"
    rows = [goals.goal_row(r) for r in goals.evaluate_goals(scope)]
    figure = goals.figures(scope)[0]
    shown = [figure.column(k) for k in ("goal", "actual", "target", "period", "status")]
    body = table([c.header for c in shown],
                 [[render.cell(c, r) for c in shown] for r in rows])
    return f"{where}\n\nGoals\n{body}"
