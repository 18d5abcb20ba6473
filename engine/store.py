"""The SQLite event store: one class that owns the schema; sqlite3 errors become StoreError."""

from __future__ import annotations

import contextlib
import itertools
import json
import sqlite3
from datetime import datetime, timezone
from operator import itemgetter
from pathlib import Path
from typing import Iterable, Iterator

import attrs
import sqlite_utils

from engine.errors import StoreError
from engine.events import Event

SCHEMA_VERSION = 1

# sqlite-utils's create_table cannot say WITHOUT ROWID, so the schema is plain SQL.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS leads (
    lead_id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,  -- JSON object str -> str
    origin  TEXT NOT NULL   -- 'file' or 'event'
);
CREATE TABLE IF NOT EXISTS events (
    lead_id     TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    props       TEXT NOT NULL,  -- JSON object str -> str
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (lead_id, ts, event_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events(event_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id       INTEGER PRIMARY KEY,
    ruleset_name TEXT,
    ruleset_path TEXT,
    ruleset_hash TEXT NOT NULL,
    as_of        INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    leads        INTEGER NOT NULL,
    events       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id       INTEGER NOT NULL,
    lead_id      TEXT NOT NULL,
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    PRIMARY KEY (run_id, lead_id)
);
CREATE TABLE IF NOT EXISTS stage_moves (
    run_id     INTEGER NOT NULL,
    lead_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    ts         INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    cause      TEXT NOT NULL,
    PRIMARY KEY (run_id, lead_id, seq)
);
"""

_RESULT_COLUMNS = ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified")
_MOVE_COLUMNS = ("lead_id", "seq", "ts", "from_stage", "to_stage", "rule", "cause")
_EVENT_COLUMNS = "lead_id, ts, event_id, type, props"
_BATCH = 500  # stays under SQLite's limit on bound variables per statement


@attrs.frozen
class AddCounts:
    """What `Store.add_events` did: events written, events skipped as repeats, leads created."""

    added: int
    duplicates: int
    new_leads: int


@attrs.frozen
class StoreCounts:
    """How much the store holds; first_ts and last_ts are None when there are no events."""

    leads: int
    events: int
    first_ts: int | None
    last_ts: int | None
    runs: int


class Store:
    """Leads, their events and the results of evaluation runs, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._db: sqlite_utils.Database | None = None
        try:
            with self._errors("cannot open store"):
                self._db = sqlite_utils.Database(path, execute_plugins=False)
                self._open()
        except StoreError:
            self.close()
            raise

    @classmethod
    def memory(cls) -> Store:
        """A fresh store that lives in memory, for tests."""
        return cls(":memory:")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; the store cannot be used afterwards."""
        if self._db is not None:
            self._db.close()
            self._db = None

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {doing}: {e}") from e

    @property
    def _database(self) -> sqlite_utils.Database:
        if self._db is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._db

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._database.conn

    def _open(self) -> None:
        self._db.execute("PRAGMA busy_timeout=5000")
        # Events arrive in no particular key order; a larger page cache keeps inserts into
        # the two event B-trees from spilling (2 MiB default; this is 64 MiB).
        self._db.execute("PRAGMA cache_size=-65536")
        if self.path != ":memory:":
            self._db.enable_wal()
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);")
        found = self._schema_version()
        if found is None:
            with self._database.atomic():
                self._db.executescript(_SCHEMA)
                self._conn.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                   (str(SCHEMA_VERSION),))
        elif found != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: store schema version {found} is newer than this leadrules "
                f"understands (version {SCHEMA_VERSION}); upgrade leadrules to use this store")

    def _schema_version(self) -> str | None:
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else row[0]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Make the writes inside the block one atomic unit: all of them, or none on exception."""
        with self._errors("transaction failed"), self._database.atomic():
            yield self

    def upsert_leads(self, rows: Iterable[tuple[str, dict[str, str]]]) -> int:
        """Write lead profiles (a later row replaces a lead's profile); returns rows written."""
        params = ((lead_id, _json(profile)) for lead_id, profile in rows)
        with self._errors("cannot write leads"), self._database.atomic():
            cursor = self._conn.executemany(
                "INSERT INTO leads (lead_id, profile, origin) VALUES (?, ?, 'file') "
                "ON CONFLICT (lead_id) DO UPDATE SET profile = excluded.profile, origin = 'file'",
                params)
            return max(cursor.rowcount, 0)

    def add_events(self, events: Iterable[Event], ingested_at: int) -> AddCounts:
        """Store events, skipping any whose event_id is stored or seen earlier in the input.

        A lead_id with no lead row gets one with an empty profile and origin 'event'.
        """
        seen: set[str] = set()
        added = duplicates = new_leads = 0
        with self._errors("cannot write events"), self._database.atomic():
            for batch in _batches(events, _BATCH):
                fresh = self._fresh(batch, seen)
                added += len(fresh)
                duplicates += len(batch) - len(fresh)
                new_leads += self._insert_events(fresh, ingested_at)
        return AddCounts(added=added, duplicates=duplicates, new_leads=new_leads)

    def _fresh(self, batch: list[Event], seen: set[str]) -> list[Event]:
        """The events of a batch not stored yet and not seen before; marks them seen."""
        ids = list({e.event_id for e in batch} - seen)
        marks = ", ".join("?" * len(ids))
        stored = self._conn.execute(
            f"SELECT event_id FROM events WHERE event_id IN ({marks})", ids)
        seen.update(row[0] for row in stored)
        fresh = []
        for event in batch:
            if event.event_id not in seen:
                seen.add(event.event_id)
                fresh.append(event)
        return fresh

    def _insert_events(self, events: list[Event], ingested_at: int) -> int:
        """Insert events known to be new; returns how many lead rows had to be created."""
        self._conn.executemany(
            "INSERT INTO events (lead_id, ts, event_id, type, props, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((e.lead_id, e.ts, e.event_id, e.type, _json(e.props), ingested_at) for e in events))
        lead_ids = sorted({e.lead_id for e in events})
        cursor = self._conn.executemany(
            "INSERT OR IGNORE INTO leads (lead_id, profile, origin) VALUES (?, '{}', 'event')",
            ((lead_id,) for lead_id in lead_ids))
        return max(cursor.rowcount, 0)

    def counts(self) -> StoreCounts:
        """How many leads, events and runs the store holds, and the span of event times."""
        with self._errors("cannot read counts"):
            row = self._conn.execute(
                "SELECT (SELECT count(*) FROM leads), count(*), min(ts), max(ts), "
                "(SELECT count(*) FROM runs) FROM events").fetchone()
        return StoreCounts(*row)

    def iter_lead_events(self) -> Iterator[tuple[str, dict[str, str], list[Event]]]:
        """Every lead by lead_id, with its profile and its events in (ts, event_id) order.

        Streams: one ordered scan of leads merged with one ordered scan of events, so only
        one lead's events are in memory at a time. Leads without events get an empty list.
        """
        with self._errors("cannot read events"):
            leads = self._conn.execute("SELECT lead_id, profile FROM leads ORDER BY lead_id")
            rows = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY lead_id, ts, event_id")
            groups = itertools.groupby(rows, key=itemgetter(0))
            pending = next(groups, None)
            for lead_id, profile in leads:
                # Both scans use SQLite's BINARY order, which is Python's str order for UTF-8.
                while pending is not None and pending[0] < lead_id:
                    pending = next(groups, None)
                events: list[Event] = []
                if pending is not None and pending[0] == lead_id:
                    events = [_event(row) for row in pending[1]]
                    pending = next(groups, None)
                yield lead_id, json.loads(profile), events

    def lead_events(self, lead_id: str) -> tuple[dict[str, str], list[Event]]:
        """One lead's profile and its events in (ts, event_id) order; StoreError if unknown."""
        with self._errors(f"cannot read lead {lead_id!r}"):
            row = self._conn.execute(
                "SELECT profile FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no lead {lead_id!r} in the store")
            rows = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE lead_id = ? ORDER BY ts, event_id",
                (lead_id,))
            return json.loads(row[0]), [_event(r) for r in rows]

    def save_run(self, ruleset_name: str | None, ruleset_path: str | None, ruleset_hash: str,
                 as_of: int, results: Iterable[dict], moves: Iterable[dict]) -> int:
        """Record one evaluation run with its per-lead results and stage moves; returns run_id.

        Result dicts have the `results` columns except run_id; move dicts the `stage_moves`
        columns except run_id. All of it is written in one transaction.
        """
        created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._errors("cannot save run"), self._database.atomic():
            run_id = self._conn.execute(
                "INSERT INTO runs (ruleset_name, ruleset_path, ruleset_hash, as_of, created_at, "
                "leads, events) VALUES (?, ?, ?, ?, ?, 0, (SELECT count(*) FROM events))",
                (ruleset_name, ruleset_path, ruleset_hash, as_of, created_at)).lastrowid
            leads = self._insert_rows("results", _RESULT_COLUMNS, run_id, results)
            self._insert_rows("stage_moves", _MOVE_COLUMNS, run_id, moves)
            self._conn.execute("UPDATE runs SET leads = ? WHERE run_id = ?", (leads, run_id))
        return run_id

    def _insert_rows(self, table: str, columns: tuple[str, ...], run_id: int,
                     rows: Iterable[dict]) -> int:
        """Insert dict rows under run_id (streaming them); returns how many there were."""
        count = 0

        def params() -> Iterator[tuple]:
            nonlocal count
            for row in rows:
                count += 1
                yield (run_id, *(row[c] for c in columns))

        names = ", ".join(("run_id", *columns))
        marks = ", ".join("?" * (len(columns) + 1))
        self._conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", params())
        return count

    def latest_run(self) -> dict | None:
        """The most recent run as a dict of its `runs` columns, or None if there is none."""
        with self._errors("cannot read runs"):
            rows = list(self._database.query("SELECT * FROM runs ORDER BY run_id DESC LIMIT 1"))
        return rows[0] if rows else None

    def results(self, run_id: int) -> list[dict]:
        """A run's results (columns except run_id): best score first, then best fit, then lead_id."""
        with self._errors(f"cannot read results of run {run_id}"):
            return list(self._database.query(
                f"SELECT {', '.join(_RESULT_COLUMNS)} FROM results WHERE run_id = ? "
                "ORDER BY score DESC, fit DESC, lead_id", (run_id,)))

    def funnel(self, run_id: int) -> list[tuple[str, int]]:
        """How many leads of a run are in each stage, largest stage first, ties by name."""
        with self._errors(f"cannot read results of run {run_id}"):
            rows = self._conn.execute(
                "SELECT stage, count(*) AS n FROM results WHERE run_id = ? "
                "GROUP BY stage ORDER BY n DESC, stage", (run_id,))
            return [(stage, n) for stage, n in rows]


_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def _json(mapping) -> str:
    return _JSON.encode(dict(mapping))


def _event(row: tuple) -> Event:
    lead_id, ts, event_id, type_, props = row
    return Event(event_id=event_id, lead_id=lead_id, type=type_, ts=ts, props=json.loads(props))


def _batches(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
