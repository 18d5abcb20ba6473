"""Scoring the leads of a store with a compiled ruleset, and storing what came out.

A run is full the first time a ruleset is run on a store, and incremental after that: it replays
only the leads that changed since the previous run of the same ruleset (new events or a new
profile) and the leads whose results can change by the passing of time alone (a timer or a
later event due by the new as-of time). Evaluation is a pure function of a lead's inputs and
the as-of time, so the other leads' stored results are what a full run would compute again.

Every run saves each replayed lead's state after its last event (a checkpoint). An incremental
run resumes a lead from there when its profile is the same and its new events all come after
that event, so that its cost follows the new events, not the lead's whole history.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from typing import Callable, Iterable, Iterator

import attrs

from leadrules.engine.scoring.checkpoint import checkpoint, resume, usable
from leadrules.engine.scoring.compiler import CompiledRuleset, RuleRef
from leadrules.engine.scoring.evaluate import advance, finish, read_stored, start
from leadrules.engine.scoring.results import LeadResult
from leadrules.engine.scoring.spans import (
    default_workers,
    over_chunks,
    over_spans,
    split,
    worth_forking,
)
from leadrules.engine.store.records import checkpoint_row, profile_digest
from leadrules.engine.store.schema import DETAIL_COLUMNS, RESULT_COLUMNS
from leadrules.engine.store.store import Store
from leadrules.engine.store.views import ruleset_views

# What "changed since the previous run" compares; events and next_due are bookkeeping.
COMPARED = ("score", "fit", "grade", "band", "priority", "stage", "disqualified", "owner",
            "label", "sla", "bant")
_COMPARED_AT = tuple(RESULT_COLUMNS.index(c) for c in COMPARED)
_STAGE = RESULT_COLUMNS.index("stage")


@attrs.frozen
class RunReport:
    """What one run did, and how its results differ from the previous run of the ruleset."""

    run_id: int
    mode: str  # 'full' or 'incremental'
    as_of: int
    leads: int  # leads with results after the run
    replayed: int
    resumed: int  # of the replayed leads: resumed from their saved state
    events: int  # events the replayed leads' rules saw (by resumed leads: the new ones)
    previous: int | None  # the previous run of the same ruleset
    new: int  # leads that had no result before
    changed: dict[str, int]  # column -> leads whose value changed; "any" for leads with any
    seconds: float
    # Of the leads the run looked at: unchanged without a replay, because their saved state
    # held and their new events were all of types no rule reacts to (and no timer was due), or
    # they are disqualified.
    unchanged: int = 0


_BANT_TEXTS: dict[tuple, str] = {}  # BANT flags -> their stored JSON: a few dozen at most


def result_row(result: LeadResult) -> tuple:
    """The stored columns of one lead's result, in RESULT_COLUMNS order."""
    bant = None
    if result.bant:
        flags = tuple(result.bant.items())
        bant = _BANT_TEXTS.get(flags)
        if bant is None:
            bant = _BANT_TEXTS[flags] = json.dumps(dict(result.bant), sort_keys=True)
    return (result.lead_id, result.score, result.fit, result.grade, result.band, result.priority,
            result.stage, result.disqualified, result.owner, result.label, result.sla, bant,
            result.events, result.next_due)


def detail_rows(result: LeadResult) -> Iterator[tuple[str, tuple]]:
    """(table, row) for each stage move, action and SLA entry of a result, numbered in order
    (after the `earlier` ones of a resumed replay, which are stored already)."""
    lead = result.lead_id
    moves, actions = result.earlier
    for seq, m in enumerate(result.moves, start=moves + 1):
        yield "stage_moves", (lead, seq, m.ts, m.source, m.target, _rule(m.rule), m.cause)
    for seq, a in enumerate(result.actions, start=actions + 1):
        yield "actions", (lead, seq, a.ts, a.kind, a.value, a.stage, _rule(a.rule), a.cause)
    for seq, s in enumerate(result.slas, start=1):
        yield "sla", (lead, seq, s.stage, s.entered, s.due, s.outcome, s.ts, s.cause,
                      _rule(s.rule))


def _rule(rule: RuleRef | None) -> str:
    """A rule as stored: its line and text. Not its path, because results are kept per ruleset
    content, and the same content may be run from another path."""
    return "" if rule is None else rule.label


def run_rules(store: Store, rules: CompiledRuleset, as_of: int, *, full: bool = False,
              workers: int | None = None, progress: Callable[[int], None] | None = None,
              on_plan: Callable[[str, int], None] | None = None) -> RunReport:
    """Score the store's leads as of `as_of` and save the results as one run.

    `on_plan(mode, leads)` is told how many leads will be replayed before the work starts;
    `progress(n)` after each n leads. A full run of many leads is split by lead_id range over
    `workers` processes (default: one per core, at most 4), each reading its own range, while
    this process writes their results as they come.
    """
    started = time.perf_counter()
    previous = store.last_run(rules.hash)
    data_version = store.data_version()  # read first: later writes make their leads replay again
    incremental = previous is not None and not full and as_of >= previous["as_of"]
    workers = default_workers() if workers is None else workers
    quiet = settled = frozenset()
    if incremental:
        lead_ids = store.leads_to_replay(rules.hash, previous["data_version"], as_of)
        planned = len(lead_ids)
    else:
        planned = store.lead_count()
    forked = worth_forking(store, planned, workers)
    if not incremental:
        old = store.current_results(rules.hash) if previous is not None else {}
    elif forked:  # the workers read the stored results of their chunks (_resume_chunk)
        old = {}
    else:
        old = store.current_results(rules.hash, lead_ids)
        quiet, settled = _left_alone(old, as_of)
    mode = "incremental" if incremental else "full"
    if on_plan:
        on_plan(mode, planned)
    tally = Tally(old)
    with contextlib.ExitStack() as stack:
        if forked:  # forks before writing
            if incremental:  # the leads to replay, in consecutive chunks
                lists = over_chunks(store, _resume_chunk, (rules, as_of),
                                    split(sorted(lead_ids), workers), workers, stack)
            else:  # every lead, by lead_id ranges
                lists = over_spans(store, _score_span, (rules, as_of), workers, stack)
            parts = (part for parts in lists for part in parts)
        elif incremental:
            parts = _score(rules, store.resume_leads(rules.hash, lead_ids, rules.used, usable,
                                                     settled), as_of, quiet=quiet)
        else:
            parts = _score(rules, _fresh(store.scan_leads(types=rules.used)), as_of)
        with store.saving_run(
                {"ruleset_name": rules.name, "ruleset_path": rules.path,
                 "ruleset_hash": rules.hash, "as_of": as_of, "data_version": data_version,
                 "mode": mode}, full=not incremental) as writer:
            for part in parts:
                writer.add(part.results, part.details, part.checkpoints,
                           part.kept if incremental else (), part.unchanged)
                tally.add(part)
                if progress:
                    progress(len(part.results) + len(part.unchanged))
            # results are only ever replaced or added: no count over the tables needed
            leads = previous["leads"] + tally.new if incremental else tally.replayed
            writer.totals.update(events=tally.events, replayed=tally.replayed,
                                 changed=tally.changed["any"], leads=leads)
            # leads per stage: what the run changed, on top of what there was
            if not incremental:  # every stored result was read, and is replaced
                before = Counter(row[_STAGE] for row in old.values())
            elif previous.get("stages") is not None:
                before = json.loads(previous["stages"])
            else:  # a run stored before schema 8: counted at the end
                before = None
            if before is not None:
                writer.totals["stages"] = json.dumps(tally.stages(before), sort_keys=True)
    # The views of these rules' fields, made again by every run: the fields may have changed.
    store.make_views(ruleset_views(rules.name, rules.field_types, rules.properties))
    resumed = tally.replayed - tally.restarted if incremental else 0
    return RunReport(writer.run_id, mode, as_of, leads, tally.replayed, resumed, tally.events,
                     previous["run_id"] if previous else None, tally.new, tally.changed,
                     time.perf_counter() - started, tally.unchanged)


_DUE, _DISQUALIFIED = RESULT_COLUMNS.index("next_due"), RESULT_COLUMNS.index("disqualified")


def _left_alone(old: dict[str, tuple], as_of: int) -> tuple[frozenset[str], frozenset[str]]:
    """Of the leads with stored results `old`: those whose result cannot change by `as_of` by
    itself (no timer and no later event due: `next_due`), which only new events of a type some
    rule reacts to can change (quiet); and the disqualified ones, which no event after their
    checkpoint changes (settled: their events are not read when it holds)."""
    quiet = frozenset(lead for lead, row in old.items()
                      if row[_DUE] is None or row[_DUE] > as_of)
    return quiet, frozenset(lead for lead, row in old.items() if row[_DISQUALIFIED] is not None)


def _fresh(leads: Iterable[tuple[str, str, list]]
           ) -> Iterator[tuple[str, str, bytes, None, list]]:
    """Store.scan_leads' leads as Store.resume_leads gives them, with no saved state."""
    for lead_id, profile, rows in leads:
        yield lead_id, profile, profile_digest(profile), None, rows


@attrs.define
class _Part:
    """The results of some leads, to write and to tally (see `Store.saving_run`)."""

    results: list[tuple] = attrs.Factory(list)
    details: dict[str, list[tuple]] = attrs.Factory(
        lambda: {table: [] for table in DETAIL_COLUMNS})
    checkpoints: list[tuple] = attrs.Factory(list)
    events: int = 0
    # (lead_id, stage moves, actions) before the checkpoint each lead resumed from: (0, 0) for a
    # replay from the start
    kept: list[tuple[str, int, int]] = attrs.Factory(list)
    restarted: int = 0  # leads replayed from their start
    unchanged: list[str] = attrs.Factory(list)  # leads whose stored results hold (see _score)
    # how the results differ from the stored ones (`_compare`), when the worker that made them
    # read those (None: the writer's Tally compares)
    compared: tuple | None = None


_PART_LEADS = 1000  # leads per part: the progress bar's step, and what is held in memory


def _score(rules: CompiledRuleset, source: Iterable, as_of: int,
           quiet: frozenset[str] = frozenset()) -> Iterator[_Part]:
    """Replay each (lead_id, profile JSON, its digest, saved state or None, rows) of `source`,
    in parts. The details of resumed leads are those after their saved state.

    A lead of `quiet` (no timer due by as-of) whose saved state holds and that has no row after
    it is not replayed: its new events are all of types no rule reacts to, so its stored
    result is what the replay would give (43% of the leads that 1% new events reach in the
    100k sample, whose most common event, email_open, no rule reads). So is a disqualified
    lead whose saved state holds: `Store.resume_leads` reads no rows for it (`settled`).

    Every replayed lead's checkpoint is saved, replacing its earlier one (left in place, that
    could be resumed later with stage moves that are no longer stored), also that of a lead
    that applied no event (a third of the sample's leads, a tenth of them disqualified by their
    profile): a later run leaves such a lead alone when its checkpoint holds and its new events
    change nothing, where without one it would replay it (2,731 of the 18,893 leads that 1% new
    events reach in the 100k sample, and 2,100 disqualified ones whose events it read)."""
    part = _Part()
    for lead_id, profile_text, digest, saved, rows in source:
        if not rows and saved is not None and lead_id in quiet:
            part.unchanged.append(lead_id)
            continue
        profile = read_stored(profile_text)
        if saved is None:
            state = start(rules, profile)
            part.restarted += 1
        else:
            state = resume(rules, profile, saved)
        before = state.applied
        later = advance(state, rows, as_of)
        part.checkpoints.append(checkpoint_row(lead_id, digest, checkpoint(state)))
        part.kept.append((lead_id, *state.earlier))
        result = finish(state, lead_id, as_of, later)
        part.results.append(result_row(result))
        for table, row in detail_rows(result):
            part.details[table].append(row)
        part.events += result.events - before
        if len(part.results) == _PART_LEADS:
            yield part
            part = _Part()
    if part.results or part.unchanged:
        yield part


class Tally:
    """What the parts of a run add up to, and how they differ from the stored results."""

    def __init__(self, old: dict[str, tuple]):
        self.old = old
        self.changed = dict.fromkeys(("any", *COMPARED), 0)
        self.new = self.events = self.replayed = self.restarted = self.unchanged = 0
        self._moved: Counter = Counter()  # stage -> leads in it now, less those that were

    def stages(self, before: dict[str, int]) -> dict[str, int]:
        """Leads per stage after the run, from those before it."""
        found = Counter(before)
        found.update(self._moved)
        return {stage: n for stage, n in found.items() if n}

    def add(self, part: _Part) -> None:
        changed, new, moved = part.compared or _compare(self.old, part.results)
        self._moved.update(moved)
        self.unchanged += len(part.unchanged)
        self.events += part.events
        self.replayed += len(part.results)
        self.restarted += part.restarted
        self.new += new
        for name, count in changed.items():
            self.changed[name] += count


def _score_span(store: Store, span: tuple, job: tuple) -> list[_Part]:
    rules, as_of = job
    return list(_score(rules, _fresh(store.scan_leads(types=rules.used, span=span)), as_of))


def _resume_chunk(store: Store, lead_ids: list[str], job: tuple) -> list[_Part]:
    """A chunk of an incremental run, compared here with the stored results it reads: read
    by the writer for all chunks, they were 0.9 s of a million-lead run before any work."""
    rules, as_of = job
    old = store.current_results(rules.hash, lead_ids)
    quiet, settled = _left_alone(old, as_of)
    parts = list(_score(rules, store.resume_leads(rules.hash, lead_ids, rules.used, usable,
                                                  settled), as_of, quiet=quiet))
    for part in parts:
        part.compared = _compare(old, part.results)
    return parts


def _compare(old: dict[str, tuple], results: list[tuple]
             ) -> tuple[dict[str, int], int, Counter]:
    """Per compared column, how many leads' values differ from their stored results; leads
    without a stored result count as new, not as changed; and per stage, the leads in it
    now less those that were."""
    changed = dict.fromkeys(("any", *COMPARED), 0)
    new = 0
    moved: Counter = Counter()
    for row in results:
        moved[row[_STAGE]] += 1
        before = old.get(row[0])
        if before is None:
            new += 1
            continue
        moved[before[_STAGE]] -= 1
        differs = False
        for name, i in zip(COMPARED, _COMPARED_AT):
            if before[i] != row[i]:
                changed[name] += 1
                differs = True
        changed["any"] += differs
    return changed, new, moved
