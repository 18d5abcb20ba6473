"""Tests for engine.store: schema, dedup, ordered streaming, runs."""

import random
import re
import sqlite3

import pytest

from leadrules.engine.errors import StoreError
from leadrules.engine.events import Event
from leadrules.engine.store import runtables
from leadrules.engine.store.records import AddCounts, LeadCounts, StoreCounts
from leadrules.engine.store.schema import (
    _SCHEMA_1,
    DETAIL_COLUMNS,
    MIGRATIONS,
    RESULT_COLUMNS,
    SCHEMA_VERSION,
)
from leadrules.engine.store.store import Store


def ev(event_id, lead_id="L1", ts=100, type="page_view", **props):
    return Event(event_id=event_id, lead_id=lead_id, type=type, ts=ts, props=props)


@pytest.fixture
def store():
    with Store.memory() as s:
        yield s


def table(store, sql):
    return store._conn.execute(sql).fetchall()


def test_schema_created_and_version_recorded(tmp_path):
    path = tmp_path / "leads.db"
    with Store(path) as s:
        assert table(s, "SELECT key, value FROM meta ORDER BY key") == [
            ("data_version", "0"), ("schema_version", str(SCHEMA_VERSION))]
        names = {r[0] for r in table(s, "SELECT name FROM sqlite_master WHERE type='table'")}
        run_tables = ("results", "stage_moves", "actions", "sla", "checkpoints")
        assert names == {"meta", "leads", "events", "runs", "imports", "rejects", "rulesets",
                         *(f"{t}_{part}" for t in run_tables for part in ("base", "recent"))}
        # each run table is a view of its two
        views = {r[0] for r in table(s, "SELECT name FROM sqlite_master WHERE type='view'")}
        assert set(run_tables) <= views
        for name in run_tables:
            columns = [[r[1] for r in table(s, f"PRAGMA table_info({name}{part})")]
                       for part in ("", "_base", "_recent")]
            assert columns[0] == columns[1] == columns[2]
        assert table(s, "PRAGMA journal_mode") == [("wal",)]
        assert table(s, "PRAGMA synchronous") == [(1,)]  # NORMAL
        assert table(s, "PRAGMA busy_timeout") == [(5000,)]
        indexes = {row[1]: row[2] for row in table(s, "PRAGMA index_list(events)")}
        assert indexes["events_event_id"] == 1


def test_reopening_keeps_data(tmp_path):
    path = tmp_path / "leads.db"
    with Store(path) as s:
        s.add_events([ev("e1")], ingested_at=1)
    with Store(str(path)) as s:
        assert s.counts() == StoreCounts(leads=1, events=1, first_ts=100, last_ts=100, runs=0)
        assert table(s, "SELECT key, value FROM meta ORDER BY key") == [
            ("data_version", "1"), ("schema_version", str(SCHEMA_VERSION))]


def test_version_1_store_is_migrated_keeping_its_data(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_1)
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
            "INSERT INTO meta VALUES ('schema_version', '1');"
            "INSERT INTO leads VALUES ('L1', '{\"title\": \"CEO\"}', 'file');"
            "INSERT INTO events VALUES ('L1', 100, 'e1', 'page_view', '{}', 1);")
    conn.close()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert table(s, "SELECT lead_id, version FROM leads") == [("L1", 0)]
        assert s.counts() == StoreCounts(leads=1, events=1, first_ts=100, last_ts=100, runs=0)
        assert s.lead_events("L1") == ({"title": "CEO"}, [ev("e1")])
        assert table(s, "SELECT count(*) FROM imports") == [(0,)]
        assert table(s, "SELECT count(*) FROM rejects") == [(0,)]


def test_version_4_results_are_kept_under_a_ruleset_number(tmp_path):
    """Schema 5 names a run's ruleset by a number in its rows; the rows of schema 4 stay."""
    path = tmp_path / "v4.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_1)
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        for version in (1, 2, 3):
            conn.executescript(MIGRATIONS[version])
        conn.executescript(
            "INSERT INTO meta VALUES ('schema_version', '4');"
            "INSERT INTO runs (ruleset_hash, as_of, created_at, data_version, mode) "
            "VALUES ('abc123', 999, 'now', 0, 'full');"
            "INSERT INTO results (ruleset_hash, lead_id, run_id, score, stage) "
            "VALUES ('abc123', 'A', 1, 40, 'Lead');"
            "INSERT INTO stage_moves VALUES "
            "('abc123', 'A', 1, 5, 'Name', 'Lead', 'line 3: x', 'e1');"
            "INSERT INTO checkpoints VALUES ('abc123', 'A', x'00', 5, 'e1', 1, x'00');")
    conn.close()
    with Store(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert [(r["lead_id"], r["score"]) for r in s.results("abc123")] == [("A", 40)]
        # and version 7 completes the stage history: the entry into the first stage, undated
        # here, because the lead has no event
        assert [(m["seq"], m["ts"], m["to_stage"], m["cause"])
                for m in s.details("stage_moves", "abc123")] == [
            (0, None, "Name", "profile"), (1, 5, "Lead", "e1")]
        assert table(s, "SELECT ruleset, lead_id, ts FROM checkpoints") == [(1, "A", 5)]
        assert table(s, "SELECT ruleset, hash FROM rulesets") == [(1, "abc123")]


def test_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "leads.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                     (str(SCHEMA_VERSION + 1),))
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: store schema version {SCHEMA_VERSION + 1} is newer than this leadrules "
        f"understands (version {SCHEMA_VERSION}); upgrade leadrules to use this store")


def test_directory_path_is_a_store_error(tmp_path):
    with pytest.raises(StoreError) as info:
        Store(tmp_path)
    assert str(info.value) == f"{tmp_path}: cannot open store: unable to open database file"


def test_file_that_is_not_a_database_is_a_store_error(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the bytes of an SQLite database, " * 4)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == f"{path}: cannot open store: file is not a database"


def test_add_events_dedupes_within_input_and_across_calls(store):
    first = store.add_events([ev("e1"), ev("e2", ts=200), ev("e1")], ingested_at=1)
    assert first == AddCounts(added=2, duplicates=1, new_leads=1)
    second = store.add_events([ev("e2", ts=200), ev("e3", ts=300), ev("e3", ts=300)], 2)
    assert second == AddCounts(added=1, duplicates=2, new_leads=0)
    assert table(store, "SELECT event_id, ingested_at FROM events ORDER BY event_id") == [
        ("e1", 1), ("e2", 1), ("e3", 2)]


def test_add_events_dedupes_across_batches():
    with Store.memory() as s:
        events = [ev(f"e{i % 700}", ts=i % 700) for i in range(1400)]
        assert s.add_events(events, 1) == AddCounts(added=700, duplicates=700, new_leads=1)


def test_same_event_id_under_another_lead_is_a_duplicate_and_creates_no_lead(store):
    store.add_events([ev("e1", lead_id="A")], 1)
    assert store.add_events([ev("e1", lead_id="B")], 2) == AddCounts(0, 1, 0)
    assert table(store, "SELECT lead_id FROM leads") == [("A",)]


def test_events_create_leads_with_empty_profile(store):
    store.upsert_leads([("A", {"company": "Acme"})])
    counts = store.add_events([ev("e1", "A"), ev("e2", "B"), ev("e3", "C"), ev("e4", "B")], 1)
    assert counts == AddCounts(added=4, duplicates=0, new_leads=2)
    assert table(store, "SELECT lead_id, profile, origin FROM leads ORDER BY lead_id") == [
        ("A", '{"company":"Acme"}', "file"), ("B", "{}", "event"), ("C", "{}", "event")]


def test_upsert_updates_the_fields_given_and_origin(store):
    store.add_events([ev("e1", "A")], 1)
    upserted = store.upsert_leads([("A", {"size": "10", "city": "Köln"}), ("B", {"x": "1"}),
                                   ("A", {"size": "50"})])
    assert upserted == LeadCounts(written=3, new=1)
    assert store.lead_events("A") == ({"size": "50", "city": "Köln"}, [ev("e1", "A")])
    assert table(store, "SELECT lead_id, origin FROM leads ORDER BY lead_id") == [
        ("A", "file"), ("B", "file")]


def test_iter_lead_rows_orders_leads_and_events(store):
    events = [ev("b", "L2", 300), ev("a", "L2", 300), ev("c", "L2", 100),
              ev("z", "L1", 50, "email_open", subject="Hi"), ev("y", "L4", 10)]
    random.Random(7).shuffle(events)
    store.add_events(events, 1)
    store.upsert_leads([("L3", {"city": "Köln"}), ("L0", {})])
    expected = [("L0", {}, []), ("L1", {}, ["z"]), ("L2", {}, ["c", "a", "b"]),
                ("L3", {"city": "Köln"}, []), ("L4", {}, ["y"])]
    got = [(lead, profile, [row[2] for row in rows])
           for lead, profile, rows in store.iter_lead_rows()]
    assert got == expected
    some = [(lead, profile, [row[2] for row in rows])
            for lead, profile, rows in store.iter_lead_rows(["L4", "L2", "nobody", "L0"])]
    assert some == [expected[0], expected[2], expected[4]]


def test_iter_lead_rows_gives_props_as_stored_json(store):
    store.add_events([ev("z", "L1", 50, "email_open", subject="Hi", n="3")], 1)
    assert list(store.iter_lead_rows()) == [
        ("L1", {}, [("L1", 50, "z", "email_open", '{"n":"3","subject":"Hi"}')])]


def test_iter_lead_rows_of_empty_store(store):
    assert list(store.iter_lead_rows()) == []


def test_lead_events_of_unknown_lead(store):
    with pytest.raises(StoreError) as info:
        store.lead_events("nobody")
    assert str(info.value) == ":memory:: no lead 'nobody' in the store"


def test_counts(store):
    assert store.counts() == StoreCounts(leads=0, events=0, first_ts=None, last_ts=None, runs=0)
    store.add_events([ev("e1", "A", 500), ev("e2", "B", 20)], 1)
    store.upsert_leads([("C", {})])
    assert store.counts() == StoreCounts(leads=3, events=2, first_ts=20, last_ts=500, runs=0)


def result(lead_id, score, stage, **fields):
    row = dict(lead_id=lead_id, score=score, fit=None, grade=None, band=None, priority=None,
               stage=stage, disqualified=None, owner=None, label=None, sla=None, bant=None,
               events=0, next_due=None)
    return tuple((row | fields)[c] for c in RESULT_COLUMNS)


def run_meta(key="abc123", as_of=999, **fields):
    return dict(ruleset_name="b2b", ruleset_path="rules/b2b.rules", ruleset_hash=key,
                as_of=as_of, data_version=7, mode="full", events=3, replayed=4,
                changed=0) | fields


def test_save_run_round_trip(store):
    results = [result("A", 10, "mql", fit=3, grade="B", band=2, priority="B2"),
               result("B", 40, "sql"), result("C", 10, "mql", disqualified="competitor"),
               result("D", None, "new")]
    moves = [("A", 1, 100, None, "mql", "line 12: stage new -> mql if score > 5", "e1")]
    run_id = store.save_run(run_meta(), results, {"stage_moves": moves}, None)
    run = store.latest_run()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run.pop("created_at"))
    assert run == dict(run_id=run_id, leads=4, stages='{"mql": 2, "new": 1, "sql": 1}',
                       **run_meta())
    assert [tuple(r.values()) for r in store.results("abc123")] == [
        results[1], results[0], results[2], results[3]]
    assert [r["lead_id"] for r in store.results("abc123", stage="mql", limit=1)] == ["A"]
    assert store.results("abc123", priority="B2")[0]["lead_id"] == "A"
    assert store.funnel("abc123") == [("mql", 2), ("new", 1), ("sql", 1)]
    entries = [(lead, 0, None, None, stage, "", "profile")  # no events: undated entries
               for lead, stage in (("A", "mql"), ("B", "sql"), ("C", "mql"), ("D", "new"))]
    assert store.details("stage_moves", "abc123") == [
        dict(zip(DETAIL_COLUMNS["stage_moves"], row)) for row in [entries[0], moves[0], *entries[1:]]]
    assert store.counts().runs == 1


def test_an_incremental_save_replaces_only_the_leads_given(store):
    store.save_run(run_meta(), [result("A", 1, "new"), result("B", 2, "new")],
                   {"actions": [("A", 1, 5, "enroll", "Nurture", None, "line 3: ...", "e1")]}, None)
    store.save_run(run_meta(mode="incremental"), [result("A", 7, "hot"), result("C", 3, "new")],
                   {}, ["A", "C"])
    assert [(r["lead_id"], r["score"]) for r in store.results("abc123")] == [
        ("A", 7), ("C", 3), ("B", 2)]
    assert store.details("actions", "abc123") == []
    assert store.last_run("abc123")["leads"] == 3
    assert store.last_run("other") is None


def test_incremental_saves_go_to_the_recent_tables_and_fold_into_the_base(store, monkeypatch):
    """A full run writes the base tables; an incremental one the recent tables, with the kept
    moves of the leads it replays copied there, hiding their base rows; once the recent tables
    hold FOLD_SHARE of the leads they fold into the base. The views read the same all along."""
    def where(name):
        stays = table(store, "SELECT lead_id, seq, ts, to_stage, left_at, next_stage "
                             "FROM stage_stays ORDER BY lead_id, seq")
        assert stays == table(store, (  # stage_stays is stage_moves joined with itself
            "SELECT m.lead_id, m.seq, m.ts, m.to_stage, n.ts, n.to_stage FROM stage_moves m "
            "LEFT JOIN stage_moves n ON n.ruleset = m.ruleset AND n.lead_id = m.lead_id "
            "AND n.seq = m.seq + 1 ORDER BY m.lead_id, m.seq"))
        return [table(store, f"SELECT lead_id, seq FROM {name}_{part} ORDER BY lead_id, seq")
                for part in ("base", "recent")]

    monkeypatch.setattr(runtables, "FOLD_SHARE", 0.9)
    moves = [(lead, 1, 100, "new", "mql", "line 2: x", f"e{lead}") for lead in "ABCD"]
    store.save_run(run_meta(), [result(lead, 1, "mql") for lead in "ABCD"],
                   {"stage_moves": moves}, None)
    full = where("stage_moves")
    assert full[1] == []
    store.save_run(run_meta(mode="incremental"), [result("B", 2, "sql")],
                   {"stage_moves": [("B", 1, 200, "new", "sql", "line 3: y", "f")]}, ["B"])
    assert [(m["seq"], m["to_stage"], m["cause"])
            for m in store.details("stage_moves", "abc123", "B")] == [
        (0, "new", "profile"), (1, "sql", "f")]
    assert where("stage_moves") == [full[0], [("B", 0), ("B", 1)]]
    assert table(store, "SELECT lead_id FROM results_recent") == [("B",)]
    assert [(r["lead_id"], r["score"]) for r in store.results("abc123")] == [
        ("B", 2), ("A", 1), ("C", 1), ("D", 1)]
    # resumed after its move 1: kept, copied from the base
    monkeypatch.setattr(runtables, "FOLD_SHARE", 0.5)
    with store.saving_run(run_meta(mode="incremental"), full=False) as writer:
        writer.add([result("C", 3, "sql")],
                   {"stage_moves": [("C", 2, 300, "mql", "sql", "line 3: y", "g")]}, [],
                   [("C", 1, 0)])
    assert [(m["seq"], m["to_stage"]) for m in store.details("stage_moves", "abc123", "C")] == [
        (0, "new"), (1, "mql"), (2, "sql")]
    # B and C are half the leads: folded
    assert table(store, "SELECT count(*) FROM results_recent") == [(0,)]
    assert table(store, "SELECT count(*) FROM stage_moves_recent") == [(0,)]
    assert [(r["lead_id"], r["score"]) for r in store.results("abc123")] == [
        ("C", 3), ("B", 2), ("A", 1), ("D", 1)]
    assert [(m["lead_id"], m["seq"]) for m in store.details("stage_moves", "abc123")] == [
        ("A", 0), ("A", 1), ("B", 0), ("B", 1), ("C", 0), ("C", 1), ("C", 2), ("D", 0),
        ("D", 1)]
    where("stage_moves")


def test_leads_to_replay_are_changed_leads_and_due_ones(store):
    store.add_events([ev("e1", "A"), ev("e2", "B")], 1)
    seen = store.data_version()
    store.save_run(run_meta(), [result("A", 1, "new", next_due=500),
                                result("B", 1, "new", next_due=None)], {}, None)
    assert store.leads_to_replay("abc123", seen, 499) == []
    assert store.leads_to_replay("abc123", seen, 500) == ["A"]
    store.add_events([ev("e3", "B", 50), ev("e4", "N", 50)], 1)
    store.add_events([ev("e3", "B", 50)], 1)  # a repeat marks nothing
    assert sorted(store.leads_to_replay("abc123", seen, 10)) == ["B", "N"]
    store.upsert_leads([("C", {"x": "1"})])
    assert sorted(store.leads_to_replay("abc123", seen, 10)) == ["B", "C", "N"]
    assert store.data_version() == seen + 2


def test_failed_save_run_leaves_nothing(store):
    bad = [result("A", 1, "new"), ("B",)]
    with pytest.raises(StoreError):
        store.save_run(run_meta(), bad, {}, None)
    assert store.latest_run() is None
    assert table(store, "SELECT count(*) FROM results") == [(0,)]


def test_full_runs_remake_the_due_index_and_a_failed_one_keeps_it(store):
    """A full run drops results_due while it inserts and makes it again: the index is there,
    as schema 5 made it and 8 moved it to the base table, after a full run, an incremental one,
    and a failed full run; the recent table has its own."""
    def index():
        return table(store, "SELECT sql FROM sqlite_master WHERE name = 'results_due'")

    made = index()
    assert made == [('CREATE INDEX results_due ON "results_base"(ruleset, next_due)',)]
    store.save_run(run_meta(), [result("A", 1, "new", next_due=500)], {}, None)
    assert index() == made
    store.save_run(run_meta(mode="incremental"), [result("B", 1, "new", next_due=400)], {}, ["B"])
    assert index() == made
    with pytest.raises(StoreError):
        store.save_run(run_meta(), [("C",)], {}, None)
    assert index() == made
    assert store.leads_to_replay("abc123", store.data_version(), 450) == ["B"]
    plan = " | ".join(row[-1] for row in table(
        store, "EXPLAIN QUERY PLAN SELECT lead_id FROM results WHERE ruleset = 1 AND next_due <= 450"))
    assert "USING COVERING INDEX results_due" in plan
    assert "USING COVERING INDEX results_recent_due" in plan


def test_transaction_rollback_leaves_nothing(store):
    store.add_events([ev("e0", "Z")], 1)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.upsert_leads([("A", {"x": "1"})])
            store.add_events([ev("e1", "B"), ev("e2", "A")], 2)
            raise RuntimeError("boom")
    assert store.counts() == StoreCounts(leads=1, events=1, first_ts=100, last_ts=100, runs=0)


def test_transaction_commits(store):
    with store.transaction():
        store.upsert_leads([("A", {"x": "1"})])
        store.add_events([ev("e1", "B")], 2)
    assert store.counts() == StoreCounts(leads=2, events=1, first_ts=100, last_ts=100, runs=0)


def test_closed_store_is_a_store_error(tmp_path):
    s = Store(tmp_path / "x.db")
    s.close()
    with pytest.raises(StoreError) as info:
        s.counts()
    assert str(info.value) == f"{tmp_path / 'x.db'}: the store is closed"


def test_a_working_table_written_by_a_script_leaves_no_transaction_open(store):
    """As with rows: the INSERT's implicit transaction, into TEMP only, is committed (an open
    one would hold the connection's snapshot and forbid ATTACH)."""
    store.scratch("CREATE TEMP TABLE w (x INTEGER PRIMARY KEY) WITHOUT ROWID;\n"
                  "INSERT INTO w VALUES (1), (2);\n")
    assert not store._conn.in_transaction
    with store.transaction():
        store.scratch("INSERT INTO w VALUES (3);\n")
        assert store._conn.in_transaction  # inside the caller's, which commits it
    assert list(store.read("SELECT x FROM w")) == [(1,), (2,), (3,)]
