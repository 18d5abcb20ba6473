"""Scoring the leads for a back-test with engine.scoring's own replay, each result reduced to
what the figures need; over a store's leads in worker processes as a run does.

A time split (`reached STAGE within N days`) replays each lead once: up to the as-of time,
where its state is saved (engine.scoring.checkpoint) and its results read off, then resumed
with the events of the window after it, as an incremental run resumes a lead.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_right
from operator import itemgetter
from typing import Callable, Iterable, Mapping, Sequence

from leadrules.engine.backtest.outcomes import Reached
from leadrules.engine.scoring.checkpoint import checkpoint, resume
from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.evaluate import advance, finish, replay, start
from leadrules.engine.scoring.results import LeadResult, StageChange
from leadrules.engine.scoring.spans import default_workers, over_spans, worth_forking
from leadrules.engine.store.store import Store

# A lead's record: what the figures read of its result, in this order.
LEAD_ID, SCORE, FIT, GRADE, BAND, PRIORITY, LABEL, STAGE, HANDED_OVER = range(9)


def from_stage(rules: CompiledRuleset, stage: str | None) -> frozenset[str] | None:
    """`stage` and every stage after it in the rules' order; None without such a stage."""
    if stage is None or stage not in rules.stages:
        return None
    return frozenset(rules.stages[rules.stages.index(stage):])


def reached(moves: Iterable[StageChange], stages: frozenset[str], after: int | None = None
            ) -> bool:
    """Whether one of the moves went into `stages` (after the time `after`, if given)."""
    return any(m.target in stages and (after is None or (m.ts is not None and m.ts > after))
               for m in moves)


class Collector:
    """The records of every lead offered, per side (one ruleset, or OLD and NEW of a diff),
    in the order offered, and with a time split each lead's outcome: True or False, or None
    for a lead that reached the outcome's stage by the as-of time already."""

    def __init__(self, sides: Sequence[CompiledRuleset], handover: str | None = None,
                 split: Reached | None = None):
        self.sides = tuple(sides)
        self.handover = handover
        self.handover_stages = [from_stage(rules, handover) for rules in self.sides]
        self.split = split
        self.split_stages = from_stage(self.sides[0], split.stage) if split else None
        self.records: list[list[tuple]] = [[] for _ in self.sides]
        self.outcomes: list[bool | None] = []

    def empty(self) -> Collector:
        """A collector like this one with no records, for one part of the leads."""
        return Collector(self.sides, self.handover, self.split)

    def __getstate__(self) -> dict:
        """What a worker sends back: the records, not the compiled rules (closures)."""
        return {**self.__dict__, "sides": ()}

    def merge(self, other: Collector) -> None:
        """Add the records of the next part of the leads."""
        for mine, theirs in zip(self.records, other.records):
            mine.extend(theirs)
        self.outcomes.extend(other.outcomes)

    def add(self, results: Sequence[LeadResult], outcome: bool | None = None) -> None:
        """One lead's results, a side each, and its time-split outcome if there is a split."""
        for records, stages, result in zip(self.records, self.handover_stages, results):
            records.append((result.lead_id, result.score, result.fit, result.grade, result.band,
                            result.priority, result.label, result.stage,
                            stages is not None and reached(result.moves, stages)))
        if self.split is not None:
            self.outcomes.append(outcome)

    def offer(self, lead_id: str, profile: Mapping, rows: list,
              results: Sequence[LeadResult]) -> None:
        """`add` for results at the as-of time; a time split's outcome comes from a replay of
        the first side's rules up to the window's end."""
        outcome = None
        if self.split is not None:
            later = replay(self.sides[0], lead_id, profile, rows, self.split.until)
            outcome = self.split_outcome(results[0], later.moves)
        self.add(results, outcome)

    def split_outcome(self, now: LeadResult, later: Iterable[StageChange]) -> bool | None:
        """None when the lead is in the outcome's stage (or beyond) by the as-of time already;
        else whether a later move took it there."""
        if now.stage in self.split_stages or reached(now.moves, self.split_stages):
            return None
        return reached(later, self.split_stages, self.split.as_of)

    def score(self, lead_id: str, profile: Mapping, rows: list, as_of: int) -> None:
        """Score one lead with the one ruleset of a back-test and add its record."""
        rules = self.sides[0]
        if self.split is None:
            self.add((replay(rules, lead_id, profile, rows, as_of),))
            return
        cut = bisect_right(rows, as_of, key=_TS)  # rows are in (ts, event_id) order
        state = start(rules, profile)
        advance(state, rows[:cut], as_of)
        saved = checkpoint(state)
        now = finish(state, lead_id, as_of, rows[cut][1] if cut < len(rows) else None)
        if now.next_due is None or now.next_due > self.split.until:
            # Nothing changes this lead before the window ends (no event, no timer): the
            # promise an incremental run relies on. A third of the leads, and no resume.
            self.add((now,), self.split_outcome(now, ()))
            return
        state = resume(rules, profile, saved)
        later = finish(state, lead_id, self.split.until,
                       advance(state, rows[cut:], self.split.until))
        self.add((now,), self.split_outcome(now, later.moves))


_TS = itemgetter(1)


def collect(collector: Collector, leads: Iterable[tuple[str, Mapping, list]], as_of: int,
            progress: Callable[[int], None] | None = None) -> Collector:
    """Score leads given as (lead_id, profile, event rows in replay order)."""
    done = 0
    for lead_id, profile, rows in leads:
        collector.score(lead_id, profile, rows, as_of)
        done += 1
        if progress and done % 1000 == 0:
            progress(1000)
    if progress and done % 1000:
        progress(done % 1000)
    return collector


def collect_store(collector: Collector, store: Store, as_of: int, workers: int | None = None,
                  progress: Callable[[int], None] | None = None) -> Collector:
    """Score every lead of a store; a large one split over `workers` processes as a run is."""
    workers = default_workers() if workers is None else workers
    types = collector.sides[0].used
    if not worth_forking(store, store.lead_count(), workers):
        return collect(collector, store.iter_lead_rows(types=types), as_of, progress)
    with contextlib.ExitStack() as stack:
        for part in over_spans(store, _collect_span, (collector, as_of), workers, stack):
            collector.merge(part)
            if progress:
                progress(len(part.records[0]))
    return collector


def _collect_span(store: Store, span: tuple, job: tuple) -> Collector:
    collector, as_of = job
    return collect(collector.empty(), store.iter_lead_rows(types=collector.sides[0].used,
                                                           span=span), as_of)
