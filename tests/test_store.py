"""Tests for engine.store: schema, dedup, ordered streaming, runs."""

import random
import re
import sqlite3

import pytest

from engine.errors import StoreError
from engine.events import Event
from engine.store import _SCHEMA_1, AddCounts, LeadCounts, Store, StoreCounts


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
        assert table(s, "SELECT key, value FROM meta") == [("schema_version", "2")]
        names = {r[0] for r in table(s, "SELECT name FROM sqlite_master WHERE type='table'")}
        assert names == {"meta", "leads", "events", "runs", "results", "stage_moves",
                         "imports", "rejects"}
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
        assert table(s, "SELECT value FROM meta") == [("2",)]


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
        assert s.schema_version == 2
        assert s.counts() == StoreCounts(leads=1, events=1, first_ts=100, last_ts=100, runs=0)
        assert s.lead_events("L1") == ({"title": "CEO"}, [ev("e1")])
        assert table(s, "SELECT count(*) FROM imports") == [(0,)]
        assert table(s, "SELECT count(*) FROM rejects") == [(0,)]


def test_newer_schema_version_is_refused(tmp_path):
    path = tmp_path / "leads.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (
        f"{path}: store schema version 3 is newer than this leadrules understands (version 2); "
        "upgrade leadrules to use this store")


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


def test_iter_lead_events_orders_leads_and_events(store):
    events = [ev("b", "L2", 300), ev("a", "L2", 300), ev("c", "L2", 100),
              ev("z", "L1", 50, "email_open", subject="Hi"), ev("y", "L4", 10)]
    random.Random(7).shuffle(events)
    store.add_events(events, 1)
    store.upsert_leads([("L3", {"city": "Köln"}), ("L0", {})])
    got = [(lead, profile, [e.event_id for e in evs])
           for lead, profile, evs in store.iter_lead_events()]
    assert got == [("L0", {}, []), ("L1", {}, ["z"]), ("L2", {}, ["c", "a", "b"]),
                   ("L3", {"city": "Köln"}, []), ("L4", {}, ["y"])]


def test_iter_lead_events_decodes_props(store):
    store.add_events([ev("z", "L1", 50, "email_open", subject="Hi", n="3")], 1)
    assert list(store.iter_lead_events()) == [
        ("L1", {}, [Event("z", "L1", "email_open", 50, {"subject": "Hi", "n": "3"})])]


def test_iter_lead_events_of_empty_store(store):
    assert list(store.iter_lead_events()) == []


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
               stage=stage, disqualified=None)
    return row | fields


def test_save_run_round_trip(store):
    store.add_events([ev("e1", "A"), ev("e2", "B"), ev("e3", "C")], 1)
    results = [result("A", 10, "mql", fit=3, grade="B", band=2, priority="high"),
               result("B", 40, "sql"), result("C", 10, "mql", disqualified="competitor"),
               result("D", None, "new")]
    moves = [dict(lead_id="A", seq=1, ts=100, from_stage=None, to_stage="mql",
                  rule="rules/b2b.rules:12", cause="event e1")]
    run_id = store.save_run("b2b", "rules/b2b.rules", "abc123", 999, iter(results), iter(moves))
    run = store.latest_run()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run.pop("created_at"))
    assert run == dict(run_id=run_id, ruleset_name="b2b", ruleset_path="rules/b2b.rules",
                       ruleset_hash="abc123", as_of=999, leads=4, events=3)
    assert store.results(run_id) == [results[1], results[0], results[2], results[3]]
    assert store.funnel(run_id) == [("mql", 2), ("new", 1), ("sql", 1)]
    assert table(store, "SELECT * FROM stage_moves") == [
        (run_id, "A", 1, 100, None, "mql", "rules/b2b.rules:12", "event e1")]
    assert store.counts().runs == 1


def test_latest_run_is_the_newest(store):
    assert store.latest_run() is None
    first = store.save_run(None, None, "h1", 1, [], [])
    second = store.save_run("x", None, "h2", 2, [result("A", 1, "new")], [])
    assert (first, second) == (1, 2)
    assert store.latest_run()["ruleset_hash"] == "h2"
    assert store.results(first) == [] and store.funnel(first) == []


def test_save_run_streams_results_from_the_store(store):
    store.add_events([ev("e1", "A"), ev("e2", "A", 200), ev("e3", "B")], 1)
    results = (result(lead, len(evs), "new") for lead, _, evs in store.iter_lead_events())
    run_id = store.save_run("r", None, "h", 5, results, [])
    assert [(r["lead_id"], r["score"]) for r in store.results(run_id)] == [("A", 2), ("B", 1)]


def test_failed_save_run_leaves_nothing(store):
    bad = [result("A", 1, "new"), {"lead_id": "B"}]
    with pytest.raises(KeyError):
        store.save_run("r", None, "h", 5, bad, [])
    assert store.latest_run() is None
    assert table(store, "SELECT count(*) FROM results") == [(0,)]


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
