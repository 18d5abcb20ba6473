"""A back-test from start to end, as the commands ask for it: the outcome chosen, every lead
scored (a store's or sample files'), the figures computed."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import attrs

from leadrules.dsl.errors import UsageError
from leadrules.engine.backtest.outcomes import Outcomes, Reached, read_outcomes
from leadrules.engine.backtest.report import Backtest, backtest, measured
from leadrules.engine.backtest.scored import Collector, collect, collect_store
from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.evaluate import event_rows
from leadrules.engine.store.mapping import ReadOptions
from leadrules.engine.store.store import Store


def outcome_of(rules: CompiledRuleset, path: str | Path | None, column: str | None,
               reached: str | None, as_of: int | None, required: bool = True,
               options: ReadOptions | None = None) -> Outcomes | Reached | None:
    """The outcomes file read, or the time split `reached` describes (`as_of` is None when no
    as-of time was given); None for neither when not `required`."""
    if path is None and reached is None and not required:
        if column is not None:
            raise UsageError("--outcome-column goes with --outcomes FILE")
        return None
    if (path is None) == (reached is None):
        raise UsageError("give --outcomes FILE (known outcomes) or --outcome 'reached STAGE "
                         "within N days' (the store's own history after --as-of), one of them")
    if reached is not None:
        if column is not None:
            raise UsageError("--outcome-column goes with --outcomes FILE")
        return Reached.parse(reached, as_of, rules.stages)
    return read_outcomes(path, column or "converted", options=options)


def check_handover(rules: CompiledRuleset, stage: str | None) -> None:
    """Refuse a --handover stage the rules do not have."""
    if stage is not None and stage not in rules.stages:
        raise UsageError(f"--handover {stage!r}: no such stage in {rules.path}; stages: "
                         f"{', '.join(rules.stages) or 'none'}")


def measure_sample(rules: CompiledRuleset, sample: list, outcome: Outcomes | Reached,
                   as_of: int, *, source: str, as_of_source: str,
                   handover: str | None = None, suggest: bool = False) -> Backtest:
    """The back-test of sample leads (lead_id, profile, events), as a dry-run reads them;
    with `suggest`, the points fitted to the outcomes too."""
    check_handover(rules, handover)
    leads = [(lead, profile, event_rows(events)) for lead, profile, events in sample]
    collector = collect(_collector(rules, handover, outcome), leads, as_of)
    last = max((rows[-1][1] for *_, rows in leads if rows), default=None)
    found = backtest(collector, outcome, source=source, as_of=as_of, as_of_source=as_of_source,
                     last_event=last)
    return _suggested(found, rules, leads, collector, outcome, as_of) if suggest else found


def measure_store(rules: CompiledRuleset, store: Store, outcome: Outcomes | Reached,
                  as_of: int, *, source: str, as_of_source: str, handover: str | None = None,
                  workers: int | None = None, progress: Callable[[int], None] | None = None,
                  suggest: bool = False) -> Backtest:
    """The back-test of every lead of a store, over worker processes as a run is."""
    check_handover(rules, handover)
    collector = collect_store(_collector(rules, handover, outcome), store, as_of, workers,
                              progress)
    found = backtest(collector, outcome, source=source, as_of=as_of, as_of_source=as_of_source,
                     last_event=store.counts().last_ts)
    if not suggest:
        return found
    return _suggested(found, rules, store.iter_lead_rows(types=rules.used), collector, outcome,
                      as_of)


def _suggested(found: Backtest, rules: CompiledRuleset, leads, collector: Collector,
               outcome, as_of: int) -> Backtest:
    from leadrules.engine.backtest.suggest import suggest

    known = measured(collector, outcome, as_of)
    return attrs.evolve(found, suggestion=suggest(rules, leads, known, as_of))


def _collector(rules: CompiledRuleset, handover: str | None, outcome) -> Collector:
    return Collector((rules,), handover, outcome if isinstance(outcome, Reached) else None)
