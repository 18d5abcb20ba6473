"""The report's views by name, and `build`, which measures the ones asked for."""

from __future__ import annotations

import functools
from typing import Callable

import attrs

from leadrules.engine.report import cohort, flow, goals, reached, sla, velocity
from leadrules.engine.report.figure import Figure
from leadrules.engine.report.scope import Scope

Part = Callable[[Scope], list[Figure]]
# each view's figures, from one or more parts
VIEWS: dict[str, tuple[Part, ...]] = {
    "funnel": (reached.figures,),
    "flow": (flow.figures,),
    "conversion": (cohort.figures,),
    "velocity": (velocity.stay_figures, velocity.pair_figures),
    "sla": (sla.figures,),
    "goals": (goals.figures,),
}
CHOICES = (*VIEWS, "all")
# the parts that read only report_stays and the store's own tables (not report_leads): the
# process that makes report_stays can measure them while this one measures the others
ASIDE = (flow.figures, velocity.stay_figures, sla.figures)


def aside(view: str) -> Callable[[Scope], dict] | None:
    """For make_scope: the parts of `view` ("all": of every view) in ASIDE, measured by the
    process beside (their figures by (view, part number)); None if there are none."""
    keys = [(name, i) for name in _names(view) for i, part in enumerate(VIEWS[name])
            if part in ASIDE]
    return functools.partial(_measure, keys) if keys else None


def _measure(keys: list[tuple[str, int]], scope: Scope) -> dict[tuple[str, int], list[Figure]]:
    return {(name, i): VIEWS[name][i](scope) for name, i in keys}


def _names(view: str) -> list[str]:
    return list(VIEWS) if view == "all" else [view]


def build(scope: Scope, view: str, progress: Callable[[int], None] | None = None
          ) -> list[Figure]:
    """The figures of one view, or of every view for "all"; the group column is headed by
    the --by field. `progress(1)` after each view measured. The parts that the process beside
    measured (see `aside`) are taken from it, after this process has measured the others."""
    names = _names(view)
    found: dict[tuple[str, int], list[Figure]] = {}
    waiting = []  # the views with a part in ASIDE
    for name in names:
        for i, part in enumerate(VIEWS[name]):
            if part not in ASIDE:
                found[name, i] = part(scope)
        if all(part not in ASIDE for part in VIEWS[name]):
            _tick(progress)
        else:
            waiting.append(name)
    if scope.side is not None:
        found.update(scope.side.result() or {})  # nothing if it failed: measured below
    for name in waiting:
        for i, part in enumerate(VIEWS[name]):
            if (name, i) not in found:
                found[name, i] = part(scope)
        _tick(progress)
    figures = [f for name in names for i in range(len(VIEWS[name])) for f in found[name, i]]
    if scope.by is None:
        return figures
    return [attrs.evolve(f, columns=tuple(
        attrs.evolve(c, header=scope.by) if c.key == "group" else c for c in f.columns))
        for f in figures]


def _tick(progress: Callable[[int], None] | None) -> None:
    if progress is not None:
        progress(1)
