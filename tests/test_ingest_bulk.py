"""The fast path and the staging table of event imports (engine/store/bulk.py, staging.py):
the same store, counts and rejects as the general path; staged rows survive a SIGKILL and the
next import stores them; merges come as the store grows."""

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from leadrules.engine.store import bulk
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store

REPO = Path(__file__).resolve().parent.parent
NOW = 1795300000000000

# Rows of every kind the fast path hands to the general one, between plain rows.
MIXED = (
    "event_id,lead_id,type,ts,page,note\n"
    "e1,L1,visit,2026-03-14T09:21:05Z,/a,\n"
    "e2, L2 ,visit , 2026-03-14 ,  /b  , x \n"          # cells with spaces
    ",L1,visit,2026-03-15T00:00:00+01:00,/c,\n"         # no id: a content id
    ",L1,visit,2026-03-14T23:00:00Z,/c,\n"              # the same moment: a repeat
    "e3,660737.0,visit,2026-03-16,,\n"                  # a spreadsheet number as lead id
    "e4,L3,visit,yesterday,/d,\n"                       # a bad timestamp
    "e5,,visit,2026-03-16,/d,\n"                        # no lead
    "e6,L3,,2026-03-16,/d,\n"                           # no type
    "e7,L3,visit,2026-03-16\n"                          # too few cells
    'e8,L3,"vis"it,2026-03-16,/x,\n'                    # malformed CSV
    "e9,Lü,visit,2026-03-17,/ü,Grüße\n"                 # not ASCII, valid UTF-8
    'e10,L4,visit,2026-03-17,"two\nlines",\n'           # a cell over two lines
    "\n"                                                # a blank line
    "e1,L9,visit,2026-03-18,/a,\n"                      # an id seen before, other lead
    "e11,L4,visit,2026-02-30,/e,\n"                     # no such day
    "e12,L5,visit,2026-03-19,/f,\n"
)


def _dump(db: Path) -> dict:
    conn = sqlite3.connect(db)
    try:
        return {table: conn.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3").fetchall()
                for table, columns in (
                    ("events", "lead_id, ts, event_id, type, props, ingested_at"),
                    ("leads", "lead_id, profile, origin, version"),
                    ("rejects", "line, file, \"column\", value, reason, raw"),
                    ("imports", "kind, line_done, rows, added, duplicates, new_leads, rejected, "
                                "status"))}
    finally:
        conn.close()


def _import(tmp_path: Path, name: str, text: str, fast: bool, monkeypatch, batch_rows=3):
    events = tmp_path / "events.csv"
    events.write_text(text, encoding="utf-8")
    if not fast:
        monkeypatch.setattr(bulk, "usable", lambda source, convert: False)
    db = tmp_path / name
    with Store(db) as store:
        report = ingest(store, events=events, batch_rows=batch_rows, now=NOW)
    monkeypatch.undo()
    return db, report.files[0]


def test_the_fast_path_stores_what_the_general_path_does(tmp_path, monkeypatch):
    fast_db, fast = _import(tmp_path, "fast.db", MIXED, True, monkeypatch)
    slow_db, slow = _import(tmp_path, "slow.db", MIXED, False, monkeypatch)
    assert _dump(fast_db) == _dump(slow_db)
    assert (fast.rows, fast.added, fast.duplicates, fast.new_leads, fast.rejected,
            fast.ids_normalised) == (slow.rows, slow.added, slow.duplicates, slow.new_leads,
                                     slow.rejected, slow.ids_normalised) == (15, 7, 2, 6, 6, 1)
    assert [(lead, event_id, props) for lead, _, event_id, _, props, _ in
            _dump(fast_db)["events"]] == [
        ("660737", "e3", "{}"), ("L1", "e1", '{"page":"/a"}'),
        ("L1", "he000b7fd246555ae", '{"page":"/c"}'), ("L2", "e2", '{"note":"x","page":"/b"}'),
        ("L4", "e10", '{"page":"two\\nlines"}'), ("L5", "e12", '{"page":"/f"}'),
        ("Lü", "e9", '{"note":"Grüße","page":"/ü"}')]


def test_the_fast_path_is_taken_for_plain_csv_only(tmp_path):
    from leadrules.engine.store.ingest import EVENT_COLUMNS, EVENT_NESTED, Convert
    from leadrules.engine.store.mapping import ReadOptions
    from leadrules.engine.store.sources import Source

    (tmp_path / "e.csv").write_text("lead_id,type,ts\nL1,visit,2026-03-14\n")
    (tmp_path / "e.jsonl").write_text('{"lead_id": "L1", "type": "visit", "ts": "2026-03-14"}\n')
    for name, options, taken in (("e.csv", ReadOptions(), True), ("e.jsonl", ReadOptions(), False),
                                 ("e.csv", ReadOptions(decimal_comma=True), False),
                                 ("e.csv", ReadOptions(timezone="Europe/Berlin"), False)):
        with Source(tmp_path / name, EVENT_COLUMNS, EVENT_NESTED, options=options) as source:
            assert bulk.usable(source, Convert.events(options)) is taken, (name, options)


def test_staged_rows_merge_as_the_store_grows_and_readers_see_whole_batches(tmp_path):
    rows = "".join(f"e{i},L{i % 7},visit,2026-03-{1 + i % 28:02d}\n" for i in range(1000))
    events = tmp_path / "ev.csv"
    events.write_text("event_id,lead_id,type,ts\n" + rows)
    seen = []

    def look(kind, source, done):
        seen.append((done, store._conn.execute("SELECT count(*) FROM events").fetchone()[0],
                     store._conn.execute("SELECT count(*) FROM events_staged").fetchone()[0]))

    with Store(tmp_path / "s.db") as store:
        ingest(store, events=events, batch_rows=100, progress=look)
    # merged when as many were staged as the store held: after 100, 200, 400 and 800 rows
    assert [stored for _, stored, _ in seen] == [100, 200, 200, 400, 400, 400, 400, 800, 800,
                                                 800]
    assert all(done == stored + staged for done, stored, staged in seen)
    assert _dump(tmp_path / "s.db")["imports"] == [
        ("events", 1001, 1000, 1000, 0, 7, 0, "done")]


_KILLED_IMPORT = """
import os, signal, sys
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store

def kill_after(kind, source, done):
    if done == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)

with Store(sys.argv[1]) as store:
    ingest(store, events=sys.argv[2], batch_rows=100, progress=kill_after, now=1)
"""


@pytest.mark.parametrize("then", ["same file", "another file"])
def test_staged_rows_survive_sigkill_and_the_next_import_stores_them(tmp_path, then):
    rows = [f"e{i},L{i % 30},visit,2026-03-{1 + i % 28:02d}T00:00:{i % 60:02d}Z\n"
            for i in range(1000)]
    rows[500] = rows[20]  # a repeated id, staged after the kill
    events = tmp_path / "ev.csv"
    events.write_text("event_id,lead_id,type,ts\n" + "".join(rows))
    db = tmp_path / "crash.db"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [
        str(REPO.parent), os.environ.get("PYTHONPATH")])))
    killed = subprocess.run([sys.executable, "-c", _KILLED_IMPORT, db, events, "700"],
                            env=env, capture_output=True, text=True, timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    # merged after 100, 200 and 400 rows; rows 401..700 staged, committed, not yet merged
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT (SELECT count(*) FROM events), count(*) FROM events_staged"
                        ).fetchone() == (400, 300)
    assert conn.execute("SELECT status, line_done, rows, added FROM imports").fetchall() == [
        ("running", 701, 700, 400)]
    conn.close()

    other = tmp_path / "other.csv"
    other.write_text("event_id,lead_id,type,ts\nx1,L1,visit,2026-04-01\n")
    with Store(db) as store:
        if then == "same file":
            ingest(store, events=events, now=1)
        else:  # the dead import's staged rows are stored, and counted, first
            ingest(store, events=other, now=1)
            ingest(store, events=events, now=1)
    clean = tmp_path / "clean.db"
    with Store(clean) as store:
        ingest(store, events=events, now=1)
        if then == "another file":
            ingest(store, events=other, now=1)
    crashed, fresh = _dump(db), _dump(clean)
    assert crashed["events"] == fresh["events"]
    assert [lead[:3] for lead in crashed["leads"]] == [lead[:3] for lead in fresh["leads"]]
    assert sorted(crashed["imports"]) == sorted(fresh["imports"])
    assert ("events", 1001, 1000, 999, 1, 30, 0, "done") in crashed["imports"]
