"""The report's views by name, and `build`, which measures the ones asked for."""

from __future__ import annotations

from typing import Callable

import attrs

from leadrules.engine.report import cohort, flow, goals, reached, sla, velocity
from leadrules.engine.report.figure import Figure
from leadrules.engine.report.scope import Scope

VIEWS: dict[str, Callable[[Scope], list[Figure]]] = {
    "funnel": reached.figures,
    "flow": flow.figures,
    "conversion": cohort.figures,
    "velocity": velocity.figures,
    "sla": sla.figures,
    "goals": goals.figures,
}
CHOICES = (*VIEWS, "all")


def build(scope: Scope, view: str, progress: Callable[[int], None] | None = None
          ) -> list[Figure]:
    """The figures of one view, or of every view for "all"; the group column is headed by
    the --by field. `progress(1)` after each view measured."""
    names = list(VIEWS) if view == "all" else [view]
    figures = []
    for name in names:
        figures += VIEWS[name](scope)
        if progress is not None:
            progress(1)
    if scope.by is None:
        return figures
    return [attrs.evolve(f, columns=tuple(
        attrs.evolve(c, header=scope.by) if c.key == "group" else c for c in f.columns))
        for f in figures]
