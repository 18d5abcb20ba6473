"""The SQLite event store: one class that owns the schema; sqlite3 errors become StoreError."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Container, Iterable, Iterator

import attrs

from leadrules.engine.errors import StoreError
from leadrules.engine.events import Event
from leadrules.engine.store import runtables, staging, views
from leadrules.engine.store.records import (
    IMPORT_STATE_COLUMNS,
    JSON_ENCODER,
    AddCounts,
    BatchCounts,
    ImportState,
    LeadCounts,
    StoreCounts,
    StoreInfo,
    batches,
    event_of_row,
    executescript,
    json_text,
    merge_by_lead,
    profile_digest,
    span_condition,
    unmarshal,
)
from leadrules.engine.store.schema import (
    _SCHEMA_1,
    DETAIL_COLUMNS,
    EVENT_COLUMNS,
    MIGRATIONS,
    RESULT_COLUMNS,
    RESULTS_DUE,
    SCHEMA_VERSION,
)

if TYPE_CHECKING:
    import sqlite_utils

_BATCH = 500  # stays under SQLite's limit on bound variables per statement


class Store:
    """Leads, their events and the results of evaluation runs, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None
        self._db: sqlite_utils.Database | None = None
        try:
            with self._errors("cannot open store"):
                self._connection = sqlite3.connect(self.path)
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
        if self._connection is not None:
            self._connection.close()
            self._connection = self._db = None

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {doing}: {e}") from e

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreError(f"{self.path}: the store is closed")
        return self._connection

    @property
    def _database(self) -> sqlite_utils.Database:
        """sqlite-utils over the store's connection, made on first use: importing sqlite_utils
        takes 0.1 s, a third of a command's start, and the commands that score or list leads
        need none of it."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self._conn, execute_plugins=False)
        return self._db

    def _query(self, sql: str, params: Iterable = ()) -> Iterator[dict]:
        """The rows of a query as dicts of their column names."""
        cursor = self._conn.execute(sql, tuple(params))
        names = [column[0] for column in cursor.description]
        return (dict(zip(names, row)) for row in cursor)

    def _open(self) -> None:
        conn = self._conn
        conn.execute("PRAGMA busy_timeout=5000")
        # Events arrive in no particular key order; a larger page cache keeps inserts into
        # the two event B-trees from spilling (2 MiB default; this is 64 MiB).
        conn.execute("PRAGMA cache_size=-65536")
        if self.path != ":memory:":
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=wal")
            # In WAL mode NORMAL loses no committed transaction when the process dies, only
            # (at worst) the last ones when the machine loses power; the file stays consistent.
            conn.execute("PRAGMA synchronous=NORMAL")
        if self._schema_version() == SCHEMA_VERSION:
            return  # the common case takes no write lock, so readers never wait for a writer
        with self._transaction():
            self._migrate(self._schema_version())

    def _schema_version(self) -> int:
        """The version of the schema in the file: 0 for a new file."""
        if self._conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
            return 0
        row = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            return 0
        if not str(row[0]).isdigit():
            raise StoreError(f"{self.path}: not a leadrules store (schema version {row[0]!r})")
        return int(row[0])

    def _migrate(self, found: int) -> None:
        """Create the schema in a new file, or bring an older one up to SCHEMA_VERSION."""
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {found} is newer than this leadrules "
                f"understands (version {SCHEMA_VERSION}); upgrade leadrules to use this store")
        if found == SCHEMA_VERSION:
            return
        kept = views.drop_all(self._conn)
        if found == 0:
            self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            executescript(self._conn, _SCHEMA_1)
            found = 1
        for version in range(found, SCHEMA_VERSION):
            executescript(self._conn, MIGRATIONS[version])
        views.remake(self._conn, kept)
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))

    @property
    def schema_version(self) -> int:
        with self._errors("cannot read the schema version"):
            return self._schema_version()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One atomic unit of writes; inside another, a savepoint.

        BEGIN IMMEDIATE takes the write lock at the start, so two writers queue up behind the
        busy timeout instead of one failing when it tries to upgrade a read lock.
        """
        if self._conn.in_transaction:
            with self._database.atomic():
                yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Make the writes inside the block one atomic unit: all of them, or none on exception."""
        with self._errors("transaction failed"), self._transaction():
            yield self

    def upsert_leads(self, rows: Iterable[tuple[str, dict[str, str]]]) -> LeadCounts:
        """Write lead profiles; a row for a stored lead updates the fields it gives.

        Fields a row leaves empty keep their stored value, so a file with a few columns
        updates just those. Returns the rows written and how many leads were new.
        """
        written = new = 0
        with self._errors("cannot write leads"), self._transaction():
            for batch in batches(rows, _BATCH):
                counts = self._put_leads(batch)
                written, new = written + counts.written, new + counts.new
        return LeadCounts(written=written, new=new)

    def _put_leads(self, rows: list[tuple[str, dict[str, str]]]) -> LeadCounts:
        ids = JSON_ENCODER.encode(sorted({lead_id for lead_id, _ in rows}))
        (stored,) = self._conn.execute(
            "SELECT count(*) FROM leads WHERE lead_id IN (SELECT value FROM json_each(?))",
            (ids,)).fetchone()
        self._conn.executemany(
            "INSERT INTO leads (lead_id, profile, origin) VALUES (?, ?, 'file') "
            "ON CONFLICT (lead_id) DO UPDATE SET "
            "profile = json_patch(profile, excluded.profile), origin = 'file'",
            ((lead_id, json_text(profile)) for lead_id, profile in rows))
        self._mark_leads(ids)
        return LeadCounts(written=len(rows), new=len(json.loads(ids)) - stored)

    def add_events(self, events: Iterable[Event], ingested_at: int) -> AddCounts:
        """Store events, skipping any whose event_id is stored or seen earlier in the input.

        A lead_id with no lead row gets one with an empty profile and origin 'event'.
        """
        added = duplicates = new_leads = 0
        with self._errors("cannot write events"), self._transaction():
            for batch in batches(events, _BATCH):
                counts = self._put_events(batch, ingested_at)
                added += counts.added
                duplicates += counts.duplicates
                new_leads += counts.new_leads
        return AddCounts(added=added, duplicates=duplicates, new_leads=new_leads)

    def _put_events(self, events: list[Event], ingested_at: int) -> AddCounts:
        """Insert events, ignoring repeated ids (in the store or the batch), and their leads."""
        # OR IGNORE skips a row whose event_id (unique index) or key is already there.
        added = self._conn.executemany(
            "INSERT OR IGNORE INTO events (lead_id, ts, event_id, type, props, ingested_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(e.lead_id, e.ts, e.event_id, e.type, json_text(e.props), ingested_at)
             for e in events]).rowcount
        # Only leads of events that were stored: a skipped repeat creates no lead.
        lead_ids = JSON_ENCODER.encode(sorted({e.lead_id for e in events}))
        new_leads = self._conn.execute(
            "INSERT OR IGNORE INTO leads (lead_id, profile, origin) "
            "SELECT value, '{}', 'event' FROM json_each(?) "
            "WHERE EXISTS (SELECT 1 FROM events WHERE events.lead_id = value)",
            (lead_ids,)).rowcount
        if added > 0:  # all of the batch's leads: a run replaying one more lead is harmless
            self._mark_leads(lead_ids)
        return AddCounts(added=max(added, 0), duplicates=len(events) - max(added, 0),
                         new_leads=max(new_leads, 0))

    # Imports -----------------------------------------------------------------------------

    def begin_import(self, kind: str, source: str, fingerprint: str | None, format: str,
                     now: int) -> ImportState:
        """Start an import, or find the last one of the same unchanged file.

        If that one is unfinished (its process died, or `--max-rejects` stopped it), it is
        resumed: its committed batches stay and it carries on after its last committed line.
        If it is done, the state says so and the file need not be read again.
        """
        with self._errors("cannot start the import"), self._transaction():
            staging.create_stage(self._conn)
            self._merge_staged()  # rows an import staged before its process died
            row = None
            if fingerprint is not None:
                row = self._conn.execute(
                    f"SELECT {IMPORT_STATE_COLUMNS}, status FROM imports WHERE kind = ? AND source = ? "
                    "AND fingerprint = ? ORDER BY import_id DESC LIMIT 1",
                    (kind, source, fingerprint)).fetchone()
            if row is not None and row[-1] == "done":
                return ImportState(*row[:-1], status="done")
            if row is not None:
                self._conn.execute("UPDATE imports SET status = 'running' WHERE import_id = ?",
                                   (row[0],))
                return ImportState(*row[:-1], status="unfinished")
            import_id = self._conn.execute(
                "INSERT INTO imports (kind, source, fingerprint, format, started_at, status) "
                "VALUES (?, ?, ?, ?, ?, 'running')",
                (kind, source, fingerprint, format, now)).lastrowid
            return ImportState(import_id, 0, 0, 0, 0, 0, 0, status="new")

    def commit_batch(self, import_id: int, line_done: int, rows: int, *,
                     leads: list[tuple[str, dict[str, str]]] = (), events: list[Event] = (),
                     staged: list[tuple] = (), rejects: list = (),
                     ingested_at: int = 0) -> BatchCounts:
        """Write one batch of an import in one transaction: its leads, events or `staged`
        event rows (lead_id, ts, event_id, type, props JSON; `merge_staged` stores them), its
        rejects, and the import's progress. After a crash the store has whole batches only."""
        with self._errors("cannot write the batch"), self._transaction():
            if leads:
                lead_counts = self._put_leads(leads)
                counts = BatchCounts(lead_counts.written, 0, lead_counts.new, 0)
            elif staged:
                repeats = staging.stage(self._conn, import_id, ingested_at, staged)
                counts = BatchCounts(0, repeats, 0, 0)
            else:
                added = self._put_events(events, ingested_at)
                counts = BatchCounts(added.added, added.duplicates, added.new_leads, 0)
            counts = attrs.evolve(counts, rejected=len({r.line for r in rejects}))
            self._conn.executemany(
                'INSERT INTO rejects (import_id, file, line, "column", value, reason, raw) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((import_id, r.file, r.line, r.column, r.value, r.reason, r.raw)
                 for r in rejects))
            # Never past a line committed already: a second writer of this import (which the
            # import lock keeps out) would otherwise count its rows twice.
            if not self._conn.execute(
                "UPDATE imports SET line_done = ?, rows = rows + ?, added = added + ?, "
                "duplicates = duplicates + ?, new_leads = new_leads + ?, "
                "rejected = rejected + ? WHERE import_id = ? AND line_done < ?",
                (line_done, rows, counts.added, counts.duplicates, counts.new_leads,
                 counts.rejected, import_id, line_done)).rowcount:
                raise StoreError(f"{self.path}: import {import_id} has committed line "
                                 f"{line_done} already; another process is importing it")
        return counts

    def merge_staged(self, lead_ids: list[str] | None = None) -> AddCounts:
        """Store the staged rows of an import in `events`, in one transaction, and add what
        they did to the import's counts; `lead_ids`, if given, are the staged rows' leads."""
        with self._errors("cannot store the staged events"), self._transaction():
            return self._merge_staged(lead_ids)

    def _merge_staged(self, lead_ids: list[str] | None = None) -> AddCounts:
        found = staging.staged_import(self._conn)
        if found is None:
            return AddCounts(0, 0, 0)
        counts = staging.merge(self._conn, self._mark_leads, lead_ids)
        self._conn.execute(
            "UPDATE imports SET added = added + ?, duplicates = duplicates + ?, "
            "new_leads = new_leads + ? WHERE import_id = ?",
            (counts.added, counts.duplicates, counts.new_leads, found[0]))
        return counts

    def imported_events(self) -> int:
        """About how many events the store holds, from its imports' counts (a count(*) of
        `events` reads the whole table)."""
        with self._errors("cannot read imports"):
            return self._conn.execute(
                "SELECT coalesce(sum(added), 0) FROM imports WHERE kind = 'events'").fetchone()[0]

    def running_import(self, sources: list[str]) -> str | None:
        """The latest import of one of `sources` marked running, as a phrase for messages,
        or None."""
        with self._errors("cannot read imports"):
            row = self._conn.execute(
                "SELECT import_id, kind, source, rows FROM imports WHERE status = 'running' "
                "AND source IN (SELECT value FROM json_each(?)) ORDER BY import_id DESC LIMIT 1",
                (JSON_ENCODER.encode(sources),)).fetchone()
        if row is None:
            return None
        return f"import {row[0]} of {row[1]} from {row[2]}, {row[3]:,} rows committed so far"

    def finish_import(self, import_id: int, status: str, now: int) -> None:
        """Mark an import 'done', or 'stopped' / 'failed' (resumable) when it ended early."""
        with self._errors("cannot finish the import"), self._transaction():
            self._conn.execute(
                "UPDATE imports SET status = ?, finished_at = ? WHERE import_id = ?",
                (status, now, import_id))

    def rejects(self, import_ids: Iterable[int], limit: int = -1) -> list[dict]:
        """The first `limit` (all by default) rejected rows of some imports, by import and line."""
        return list(self.iter_rejects(import_ids, limit))

    def iter_rejects(self, import_ids: Iterable[int], limit: int = -1) -> Iterator[dict]:
        """The rejected rows of some imports as dicts, streamed from the table."""
        ids = JSON_ENCODER.encode(list(import_ids))
        with self._errors("cannot read rejects"):
            yield from self._query(
                'SELECT file, line, "column", value, reason, raw FROM rejects '
                "WHERE import_id IN (SELECT value FROM json_each(?)) "
                "ORDER BY import_id, line, rowid LIMIT ?", (ids, limit))

    def count_rejects(self, import_ids: Iterable[int]) -> int:
        """How many problems the rejected rows of some imports have (a row may have several)."""
        with self._errors("cannot read rejects"):
            return self._conn.execute(
                "SELECT count(*) FROM rejects WHERE import_id IN (SELECT value FROM json_each(?))",
                (JSON_ENCODER.encode(list(import_ids)),)).fetchone()[0]

    def lead_count(self) -> int:
        """How many leads the store holds (cheaper than `counts`, which scans the events)."""
        with self._errors("cannot read counts"):
            return self._conn.execute("SELECT count(*) FROM leads").fetchone()[0]

    def counts(self) -> StoreCounts:
        """How many leads, events and runs the store holds, and the span of event times."""
        with self._errors("cannot read counts"):
            row = self._conn.execute(
                "SELECT (SELECT count(*) FROM leads), count(*), min(ts), max(ts), "
                "(SELECT count(*) FROM runs) FROM events").fetchone()
        return StoreCounts(*row)

    def info(self) -> StoreInfo:
        """What the store holds, for `leadrules store info`."""
        with self._errors("cannot read the store"):
            counts = self.counts()
            (from_events,) = self._conn.execute(
                "SELECT count(*) FROM leads WHERE origin = 'event'").fetchone()
            types = self._conn.execute(
                "SELECT type, count(*) AS n FROM events GROUP BY type ORDER BY n DESC, type")
            imports = list(self._query(
                "SELECT import_id, kind, source, format, started_at, status, rows, added, "
                "duplicates, new_leads, rejected FROM imports ORDER BY import_id"))
            (rejects,) = self._conn.execute("SELECT count(*) FROM rejects").fetchone()
            return StoreInfo(path=self.path, schema_version=self._schema_version(),
                             counts=counts, leads_from_events=from_events,
                             event_types=[(t, n) for t, n in types], latest_run=self.latest_run(),
                             imports=imports, rejects=rejects)

    def has_lead(self, lead_id: str) -> bool:
        with self._errors(f"cannot read lead {lead_id!r}"):
            return self._conn.execute("SELECT 1 FROM leads WHERE lead_id = ?",
                                      (lead_id,)).fetchone() is not None

    def lead_events(self, lead_id: str) -> tuple[dict[str, str], list[Event]]:
        """One lead's profile and its events in (ts, event_id) order; StoreError if unknown."""
        with self._errors(f"cannot read lead {lead_id!r}"):
            row = self._conn.execute(
                "SELECT profile FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no lead {lead_id!r} in the store")
            rows = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE lead_id = ? ORDER BY ts, event_id",
                (lead_id,))
            return json.loads(row[0]), [event_of_row(r) for r in rows]

    # Runs ---------------------------------------------------------------------------------------

    def data_version(self) -> int:
        """A counter that grows with every write of leads or events; leads carry the value of
        their last change, so a run can find the leads changed since the version it read."""
        with self._errors("cannot read the data version"):
            row = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0

    def _mark_leads(self, lead_ids_json: str) -> None:
        """Give the leads in the JSON list a new data version (inside the caller's transaction)."""
        self._conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 "
                           "WHERE key = 'data_version'")
        (version,) = self._conn.execute(
            "SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        self._conn.execute(
            "UPDATE leads SET version = ? WHERE lead_id IN (SELECT value FROM json_each(?))",
            (version, lead_ids_json))

    def iter_lead_rows(self, lead_ids: Iterable[str] | None = None,
                       types: Iterable[str] | None = None,
                       span: tuple[str | None, str | None] = (None, None)
                       ) -> Iterator[tuple[str, dict[str, str], list[tuple]]]:
        """Leads by lead_id with their profile and their event rows (lead_id, ts, event_id,
        type, props as JSON text) in (ts, event_id) order: every lead, the ones given, or those
        with start <= lead_id < stop for span (start, stop); events of every type, or of the
        types given.

        Every lead is one ordered scan of leads merged with one ordered scan of events, so only
        one lead's events are in memory at a time; leads without events get an empty list.
        """
        for lead_id, profile, rows in self.scan_leads(lead_ids, types, span):
            yield lead_id, json.loads(profile), rows

    def scan_leads(self, lead_ids: Iterable[str] | None = None,
                   types: Iterable[str] | None = None,
                   span: tuple[str | None, str | None] = (None, None)
                   ) -> Iterator[tuple[str, str, list[tuple]]]:
        """`iter_lead_rows` with each profile as its stored JSON text."""
        where, params = "", ()
        if types is not None:
            where, params = "WHERE type IN (SELECT value FROM json_each(?))", (
                JSON_ENCODER.encode(sorted(types)),)
        with self._errors("cannot read events"):
            if lead_ids is not None:
                where = where.replace("WHERE", "AND")
                for lead_id in sorted(lead_ids):
                    row = self._conn.execute(
                        "SELECT profile FROM leads WHERE lead_id = ?", (lead_id,)).fetchone()
                    if row is not None:
                        yield lead_id, row[0], self._conn.execute(
                            f"SELECT {EVENT_COLUMNS} FROM events WHERE lead_id = ? {where} "
                            "ORDER BY ts, event_id", (lead_id, *params)).fetchall()
                return
            bounds, limits = span_condition(*span)
            leads = self._conn.execute(
                f"SELECT lead_id, profile FROM leads WHERE 1 {bounds} ORDER BY lead_id", limits)
            where = where or "WHERE 1"
            rows = self._conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events {where} {bounds} "
                "ORDER BY lead_id, ts, event_id", (*params, *limits))
            yield from merge_by_lead(leads, rows)

    def resume_leads(self, ruleset_hash: str, lead_ids: Iterable[str], types: Iterable[str],
                     usable: Callable[[tuple], bool], settled: Container[str] = ()
                     ) -> Iterator[tuple[str, str, bytes, tuple | None, list[tuple]]]:
        """The leads given, by lead_id, as (lead_id, profile JSON text, its `profile_digest`,
        saved state, rows).

        The saved state is the lead's checkpoint for the ruleset when it still holds: `usable`,
        for the same profile, and no event of `types` came late, at or before its position.
        Then the rows are the events of `types` after that position (none for a lead of
        `settled`, whose later events cannot change it); otherwise the saved state is None and
        the rows are all of them.
        """
        types_json = JSON_ENCODER.encode(sorted(types))
        ids_json = JSON_ENCODER.encode(sorted(lead_ids))
        with self._errors("cannot read saved replay states"):
            ruleset = self._ruleset(ruleset_hash)
            saved: dict[str, tuple] = {}
            for lead_id, profile, ts, event_id, applied, state, found in self._conn.execute(
                    "SELECT c.lead_id, c.profile, c.ts, c.event_id, c.applied, c.state, "
                    " (SELECT count(*) FROM events e WHERE e.lead_id = c.lead_id "
                    "   AND (e.ts, e.event_id) <= (c.ts, c.event_id) "
                    "   AND e.type IN (SELECT value FROM json_each(?))) "
                    "FROM checkpoints c WHERE c.ruleset = ? "
                    "AND c.lead_id IN (SELECT value FROM json_each(?))",
                    (types_json, ruleset, ids_json)):
                if found == applied:  # (ts NULL: nothing applied, and found counts nothing)
                    saved[lead_id] = (profile, ts, event_id, state)
            starts, leads = [], []
            for lead_id, profile in self._conn.execute(
                    "SELECT lead_id, profile FROM leads WHERE lead_id IN "
                    "(SELECT value FROM json_each(?)) ORDER BY lead_id", (ids_json,)):
                digest, state, start = profile_digest(profile), None, (-1, "")
                kept = saved.get(lead_id)
                if kept is not None and kept[0] == digest:
                    state = unmarshal(kept[3], usable)
                    if state is not None and lead_id in settled:
                        leads.append((lead_id, (profile, digest, state)))
                        continue
                    if state is not None and kept[1] is not None:
                        start = (kept[1], kept[2])
                starts.append((lead_id, *start))
                leads.append((lead_id, (profile, digest, state)))
            rows = self._conn.execute(
                f"SELECT {', '.join('e.' + c for c in EVENT_COLUMNS.split(', '))} "
                "FROM json_each(?) j JOIN events e "
                "ON e.lead_id = json_extract(j.value, '$[0]') "
                "AND (e.ts, e.event_id) > (json_extract(j.value, '$[1]'), "
                "json_extract(j.value, '$[2]')) "
                "WHERE e.type IN (SELECT value FROM json_each(?)) "
                "ORDER BY e.lead_id, e.ts, e.event_id", (JSON_ENCODER.encode(starts), types_json))
            for lead_id, (profile, digest, state), rows_of in merge_by_lead(leads, rows):
                yield lead_id, profile, digest, state, rows_of

    def lead_spans(self, parts: int) -> list[tuple[str | None, str | None]]:
        """`parts` contiguous lead_id ranges (start, stop) of about equal numbers of leads."""
        with self._errors("cannot read leads"):
            (total,) = self._conn.execute("SELECT count(*) FROM leads").fetchone()
            cuts = [self._conn.execute("SELECT lead_id FROM leads ORDER BY lead_id LIMIT 1 "
                                       "OFFSET ?", (total * k // parts,)).fetchone()[0]
                    for k in range(1, parts)] if total >= parts else []
        edges = [None, *sorted(set(cuts)), None]
        return list(zip(edges, edges[1:]))

    def read(self, sql: str, params: Iterable = ()) -> Iterator[tuple]:
        """The rows of a read-only query (reports compute their figures in SQL this way)."""
        with self._errors("cannot read the store"):
            yield from self._conn.execute(sql, tuple(params))

    def scratch(self, script: str, rows: Iterable[tuple] | None = None) -> None:
        """Statements on TEMP tables, which only this connection sees (a report's working
        tables): `script`, or one statement executed for each of `rows`."""
        with self._errors("cannot make a working table"):
            inside = self._conn.in_transaction
            if rows is None:
                executescript(self._conn, script)
            else:
                self._conn.executemany(script, rows)
            if not inside and self._conn.in_transaction:
                self._conn.commit()  # the implicit transaction of an INSERT, into TEMP only

    def ruleset_number(self, ruleset_hash: str) -> int | None:
        """The number that a ruleset's rows carry, or None if it never ran here."""
        with self._errors("cannot read rulesets"):
            return self._ruleset(ruleset_hash)

    def run(self, run_id: int) -> dict | None:
        """One run as a dict of its `runs` columns, or None."""
        with self._errors("cannot read runs"):
            rows = list(self._query("SELECT * FROM runs WHERE run_id = ?", (run_id,)))
        return rows[0] if rows else None

    def _ruleset(self, ruleset_hash: str) -> int | None:
        """The number that a ruleset's rows carry, or None if it never ran here."""
        row = self._conn.execute("SELECT ruleset FROM rulesets WHERE hash = ?",
                                 (ruleset_hash,)).fetchone()
        return None if row is None else row[0]

    def leads_to_replay(self, ruleset_hash: str, since_version: int, as_of: int) -> list[str]:
        """Leads whose results for a ruleset may differ at `as_of` from the stored ones: changed
        after `since_version`, or with a timer or a later event due by `as_of`."""
        with self._errors("cannot read leads to replay"):
            rows = self._conn.execute(
                "SELECT lead_id FROM leads WHERE version > ? UNION "
                "SELECT lead_id FROM results WHERE ruleset = ? AND next_due <= ?",
                (since_version, self._ruleset(ruleset_hash), as_of))
            return [lead_id for (lead_id,) in rows]

    def last_run(self, ruleset_hash: str | None = None) -> dict | None:
        """The most recent run (of one ruleset, if given) as a dict of its `runs` columns."""
        where, params = ("WHERE ruleset_hash = ?", (ruleset_hash,)) if ruleset_hash else ("", ())
        with self._errors("cannot read runs"):
            rows = list(self._query(
                f"SELECT * FROM runs {where} ORDER BY run_id DESC LIMIT 1", params))
        return rows[0] if rows else None

    def latest_run(self) -> dict | None:
        """The most recent run of any ruleset, or None if there is none."""
        return self.last_run()

    def current_results(self, ruleset_hash: str, lead_ids: Iterable[str] | None = None
                        ) -> dict[str, tuple]:
        """The stored result rows of a ruleset (of some leads), by lead_id, in RESULT_COLUMNS.
        Read from the base table and then the recent one, whose rows replace those of their
        leads (what the `results` view does row by row, with a join per row)."""
        columns = ", ".join(RESULT_COLUMNS)
        key = self._ruleset(ruleset_hash)
        where, params = "", ()
        if lead_ids is not None:
            where, params = ("AND lead_id IN (SELECT value FROM json_each(?))",
                             (JSON_ENCODER.encode(list(lead_ids)),))
        found: dict[str, tuple] = {}
        with self._errors("cannot read results"):
            for part in ("base", "recent"):
                found.update((row[0], row) for row in self._conn.execute(
                    f"SELECT {columns} FROM results_{part} WHERE ruleset = ? {where}",
                    (key, *params)))
        return found

    @contextlib.contextmanager
    def saving_run(self, run: dict, full: bool) -> Iterator[runtables.RunWriter]:
        """One run, recorded and written in one transaction as its parts come in: all of it
        is stored, or nothing (on an exception). `run` has the `runs` columns except run_id,
        created_at, leads and the `RunWriter.totals`. A full run first drops every stored row
        of the ruleset; otherwise each written row replaces the stored row of its key.
        """
        created_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._errors("cannot save run"), self._transaction():
            self._conn.execute(
                "INSERT INTO rulesets (hash, name, path) VALUES (?, ?, ?) ON CONFLICT (hash) "
                "DO UPDATE SET name = excluded.name, path = excluded.path",
                (run["ruleset_hash"], run["ruleset_name"], run["ruleset_path"]))
            key = self._ruleset(run["ruleset_hash"])
            names = ", ".join(run)
            run_id = self._conn.execute(
                f"INSERT INTO runs ({names}, created_at) VALUES "
                f"({', '.join('?' * len(run))}, ?)", (*run.values(), created_at)).lastrowid
            if full:
                # Rows inserted in lead order keep the tables' own B-trees in order, but not
                # this index, ordered by time: kept up row by row it took a third of the
                # results' inserts (0.2-0.4 s at 100k leads); made again at the end, 0.05-0.09.
                self._conn.execute("DROP INDEX IF EXISTS results_due")
                runtables.clear(self._conn, key)
            writer = runtables.RunWriter(self._conn, key, run_id, replace=not full)
            yield writer
            runtables.complete_history(self._conn, int(key), int(run_id), full,
                                       writer.unchanged)
            if full:
                self._conn.execute(RESULTS_DUE)
            else:
                runtables.fold(self._conn, int(key))
            totals = {"leads": None, "stages": None, **writer.totals}
            if totals["leads"] is None:  # not known to the writer: counted
                totals["leads"] = runtables.result_counts(self._conn, key, "ruleset").get(key, 0)
            if totals["stages"] is None:
                totals["stages"] = json.dumps(runtables.result_counts(self._conn, key, "stage"),
                                              sort_keys=True)
            self._conn.execute(
                f"UPDATE runs SET {', '.join(f'{name} = ?' for name in totals)} "
                "WHERE run_id = ?", (*totals.values(), run_id))

    def make_views(self, made: dict[str, str]) -> None:
        """Make (or make again) the views given as {name: CREATE VIEW ...}, in one transaction."""
        with self._errors("cannot make views"), self._transaction():
            executescript(self._conn, views.replace_views(made))

    def save_run(self, run: dict, results: list[tuple], details: dict[str, list[tuple]],
                 restarted: list[str] | None, checkpoints: Iterable[tuple] = ()) -> int:
        """`saving_run` of one part; `restarted`: the leads replayed from their start, or None
        for a full run. Returns the run_id."""
        with self.saving_run(run, full=restarted is None) as writer:
            writer.add(results, details, checkpoints,
                       [(lead_id, 0, 0) for lead_id in restarted or ()])
        return writer.run_id

    def results(self, ruleset_hash: str, *, stage: str | None = None,
                priority: str | None = None, limit: int | None = None) -> list[dict]:
        """A ruleset's current results: best score first, then best fit, then lead_id."""
        where, params = ["ruleset = ?"], [self._ruleset(ruleset_hash)]
        for column, value in (("stage", stage), ("priority", priority)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        with self._errors("cannot read results"):
            return list(self._query(
                f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE {' AND '.join(where)} "
                f"ORDER BY score DESC, fit DESC, lead_id LIMIT ?", (*params, -1 if limit is None
                                                                  else limit)))

    def details(self, table: str, ruleset_hash: str, lead_id: str | None = None) -> list[dict]:
        """Stored stage moves, actions or SLA entries of a ruleset (of one lead), in order."""
        columns = DETAIL_COLUMNS[table]
        where, params = "ruleset = ?", [self._ruleset(ruleset_hash)]
        if lead_id is not None:
            where, params = where + " AND lead_id = ?", params + [lead_id]
        with self._errors(f"cannot read {table}"):
            return list(self._query(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {where} ORDER BY lead_id, seq",
                params))

    def complete(self, kind: str, prefix: str, limit: int = 50) -> list[str]:
        """For shell completion: the stage names of the latest run's results, or lead ids,
        that start with `prefix`, in order; at most `limit`."""
        sql = {"stage": "SELECT DISTINCT stage FROM results WHERE ruleset = (SELECT ruleset FROM "
                        "rulesets JOIN runs ON runs.ruleset_hash = rulesets.hash ORDER BY run_id "
                        "DESC LIMIT 1) AND stage >= ? AND stage < ? ORDER BY stage LIMIT ?",
               "lead": "SELECT lead_id FROM leads WHERE lead_id >= ? AND lead_id < ? "
                       "ORDER BY lead_id LIMIT ?"}[kind]
        with self._errors("cannot read the store"):
            rows = self._conn.execute(sql, (prefix, prefix + "\U0010ffff", limit))
            return [value for value, in rows]

    def funnel(self, ruleset_hash: str) -> list[tuple[str, int]]:
        """How many leads are in each stage, largest stage first, ties by name."""
        run = self.last_run(ruleset_hash)
        if run is not None and run.get("stages") is not None:  # stored by the run
            counts = json.loads(run["stages"])
        else:
            with self._errors("cannot read results"):
                counts = runtables.result_counts(self._conn, self._ruleset(ruleset_hash),
                                                 "stage")
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def profile_keys(self) -> set[str]:
        """Every field name some lead's profile has (for ingest's warnings; reads every lead)."""
        with self._errors("cannot read profiles"):
            return {key for (key,) in self._conn.execute(
                "SELECT DISTINCT j.key FROM leads, json_each(leads.profile) AS j")}
