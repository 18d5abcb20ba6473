"""Scoring every lead of a store with a compiled ruleset, and storing what came out."""

from __future__ import annotations

from typing import Callable, Iterable

import attrs

from engine.compiler import CompiledRuleset
from engine.evaluate import LeadResult, evaluate
from engine.store import Store

RESULT_COLUMNS = ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified")


@attrs.frozen
class RunReport:
    """What one scoring run did: its id, the as-of time, and the leads and events it saw."""

    run_id: int
    as_of: int
    leads: int
    events: int


def result_row(result: LeadResult) -> dict:
    """The stored columns of one lead's result."""
    return {column: getattr(result, column) for column in RESULT_COLUMNS}


def move_rows(result: LeadResult) -> Iterable[dict]:
    """The stored rows of one lead's stage moves, numbered in order."""
    for seq, move in enumerate(result.moves, start=1):
        yield {"lead_id": result.lead_id, "seq": seq, "ts": move.ts,
               "from_stage": move.source, "to_stage": move.target,
               "rule": move.rule.id if move.rule else "", "cause": move.cause}


def score_store(store: Store, rules: CompiledRuleset, as_of: int,
                progress: Callable[[int], None] | None = None) -> RunReport:
    """Replay every lead of the store up to `as_of` and save the results as one run."""
    results, moves, events = [], [], 0
    for lead_id, profile, lead_events in store.iter_lead_events():
        result = evaluate(rules, lead_id, profile, lead_events, as_of)
        results.append(result_row(result))
        moves.extend(move_rows(result))
        events += len(lead_events)
        if progress:
            progress(1)
    run_id = store.save_run(rules.name, rules.path, rules.hash, as_of, results, moves)
    return RunReport(run_id, as_of, len(results), events)

