"""The store's SQL views (engine/store/views.py): ISO times, the latest results of each ruleset by
name, profile fields and event properties as columns, the rulesets' names and foreign keys."""

import re
import sqlite3

import pytest

from leadrules import dsl
from leadrules.engine.events import Event, format_timestamp, parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store.schema import _SCHEMA_1, MIGRATIONS, SCHEMA_VERSION
from leadrules.engine.store.store import Store
from leadrules.engine.store.views import iso, slug

RULES = """\
ruleset "Trade Fair 2027"
events visit, signup
fields employees: number, newsletter: boolean, since: date, title: text, owner: text
when visit where hall = "A" then +10
when signup then +20
stages Name, Lead
stage Name -> Lead if score >= 20
"""

T = parse_timestamp


def _store(tmp_path, rules_text=RULES, name="fair.rules"):
    store = Store(tmp_path / "views.db")
    store.upsert_leads([
        ("L1", {"employees": "12000", "newsletter": "Yes", "since": "2026-02-03T10:00:00Z",
                "title": "CEO", "owner": "Ada"}),
        ("L2", {"employees": "n/a", "newsletter": "maybe", "since": "soon", "title": ""}),
    ])
    store.add_events([
        Event("e1", "L1", "visit", T("2026-03-01T09:30:00Z"), {"hall": "A"}),
        Event("e2", "L1", "signup", T("2026-03-02T00:00:00.25Z")),
        Event("e3", "L2", "visit", T("2026-03-01T12:00:00Z"), {"hall": "B"}),
    ], ingested_at=T("2026-04-01T00:00:00Z"))
    rules_path = tmp_path / name
    rules_path.write_text(rules_text, encoding="utf-8")
    run_rules(store, compile_ruleset(dsl.load(rules_path)), T("2026-03-10"), workers=1)
    return store, rules_path


def _rows(store: Store, sql: str) -> list[tuple]:
    return list(store._conn.execute(sql))


@pytest.mark.parametrize("micros", [0, 1, -1, 999_999, 1_000_000, T("2026-03-02T00:00:00.25Z"),
                                    T("1969-12-31T23:59:59.5Z"), T("2099-12-31T23:59:59.123456Z")])
def test_iso_in_sql_is_format_timestamp(micros):
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute(f"SELECT {iso(':m')}", {"m": micros}).fetchone()[0] == \
            format_timestamp(micros)


def test_a_missing_time_is_null():
    with sqlite3.connect(":memory:") as conn:
        assert conn.execute(f"SELECT {iso('NULL')}").fetchone() == (None,)


def test_view_names_come_from_the_rulesets_name():
    assert [slug(n) for n in ("B2B demand funnel", "Trade Fair 2027", "2027 plan", "Ärger!", "")] \
        == ["b2b_demand_funnel", "trade_fair_2027", "r_2027_plan", "rger", "ruleset"]


def test_rulesets_records_name_and_path(tmp_path):
    store, rules_path = _store(tmp_path)
    assert _rows(store, "SELECT ruleset, name, path FROM rulesets") == [
        (1, "Trade Fair 2027", str(rules_path))]


def test_latest_results_name_the_ruleset_and_show_times_as_text(tmp_path):
    store, rules_path = _store(tmp_path)
    assert _rows(store, "SELECT ruleset, ruleset_path, lead_id, score, stage, next_due, as_of, "
                        "run_id FROM latest_results ORDER BY lead_id") == [
        ("Trade Fair 2027", str(rules_path), "L1", 30, "Lead", None, "2026-03-10T00:00:00Z", 1),
        ("Trade Fair 2027", str(rules_path), "L2", 0, "Name", None, "2026-03-10T00:00:00Z", 1)]


def test_the_rulesets_leads_view_has_its_fields_as_typed_columns(tmp_path):
    store, _ = _store(tmp_path)
    cursor = store._conn.execute("SELECT * FROM trade_fair_2027_leads ORDER BY lead_id")
    names = [column[0] for column in cursor.description]
    assert names[-5:] == ["employees", "newsletter", "since", "title", "profile_owner"]
    assert [row[-5:] for row in cursor] == [(12000, 1, "2026-02-03", "CEO", "Ada"),
                                            (None, None, None, None, None)]


def test_the_rulesets_events_view_has_the_properties_its_rules_read(tmp_path):
    store, _ = _store(tmp_path)
    assert _rows(store, "SELECT * FROM trade_fair_2027_events ORDER BY event_id") == [
        ("L1", "2026-03-01T09:30:00Z", "e1", "visit", "A"),
        ("L1", "2026-03-02T00:00:00.25Z", "e2", "signup", None),
        ("L2", "2026-03-01T12:00:00Z", "e3", "visit", "B")]


def test_after_a_change_of_the_rules_the_views_show_the_version_that_ran_last(tmp_path):
    store, rules_path = _store(tmp_path)
    rules_path.write_text(RULES.replace("+20", "+5").replace(
        "title: text", "title: text, region: text"), encoding="utf-8")
    run_rules(store, compile_ruleset(dsl.load(rules_path)), T("2026-03-10"), workers=1)
    assert _rows(store, "SELECT ruleset, lead_id, score, run_id FROM latest_results "
                        "ORDER BY lead_id") == [("Trade Fair 2027", "L1", 15, 2),
                                                ("Trade Fair 2027", "L2", 0, 2)]
    cursor = store._conn.execute("SELECT * FROM trade_fair_2027_leads LIMIT 0")
    assert [column[0] for column in cursor.description][-3:] == ["title", "region",
                                                                 "profile_owner"]
    assert _rows(store, "SELECT ruleset, name FROM rulesets") == [
        (1, "Trade Fair 2027"), (2, "Trade Fair 2027")]


def test_the_other_latest_views_and_the_run_log(tmp_path):
    store, _ = _store(tmp_path)
    assert _rows(store, "SELECT ruleset, lead_id, time, from_stage, to_stage, cause "
                        "FROM latest_stage_moves") == [  # with each lead's entry into Name
        ("Trade Fair 2027", "L1", "2026-03-01T09:30:00Z", None, "Name", "e1"),
        ("Trade Fair 2027", "L1", "2026-03-02T00:00:00.25Z", "Name", "Lead", "e2"),
        ("Trade Fair 2027", "L2", "2026-03-01T12:00:00Z", None, "Name", "e3")]
    assert _rows(store, "SELECT lead_id, time, type, ingested_at FROM lead_events "
                        "WHERE event_id = 'e1'") == [
        ("L1", "2026-03-01T09:30:00Z", "visit", "2026-04-01T00:00:00Z")]
    assert _rows(store, "SELECT run_id, ruleset, as_of, mode, leads FROM run_log") == [
        (1, "Trade Fair 2027", "2026-03-10T00:00:00Z", "full", 2)]


def test_the_import_log_shows_when_each_file_came_in(tmp_path):
    from leadrules.engine.store.ingest import ingest

    (tmp_path / "events.csv").write_text("event_id,lead_id,type,ts\ne1,L1,visit,2026-03-01\n",
                                         encoding="utf-8")
    with Store(tmp_path / "import.db") as store:
        ingest(store, None, tmp_path / "events.csv", now=T("2026-04-01T08:00:00.5Z"))
        ((*row, finished),) = _rows(store, "SELECT kind, source, started_at, status, added, "
                                           "finished_at FROM import_log")
        assert row == ["events", str(tmp_path / "events.csv"), "2026-04-01T08:00:00.5Z", "done", 1]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", finished)  # the clock's


def test_foreign_keys_are_declared_and_hold(tmp_path):
    store, _ = _store(tmp_path)
    run_tables = ("results", "stage_moves", "actions", "sla", "checkpoints")
    declared = {(table.removesuffix("_base").removesuffix("_recent"), row[3], row[2], row[4])
                for table in ("runs", "rejects", *(f"{t}_{part}" for t in run_tables
                                                   for part in ("base", "recent")))
                for row in store._conn.execute(f"PRAGMA foreign_key_list({table})")}
    assert declared == {
        ("runs", "ruleset_hash", "rulesets", "hash"),
        ("results", "ruleset", "rulesets", "ruleset"), ("results", "lead_id", "leads", "lead_id"),
        ("results", "run_id", "runs", "run_id"),
        *((table, "ruleset", "rulesets", "ruleset") for table in
          ("stage_moves", "actions", "sla", "checkpoints")),
        *((table, "lead_id", "leads", "lead_id") for table in
          ("stage_moves", "actions", "sla", "checkpoints")),
        ("rejects", "import_id", "imports", "import_id")}
    assert _rows(store, "PRAGMA foreign_key_check") == []


def test_a_version_5_store_is_migrated_with_its_runs_and_views(tmp_path):
    path = tmp_path / "v5.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_1)
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        for version in range(1, 5):
            conn.executescript(MIGRATIONS[version])
        conn.executescript(
            "INSERT INTO meta VALUES ('schema_version', '5');"
            "INSERT INTO leads VALUES ('A', '{}', 'file', 0);"
            "INSERT INTO rulesets (hash) VALUES ('abc');"
            "INSERT INTO runs (ruleset_name, ruleset_path, ruleset_hash, as_of, created_at, "
            "data_version, mode) VALUES ('Old', 'old.rules', 'abc', 5000000, 'now', 0, 'full');"
            "INSERT INTO results (ruleset, lead_id, run_id, score, stage) "
            "VALUES (1, 'A', 1, 40, 'Lead');")
    conn.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        assert _rows(store, "SELECT * FROM rulesets") == [(1, "abc", "Old", "old.rules")]
        assert _rows(store, "SELECT ruleset, lead_id, score, as_of FROM latest_results") == [
            ("Old", "A", 40, "1970-01-01T00:00:05Z")]
        assert _rows(store, "PRAGMA foreign_key_check") == []


def test_a_later_migration_that_makes_a_table_again_keeps_the_views(tmp_path, monkeypatch):
    """SQLite refuses to rename a table into place while a view names the one it replaces; the
    store drops the views around its migrations and makes them again."""
    store, _ = _store(tmp_path)
    store.close()
    rebuild = ("CREATE TABLE new_leads (lead_id TEXT PRIMARY KEY, profile TEXT NOT NULL, "
               "origin TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0);\n"
               "INSERT INTO new_leads SELECT * FROM leads;\nDROP TABLE leads;\n"
               "ALTER TABLE new_leads RENAME TO leads;\n")
    monkeypatch.setitem(MIGRATIONS, SCHEMA_VERSION, rebuild)
    monkeypatch.setattr("leadrules.engine.store.store.SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with Store(tmp_path / "views.db") as store:
        assert store.schema_version == SCHEMA_VERSION + 1
        views = {name for (name,) in store._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'view'")}
        assert views == {"lead_events", "latest_results", "latest_stage_moves", "latest_actions",
                         "latest_sla", "run_log", "import_log", "trade_fair_2027_leads",
                         "trade_fair_2027_events", "results", "stage_moves", "actions", "sla",
                         "checkpoints", "stage_stays"}
        assert _rows(store, "SELECT lead_id, employees FROM trade_fair_2027_leads "
                            "ORDER BY lead_id") == [("L1", 12000), ("L2", None)]


def test_runs_keep_the_foreign_keys_even_where_sqlite_enforces_them(tmp_path):
    """leadrules never turns them on; a tool that does still sees full and incremental runs,
    which delete only a ruleset's own rows, go through."""
    store, rules_path = _store(tmp_path)
    store._conn.execute("PRAGMA foreign_keys = ON")
    rules = compile_ruleset(dsl.load(rules_path))
    store.add_events([Event("e4", "L3", "signup", T("2026-03-03"))], ingested_at=T("2026-04-01"))
    assert run_rules(store, rules, T("2026-03-11"), workers=1).mode == "incremental"
    assert run_rules(store, rules, T("2026-03-11"), full=True, workers=1).mode == "full"
    assert _rows(store, "SELECT lead_id, score FROM latest_results ORDER BY lead_id") == [
        ("L1", 30), ("L2", 0), ("L3", 20)]
    assert _rows(store, "PRAGMA foreign_key_check") == []
