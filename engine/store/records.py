"""What the store hands out and takes in besides its rows: counts, import states, a run's writer,
and the small conversions between stored rows and the engine's values."""

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
from leadrules.engine.store.schema import CHECKPOINT_COLUMNS, DETAIL_COLUMNS, RESULT_COLUMNS


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


class RunWriter:
    """Writes the parts of one run inside `Store.saving_run`'s transaction: a full run into the
    `_base` tables, emptied for its ruleset, in key order; an incremental one into the `_recent`
    tables, where each replayed lead's rows replace the ones it had (schema.RUN_TABLES)."""

    def __init__(self, conn: sqlite3.Connection, ruleset: int, run_id: int, replace: bool):
        self._conn, self._key, self.run_id = conn, ruleset, run_id
        self._replace = replace
        self.totals: dict[str, int] = {}  # `runs` columns known at the end: events, replayed...
        self.unchanged: list[str] = []  # leads looked at and left as stored (no replay)

    def add(self, results: list[tuple], details: dict[str, list[tuple]],
            checkpoints: Iterable[tuple], kept: Iterable[tuple[str, int, int]] = (),
            unchanged: Iterable[str] = ()) -> None:
        """Rows in RESULT_COLUMNS, DETAIL_COLUMNS of their table, CHECKPOINT_COLUMNS. `kept`:
        (lead_id, moves, actions) of replayed leads whose first stored stage moves and actions
        stay (those before the checkpoint a replay resumed from; 0 for a replay from the start).
        Their other stored details go first, also those that the previous run's timers at its
        as-of time added after the checkpoint: a resumed replay makes them again, or not.
        `unchanged`: leads whose stored rows hold but for the date of their entry (see
        `Store.saving_run`)."""
        key = int(self._key)
        self.unchanged.extend(unchanged)
        if self._replace:
            self._keep(list(kept))
        # The ruleset's and the run's numbers are written into the statements (both are
        # integers this store made), so that the rows go to SQLite as they are.
        where = "_recent" if self._replace else "_base"
        for table, columns, fixed, rows in (
                ("results", RESULT_COLUMNS, (key, self.run_id), results),
                *((t, DETAIL_COLUMNS[t], (key,), details.get(t, ())) for t in DETAIL_COLUMNS),
                ("checkpoints", CHECKPOINT_COLUMNS, (key,), checkpoints)):
            names = ("ruleset", "run_id")[:len(fixed)] + columns
            values = ", ".join([*map(str, map(int, fixed)), *"?" * len(columns)])
            self._conn.executemany(
                f"{'INSERT OR REPLACE' if self._replace else 'INSERT'} INTO {table}{where} "
                f"({', '.join(names)}) VALUES ({values})", rows)

    def _keep(self, kept: list[tuple[str, int, int]]) -> None:
        """The kept stage moves and actions of replayed leads, in the recent tables: copied
        there from the base tables for a lead replayed first since the full run (before its
        result, written next, hides its base rows); its other recent details deleted. One
        statement per table over a TEMP table of `kept`, not one per lead (CROSS JOIN: SQLite
        would rather scan the base table)."""
        key = int(self._key)
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS run_kept (lead_id TEXT PRIMARY KEY, "
                           "moves INTEGER, actions INTEGER) WITHOUT ROWID")
        self._conn.execute("DELETE FROM temp.run_kept")
        self._conn.executemany("INSERT OR REPLACE INTO temp.run_kept VALUES (?, ?, ?)", kept)
        for table, column in (("stage_moves", "moves"), ("actions", "actions")):
            self._conn.execute(
                f"INSERT INTO {table}_recent SELECT b.* FROM temp.run_kept k "
                f"CROSS JOIN {table}_base b ON b.ruleset = {key} AND b.lead_id = k.lead_id "
                f"AND b.seq <= k.{column} "
                f"WHERE NOT EXISTS (SELECT 1 FROM results_recent r WHERE r.ruleset = {key} "
                "AND r.lead_id = k.lead_id)")
            self._conn.execute(
                f"DELETE FROM {table}_recent WHERE ruleset = {key} AND lead_id IN "
                f"(SELECT lead_id FROM temp.run_kept) AND seq > (SELECT k.{column} FROM "
                f"temp.run_kept k WHERE k.lead_id = {table}_recent.lead_id)")
        self._conn.execute(f"DELETE FROM sla_recent WHERE ruleset = {key} AND lead_id IN "
                           "(SELECT lead_id FROM temp.run_kept)")


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
