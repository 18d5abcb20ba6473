"""The write path of imports: each batch is appended to a staging table, and staged rows are
merged into `events` in key order, many batches at a time.

Inserted straight into `events` (keyed by lead, so a batch lands on thousands of leaf pages),
every batch commit wrote most of those pages again; at 2M rows that was 80% of an import.
Appending to a rowid table costs a few pages per batch, and one merge `ORDER BY lead_id, ts,
event_id` walks `events` once in order. Both are ordinary transactions, so a crash loses
nothing committed: staged rows stay staged and the next import merges them first.
"""

from __future__ import annotations

import sqlite3

from leadrules.engine.store.records import JSON_ENCODER, AddCounts

# The stage holds one import's rows (imports run one at a time: importlock.py). Its unique
# index on event_id keeps the first of two rows with one id, as a direct insert would.
STAGE_SCHEMA = """
CREATE TABLE IF NOT EXISTS events_staged (
    lead_id     TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    props       TEXT NOT NULL,
    ingested_at INTEGER NOT NULL,
    import_id   INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_staged_id ON events_staged(event_id);
"""
# A merge waits for as many staged rows as `events` holds (so a store's events are written
# about twice in all, however large the import), at least one batch, at most this many: one
# merge holds the write lock for its whole transaction, and other writers wait 5 s at most.
MERGE_MAX_ROWS = 500_000


def create_stage(conn: sqlite3.Connection) -> None:
    """Make the staging table if this store has none yet (inside the caller's transaction)."""
    for statement in STAGE_SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def stage(conn: sqlite3.Connection, import_id: int, ingested_at: int, rows: list[tuple]) -> int:
    """Append (lead_id, ts, event_id, type, props JSON) rows; returns how many repeated an id
    staged before them."""
    staged = conn.executemany(
        "INSERT OR IGNORE INTO events_staged VALUES "
        f"(?, ?, ?, ?, ?, {int(ingested_at)}, {int(import_id)})", rows).rowcount
    return len(rows) - max(staged, 0)


def staged_import(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """(import_id, rows) of what is staged, or None when nothing is."""
    row = conn.execute("SELECT import_id, count(*) FROM events_staged").fetchone()
    return None if row[1] == 0 else (row[0], row[1])


def merge(conn: sqlite3.Connection, mark_leads, lead_ids: list[str] | None = None
          ) -> AddCounts:
    """Move every staged row into `events` in key order (inside the caller's transaction):
    rows whose id or key is stored already are duplicates; leads of stored events are made.
    `lead_ids`: the staged rows' leads, when the caller kept them (a DISTINCT over a million
    staged rows took 0.6 s)."""
    (staged,) = conn.execute("SELECT count(*) FROM events_staged").fetchone()
    if staged == 0:
        return AddCounts(0, 0, 0)
    added = conn.execute(
        "INSERT OR IGNORE INTO events (lead_id, ts, event_id, type, props, ingested_at) "
        "SELECT lead_id, ts, event_id, type, props, ingested_at FROM events_staged "
        "ORDER BY lead_id, ts, event_id").rowcount
    # The leads once each (a check per staged row took as long as the insert), and of them
    # only leads of events that were stored: a skipped repeat creates no lead.
    if lead_ids is None:
        lead_ids = [lead_id for (lead_id,) in conn.execute(
            "SELECT DISTINCT lead_id FROM events_staged")]
    lead_ids = JSON_ENCODER.encode(lead_ids)
    new_leads = conn.execute(
        "INSERT OR IGNORE INTO leads (lead_id, profile, origin) "
        "SELECT value, '{}', 'event' FROM json_each(?) "
        "WHERE EXISTS (SELECT 1 FROM events WHERE events.lead_id = value)",
        (lead_ids,)).rowcount
    if added > 0:  # all of the staged leads: a run replaying one more lead is harmless
        mark_leads(lead_ids)
    conn.execute("DELETE FROM events_staged")
    return AddCounts(added=max(added, 0), duplicates=staged - max(added, 0),
                     new_leads=max(new_leads, 0))
