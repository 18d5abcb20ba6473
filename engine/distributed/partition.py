"""One partition's replay: plain rows of leads and events in, result and detail rows out.

This is the whole of what a distributed engine runs per partition, and it imports no engine
(no Dask, no Spark, no pyarrow), so that an adapter for one is a small module: read a
partition's leads and events, call `replay_partition`, write what it returns. A lead's result
is the same function of (rules, profile, events, as-of) as in a local run: `replay`, with the
store's `result_row` and `detail_rows`, and nothing re-implemented here.

A partition holds whole leads: every event of a lead is in the partition of its lead
(`bucket_of`). Events of a lead with no lead row are replayed with an empty profile, as
`ingest` creates such a lead in a store.
"""

from __future__ import annotations

import itertools
import zlib
from collections import Counter
from operator import itemgetter
from typing import Iterable, Iterator

import attrs

from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.evaluate import read_stored, replay
from leadrules.engine.scoring.run import detail_rows, result_row
from leadrules.engine.store.store import DETAIL_COLUMNS

EMPTY_PROFILE = "{}"
_EVENT_ORDER = itemgetter(0, 1, 2)  # (lead_id, ts, event_id)


def bucket_of(lead_id: str, buckets: int) -> int:
    """The partition of a lead among `buckets`: CRC-32 of its UTF-8 bytes, modulo `buckets`.
    Stable across processes, machines and Python versions (unlike `hash`), and what Spark's
    `pmod(crc32(lead_id), buckets)` computes, so data partitioned there lines up too."""
    return zlib.crc32(lead_id.encode("utf-8")) % buckets


@attrs.define
class PartitionRows:
    """What replaying one partition gave: rows in RESULT_COLUMNS and, per detail table, in
    its DETAIL_COLUMNS; `events` applied in all; leads per stage. `restarted` is every lead
    (a partition is replayed from each lead's start), for `engine.scoring.run.Tally`."""

    results: list[tuple] = attrs.Factory(list)
    details: dict[str, list[tuple]] = attrs.Factory(
        lambda: {table: [] for table in DETAIL_COLUMNS})
    events: int = 0
    stages: Counter = attrs.Factory(Counter)

    @property
    def restarted(self) -> int:
        return len(self.results)

    unchanged = ()  # a full replay leaves no lead unreplayed (`engine.scoring.run._Part`)
    compared = None  # the writer's Tally compares them with the stored results


def replay_partition(rules: CompiledRuleset, leads: Iterable[tuple[str, str]],
                     events: Iterable[tuple], as_of: int, *, ordered: bool = False
                     ) -> PartitionRows:
    """Replay every lead of one partition as of `as_of`.

    `leads` are (lead_id, profile as a JSON object text); `events` are rows (lead_id, ts in
    microseconds UTC, event_id, type, props as a JSON object text) with unique event ids.
    Both are sorted here (leads by lead_id, events by (lead_id, ts, event_id)), unless the
    caller says they are `ordered` already, so a result never depends on the order a
    distributed engine delivered rows in. Ordered input is consumed as a stream: memory holds
    one lead's replay state, not its events.
    """
    if not ordered:
        leads = sorted(leads, key=itemgetter(0))
        events = sorted(events, key=_EVENT_ORDER)
    out = PartitionRows()
    results, details, stages = out.results, out.details, out.stages
    for lead_id, profile, rows in merge_leads(leads, events):
        first = next(rows, None)  # the lead's first event: when it entered its first stage
        rows = itertools.chain((first,), rows) if first is not None else rows
        result = replay(rules, lead_id, read_stored(profile), rows, as_of)
        results.append(result_row(result))
        moves = []
        for table, row in detail_rows(result):
            (moves if table == "stage_moves" else details[table]).append(row)
        details["stage_moves"] += entered(lead_id, first if first and first[1] <= as_of else None,
                                          moves, result.stage)
        out.events += result.events
        stages[result.stage] += 1
    return out


def entered(lead_id: str, first: tuple | None, moves: list[tuple], stage: str) -> list[tuple]:
    """A lead's stage moves (DETAIL_COLUMNS["stage_moves"]) with its history completed as the
    store completes it (`engine.store.schema.stage_entries`, in SQL): move 0 into its first
    stage, dated at its first event at or before the as-of time (`first`; without one, undated
    and caused by its profile), and the undated moves the profile made dated then too."""
    ts, cause = (first[1], first[2]) if first is not None else (None, "profile")
    into = moves[0][3] if moves else stage  # the stage move 1 left, or the one it is in
    return [(lead_id, 0, ts, None, into, "", cause),
            *((m[0], m[1], ts, *m[3:]) if m[2] is None else m for m in moves)]


def merge_leads(leads: Iterable[tuple[str, str]], events: Iterable[tuple]
                ) -> Iterator[tuple[str, str, Iterator[tuple]]]:
    """(lead_id, profile, its event rows) for leads ordered by lead_id and events ordered by
    lead_id, every lead of either side once: a lead without events gets none, events without
    a lead row get EMPTY_PROFILE. A lead's rows are an iterator valid until the next item."""
    groups = itertools.groupby(events, key=itemgetter(0))
    lead_rows = iter(leads)
    lead = next(lead_rows, None)
    group = next(groups, None)
    while lead is not None or group is not None:
        if group is None or (lead is not None and lead[0] < group[0]):
            yield lead[0], lead[1], iter(())
            lead = next(lead_rows, None)
        elif lead is None or group[0] < lead[0]:
            yield group[0], EMPTY_PROFILE, group[1]
            group = next(groups, None)
        else:
            yield lead[0], lead[1], group[1]
            lead, group = next(lead_rows, None), next(groups, None)
