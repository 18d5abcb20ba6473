"""What the store hands out and takes in besides its rows: counts, import states, and the small
conversions between stored rows and the engine's values (a run's writer is in runtables.py)."""

from __future__ import annotations

import hashlib
import itertools
import json
import marshal
import sqlite3
from operator import itemgetter
from typing import Callable, Iterable, Iterator

import attrs

from leadrules.engine.events import Event


@attrs.frozen
class AddCounts:
    """What `Store.add_events` did: events written, events skipped as repeats, leads created."""

    added: int
    duplicates: int
    new_leads: int


@attrs.frozen
class LeadCounts:
    """What `Store.upsert_leads` did: lead rows written, and how many were new leads."""

    written: int
    new: int


@attrs.frozen
class ImportState:
    """An import as `begin_import` found or created it: its id and what it has committed."""

    import_id: int
    line_done: int
    rows: int
    added: int
    duplicates: int
    new_leads: int
    rejected: int
    status: str  # 'new', 'unfinished' (resumed), or 'done' (the file is unchanged since)


IMPORT_STATE_COLUMNS = "import_id, line_done, rows, added, duplicates, new_leads, rejected"


@attrs.frozen
class BatchCounts:
    """What one committed batch of an import did (lead rows or events added, rows rejected)."""

    added: int
    duplicates: int
    new_leads: int
    rejected: int


@attrs.frozen
class StoreCounts:
    """How much the store holds; first_ts and last_ts are None when there are no events."""

    leads: int
    events: int
    first_ts: int | None
    last_ts: int | None
    runs: int


@attrs.frozen
class StoreInfo:
    """Counts of everything in a store; `imports` are dicts of the `imports` columns."""

    path: str
    schema_version: int
    counts: StoreCounts
    leads_from_events: int  # leads known only from events, with no profile yet
    event_types: list[tuple[str, int]]
    latest_run: dict | None
    imports: list[dict]
    rejects: int  # rejected rows' problems recorded, over all imports


JSON_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def json_text(mapping) -> str:
    return JSON_ENCODER.encode(dict(mapping))


def profile_digest(profile: str) -> bytes:
    """A short digest of a profile's stored JSON text: a saved replay state holds only for it."""
    return hashlib.blake2b(profile.encode("utf-8"), digest_size=16).digest()


def checkpoint_row(lead_id: str, digest: bytes, saved: tuple) -> tuple:
    """A `checkpoints` row (CHECKPOINT_COLUMNS) for engine.evaluate.checkpoint's `saved` of a
    replay of the profile with this `profile_digest`."""
    position, applied, state = saved
    ts, event_id = position if position is not None else (None, None)
    return (lead_id, digest, ts, event_id, applied,
            marshal.dumps((position, applied, state)))


def unmarshal(data: bytes, usable: Callable[[tuple], bool]) -> tuple | None:
    """A saved state, or None when it cannot be read or used (the lead is replayed in full)."""
    try:
        saved = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return None
    return saved if usable(saved) else None


def merge_by_lead(leads: Iterable[tuple[str, object]], rows: Iterable[tuple]
           ) -> Iterator[tuple[str, object, list[tuple]]]:
    """(lead_id, what came with it, its rows) for (lead_id, anything) and event rows, both
    ordered by lead_id; leads without rows get an empty list. SQLite's BINARY order is
    Python's str order for UTF-8."""
    groups = itertools.groupby(rows, key=itemgetter(0))
    pending = next(groups, None)
    for lead_id, profile in leads:
        while pending is not None and pending[0] < lead_id:
            pending = next(groups, None)
        events: list[tuple] = []
        if pending is not None and pending[0] == lead_id:
            events = list(pending[1])
            pending = next(groups, None)
        yield lead_id, profile, events


def event_of_row(row: tuple) -> Event:
    lead_id, ts, event_id, type_, props = row
    return Event(event_id=event_id, lead_id=lead_id, type=type_, ts=ts, props=json.loads(props))


def span_condition(start: str | None, stop: str | None) -> tuple[str, tuple]:
    """SQL conditions (to follow a WHERE) and parameters for start <= lead_id < stop."""
    sql, params = "", []
    if start is not None:
        sql, params = sql + " AND lead_id >= ?", params + [start]
    if stop is not None:
        sql, params = sql + " AND lead_id < ?", params + [stop]
    return sql, tuple(params)


def executescript(conn: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the current transaction (executescript would commit)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""


def batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
