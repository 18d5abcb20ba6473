"""`leadrules ingest` stopped midway (SIGKILL, Ctrl-C) and read while it runs, as real processes."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
from test_ingest_cli import (
    HINT,
    NOW_MICROS,
    REPO,
    counts,
    events_csv,
    invoke,
    mask_rate,
    query,
    rows_csv,
    snapshot,
    write,
)

from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store

# 9. SIGKILL in the middle of a stdin import ---------------------------------------------------

def _command(*args) -> list[str]:
    return [sys.executable, "-m", "leadrules", *map(str, args)]


def _subprocess_env() -> dict:
    env = dict(os.environ)
    env.pop("LEADRULES_DB", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def _wait_for(predicate, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the import ended ({proc.returncode}) before {what}: "
                                 f"{proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_sigkill_leaves_whole_batches_and_the_file_import_completes_it(tmp_path):
    db = tmp_path / "crash.db"
    Store(db).close()  # the schema is there before the first poll
    full = events_csv(15_000)
    lines = full.splitlines(keepends=True)
    proc = subprocess.Popen(_command("ingest", "--db", db, "--events", "-"), cwd=tmp_path,
                            env=_subprocess_env(), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write("".join(lines[:12_001]).encode())  # the header and 12,000 rows
        proc.stdin.flush()
        _wait_for(lambda: counts(db)[1] >= 10_000, 30, "10,000 committed events", proc)
        # The third batch needs 3,000 more rows: the process now waits for stdin.
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert counts(db) == (700, 10_000)  # two whole batches of 5,000, nothing of the third
    assert query(db, "SELECT source, status, line_done, rows, added FROM imports") == [
        ("<stdin>", "running", 10_001, 10_000, 10_000)]

    write(tmp_path / "events.csv", full)
    again = invoke("ingest", "--db", db, "--events", tmp_path / "events.csv")
    assert again.exit_code == 0, again.stderr
    assert mask_rate(again.stdout).splitlines()[3].split() == [
        "events", str(tmp_path / "events.csv"), "15,000", "5,000", "10,000", "0", "0", "~"]
    clean = invoke("ingest", "--db", tmp_path / "clean.db", "--events", tmp_path / "events.csv")
    assert clean.exit_code == 0
    assert counts(db) == counts(tmp_path / "clean.db") == (700, 15_000)
    assert query(db, "SELECT count(DISTINCT event_id) FROM events") == [(15_000,)]
    crashed, fresh = snapshot(db), snapshot(tmp_path / "clean.db")
    assert (crashed["leads"], crashed["events"]) == (fresh["leads"], fresh["events"])


# 10. Ctrl-C in the middle of a file import ---------------------------------------------------

def _interrupt_a_file_import(cwd) -> Path:
    """ev.csv (1,000 rows: two repeated ids, four bad timestamps) imported in batches of 100
    until Ctrl-C after the third batch; returns the store."""
    rows = ["event_id,lead_id,type,ts"]
    for i in range(1, 1001):  # line i + 1
        event_id = f"e{i - 100}" if i in (150, 650) else f"e{i}"  # two repeats
        ts = "never" if i % 250 == 0 else f"2026-03-{1 + i % 28:02d}"
        rows.append(f"{event_id},L{i % 40},visit,{ts}")
    write(cwd / "ev.csv", rows_csv(rows))
    batches = []

    def interrupt_after_three(kind, source, done):
        batches.append(done)
        if len(batches) == 3:
            raise KeyboardInterrupt

    with Store(cwd / "leadrules.db") as store, pytest.raises(KeyboardInterrupt):
        ingest(store, events="ev.csv", batch_rows=100, progress=interrupt_after_three,
               now=NOW_MICROS)
    assert batches == [100, 200, 300]
    return cwd / "leadrules.db"


def test_interrupted_file_import_resumes_after_the_last_batch(cwd):
    db = _interrupt_a_file_import(cwd)
    assert query(db, "SELECT status, line_done, rows, added, duplicates, rejected "
                     "FROM imports") == [("running", 301, 300, 298, 1, 1)]

    result = invoke("ingest", "--events", "ev.csv")
    assert result.exit_code == 1
    assert mask_rate(result.stdout) == (
        "Imported into leadrules.db\n"
        "file    path     rows  added  duplicates  new leads  rejected  ~\n"
        "------  ------  -----  -----  ----------  ---------  --------  ~\n"
        "events  ev.csv  1,000    994           2         40         4  ~\n"
        "ev.csv: resumed an interrupted import after line 301; the counts include the earlier "
        "run\n")
    assert result.stderr == "".join(
        f"ev.csv:{line}: {HINT} (column 'ts', value 'never')\n" for line in (251, 501, 751, 1001)
    ) + "4 rows rejected; write them all to a file with --rejects FILE\n"

    invoke("ingest", "--db", "fresh.db", "--events", "ev.csv")
    assert snapshot(db) == snapshot(cwd / "fresh.db")
    info = json.loads(invoke("store", "info", "--format", "json").stdout)
    assert [{k: i[k] for k in ("kind", "source", "status", "rows", "added", "duplicates",
                               "new_leads", "rejected")} for i in info["imports"]] == [
        {"kind": "events", "source": str(cwd / "ev.csv"), "status": "done", "rows": 1000,
         "added": 994, "duplicates": 2, "new_leads": 40, "rejected": 4}]


def test_rate_of_a_resumed_import_counts_only_the_rows_read_by_this_run(cwd, monkeypatch):
    _interrupt_a_file_import(cwd)
    clock = iter(range(100))  # each file takes exactly one second
    monkeypatch.setattr("leadrules.engine.store.ingest.time", types.SimpleNamespace(
        perf_counter=lambda: float(next(clock)), time_ns=time.time_ns))
    result = invoke("ingest", "--events", "ev.csv")
    assert result.stdout.splitlines()[3].endswith("  700")  # lines 302..1001 in one second

# 11. Readers beside a running import ---------------------------------------------------------

def test_readers_see_whole_batches_while_an_import_runs(tmp_path):
    db = tmp_path / "busy.db"
    Store(db).close()
    write(tmp_path / "events.csv", events_csv(60_000))
    proc = subprocess.Popen(_command("ingest", "--db", db, "--events", tmp_path / "events.csv"),
                            cwd=tmp_path, env=_subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    seen = []
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if len(seen) % 2:
                conn = sqlite3.connect(db, timeout=0.5)
                try:
                    (n,), = conn.execute("SELECT count(*) FROM events").fetchall()
                finally:
                    conn.close()
            else:
                with Store(db) as store:
                    n = store.counts().events
            seen.append(n)
            time.sleep(0.005)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert all(n % 5_000 == 0 for n in seen), seen
    assert seen == sorted(seen)
    assert any(0 < n < 60_000 for n in seen), seen  # some reads came while it was running
    assert counts(db) == (700, 60_000)


# 11b. Two imports at once into one store ------------------------------------------------------

_HOLDING_IMPORT = """
import sys, time
from pathlib import Path
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store

db, events, started, go = sys.argv[1:]

def wait_after_first_batch(kind, source, done):
    if done == 5000:
        Path(started).touch()
        while not Path(go).exists():
            time.sleep(0.01)

with Store(db) as store:
    report = ingest(store, events=events, progress=wait_after_first_batch)
print(report.files[0].rows)
"""


def test_a_second_import_into_a_busy_store_is_refused_naming_the_running_one(tmp_path):
    db, started, go = tmp_path / "busy.db", tmp_path / "started", tmp_path / "go"
    events = write(tmp_path / "events.csv", events_csv(12_000))
    first = subprocess.Popen([sys.executable, "-c", _HOLDING_IMPORT, db, events, started, go],
                             cwd=tmp_path, env=_subprocess_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started.exists, 60, "the first import's first batch", first)
        second = subprocess.run(_command("ingest", "--db", db, "--events", events), cwd=tmp_path,
                                env=_subprocess_env(), capture_output=True, text=True,
                                timeout=60)
        go.touch()
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert (second.returncode, second.stdout) == (2, "")
    assert second.stderr == (
        f"error: {db}: another import is running into this store: import 1 of events from "
        f"{events}, 5,000 rows committed so far (process {first.pid}); wait until it "
        "finishes, then run this one again\n")
    assert (first.returncode, out, err) == (0, "12000\n", "")
    assert query(db, "SELECT import_id, status, rows, added FROM imports") == [
        (1, "done", 12_000, 12_000)]
    again = invoke("ingest", "--db", db, "--events", events)  # the lock is free again
    assert again.exit_code == 0, again.stderr
    assert query(db, "SELECT count(*), sum(rows) FROM imports") == [(1, 12_000)]
    assert counts(db) == (700, 12_000)
