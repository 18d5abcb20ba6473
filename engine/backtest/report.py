"""A back-test's figures: each lead's record joined with its outcome, and every statistic of
engine.backtest.stats over them; for `diff`, the same figures of OLD and NEW side by side."""

from __future__ import annotations

from typing import Mapping, Sequence

import attrs

from leadrules.dsl.errors import UsageError
from leadrules.engine.backtest import stats
from leadrules.engine.backtest.outcomes import Outcomes, Reached
from leadrules.engine.backtest.scored import (
    BAND,
    FIT,
    GRADE,
    HANDED_OVER,
    LABEL,
    LEAD_ID,
    SCORE,
    STAGE,
    Collector,
)
from leadrules.engine.events import format_timestamp
from leadrules.engine.scoring.compiler import DISQUALIFIED, CompiledRuleset

GRADES = ("A", "B", "C", "D")
BANDS = (1, 2, 3, 4)
_SHOWN_UNKNOWN = 5  # lead ids named of the outcomes whose lead was not scored


@attrs.frozen
class Figures:
    """Every figure of one ruleset over the leads with an outcome."""

    rules_name: str
    rules_path: str
    base: stats.Rate
    auc: float | None  # of the score
    fit_auc: float | None
    priority_auc: float | None  # of priority order: A1 first, grade before band, none last
    deciles: tuple[stats.Decile, ...]
    roc: tuple[tuple[float, float], ...]  # the score's ROC curve, for the HTML
    bands: Mapping  # band (or None) -> Rate, best first
    grades: Mapping
    priorities: Mapping  # (grade, band) -> Rate
    labels: Mapping
    stages: Mapping  # the stage at the as-of time -> Rate, in the rules' order
    handover: stats.Handover | None
    warnings: tuple[stats.NonMonotone, ...]


@attrs.frozen
class Coverage:
    """Which leads the figures cover: scored, with an outcome, and the ones left out."""

    scored: int
    measured: int  # scored leads with an outcome: the figures' leads
    no_outcome: int  # scored leads the outcomes file has no row for
    empty: int  # scored leads whose outcome cell is empty
    unknown: int  # outcomes of leads that were not scored
    unknown_examples: tuple[str, ...]
    converted_before: int  # dated conversions at or before the as-of time
    already: int  # time split: leads in the outcome's stage by the as-of time


@attrs.frozen
class Backtest:
    """Everything `leadrules backtest` reports, or for `diff` both sides (`sides` has two)."""

    source: str  # where the leads came from, in words
    as_of: int
    as_of_source: str
    outcome: str  # what the outcome is, in words
    coverage: Coverage
    sides: tuple[Figures, ...]
    notes: tuple[str, ...] = ()
    suggestion: object = None  # engine.backtest.suggest.Suggestion, with --suggest

    @property
    def figures(self) -> Figures:
        """The figures of the one ruleset, or of NEW."""
        return self.sides[-1]


def backtest(collector: Collector, outcomes: Outcomes | Reached, *, source: str, as_of: int,
             as_of_source: str, last_event: int | None = None) -> Backtest:
    """The figures of each side of `collector`'s records against `outcomes`."""
    known, outcomes = _known(collector, outcomes, as_of)
    if isinstance(outcomes, Reached):
        coverage = _split_coverage(collector, known)
        describe = outcomes.describe
    else:
        coverage = _file_coverage(collector, outcomes, known)
        describe = f"the outcomes in {outcomes.describe}"
    keep = [k for k, outcome in enumerate(known) if outcome is not None]
    if not keep:
        raise UsageError(_nothing_measured(source, outcomes, coverage))
    measured = [bool(known[k]) for k in keep]
    sides = tuple(figures(rules, [records[k] for k in keep], measured, collector.handover)
                  for rules, records in zip(collector.sides, collector.records))
    notes = _notes(outcomes, last_event, coverage)
    if coverage.converted_before and not sides[0].base.converted:
        notes += (f"every conversion dated in the outcomes is on or before the as-of time "
                  f"({format_timestamp(as_of)[:10]}), so none is measured: give --as-of a day "
                  "before the conversions the rules should have foreseen",)
    return Backtest(source, as_of, as_of_source, describe, coverage, sides, notes)


def _nothing_measured(source: str, outcomes: Outcomes | Reached, coverage: Coverage) -> str:
    if isinstance(outcomes, Reached):
        return (f"no lead of {source} is measured: each one was in {outcomes.stage} or a later "
                "stage by the as-of time already; choose an earlier --as-of")
    return (f"no lead of {source} has an outcome in {outcomes.describe}"
            + (": do its lead_id values match the leads'?" if coverage.unknown else ""))


def measured(collector: Collector, outcomes: Outcomes | Reached, as_of: int
             ) -> dict[str, bool]:
    """The outcome of each lead that has one and is measured, by lead_id."""
    known, _ = _known(collector, outcomes, as_of)
    return {r[LEAD_ID]: outcome for r, outcome in zip(collector.records[0], known)
            if outcome is not None}


def _known(collector: Collector, outcomes: Outcomes | Reached, as_of: int) -> tuple[list, object]:
    """Each record's outcome (None: left out), and the outcomes without those known early."""
    if isinstance(outcomes, Reached):
        return collector.outcomes, outcomes
    outcomes = outcomes.before(as_of) if outcomes.dates else outcomes
    return [outcomes.known.get(r[LEAD_ID]) for r in collector.records[0]], outcomes


def _file_coverage(collector: Collector, outcomes: Outcomes, known: list) -> Coverage:
    scored = {r[LEAD_ID] for r in collector.records[0]}
    unknown = sorted(lead for lead in (*outcomes.known, *outcomes.converted_before)
                     if lead not in scored)
    measured = sum(k is not None for k in known)
    empty = len(outcomes.empty & scored)
    before = len(scored.intersection(outcomes.converted_before))
    return Coverage(len(known), measured, len(known) - measured - empty - before, empty,
                    len(unknown), tuple(unknown[:_SHOWN_UNKNOWN]), before, 0)


def _split_coverage(collector: Collector, known: list) -> Coverage:
    measured = sum(k is not None for k in known)
    return Coverage(len(known), measured, 0, 0, 0, (), 0, len(known) - measured)


def _notes(outcomes, last_event: int | None, coverage: Coverage) -> tuple[str, ...]:
    notes = []
    if isinstance(outcomes, Reached) and last_event is not None and last_event < outcomes.until:
        notes.append(f"the window ends {format_timestamp(outcomes.until)[:10]}, after the last "
                     f"event in the data ({format_timestamp(last_event)[:10]}): leads that "
                     "reach the stage after that count as not converted")
    return tuple(notes)


def figures(rules: CompiledRuleset, records: Sequence[tuple], outcomes: Sequence[bool],
            handover: str | None) -> Figures:
    """Every figure of one ruleset's records (leads with an outcome) and their outcomes."""
    column = lambda k: [r[k] for r in records]  # noqa: E731
    bands = _ordered(stats.rates(column(BAND), outcomes), BANDS)
    grades = _ordered(stats.rates(column(GRADE), outcomes), GRADES)
    priorities = stats.rates(((r[GRADE], r[BAND]) for r in records), outcomes)
    return Figures(
        rules_name=rules.name, rules_path=rules.path, base=stats.base_rate(outcomes),
        auc=stats.auc(column(SCORE), outcomes), fit_auc=stats.auc(column(FIT), outcomes),
        priority_auc=stats.auc([priority_rank(r[GRADE], r[BAND]) for r in records], outcomes),
        deciles=tuple(stats.deciles(column(SCORE), outcomes)),
        roc=tuple(stats.roc_points(column(SCORE), outcomes)),
        bands=bands, grades=grades,
        priorities=dict(sorted(priorities.items(), key=lambda item: _cell_key(item[0]))),
        labels=dict(sorted(stats.rates(column(LABEL), outcomes).items(),
                           key=lambda item: (item[0] is None, item[0] or ""))),
        stages=_ordered(stats.rates(column(STAGE), outcomes), (*rules.stages, DISQUALIFIED)),
        handover=(None if handover is None else
                  stats.handover(handover, column(HANDED_OVER), outcomes)),
        warnings=(*stats.non_monotone("grade", GRADES, grades),
                  *stats.non_monotone("band", BANDS, bands)))


def priority_rank(grade: str | None, band: int | None) -> int:
    """Higher is better: A1 first, then A2 ... A4, B1 ... D4; a lead without both last."""
    if grade not in GRADES or band not in BANDS:
        return -1
    return len(GRADES) * len(BANDS) - (GRADES.index(grade) * len(BANDS) + BANDS.index(band))


def _cell_key(cell: tuple) -> tuple:
    grade, band = cell
    return (GRADES.index(grade) if grade in GRADES else len(GRADES),
            BANDS.index(band) if band in BANDS else len(BANDS))


def _ordered(counts: dict, order: Sequence) -> dict:
    """`counts` in `order`, then the other keys by name, None last."""
    keys = [k for k in order if k in counts]
    rest = sorted((k for k in counts if k not in order and k is not None), key=str)
    return {k: counts[k] for k in (*keys, *rest, *([None] if None in counts else []))}
