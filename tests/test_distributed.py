"""Parquet export and import, and `run --engine dask`: lead for lead what a local run gives."""

import json
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clitools import invoke
from distributed import LocalCluster

from leadrules import dsl
from leadrules.dsl.errors import UsageError
from leadrules.engine.distributed.dask_run import run_on_dask
from leadrules.engine.distributed.parquet import buckets, export_store, read_bucket
from leadrules.engine.distributed.partition import bucket_of, replay_partition
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.sample.generator import write_sample
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import DETAIL_COLUMNS, RESULT_COLUMNS, Store

RULES = Path(__file__).parent.parent / "rulesets" / "b2b.rules"
AS_OF = parse_timestamp("2026-11-01")
LATER = parse_timestamp("2026-11-20")
TABLES = ("results", *DETAIL_COLUMNS)
COLUMNS = {"results": RESULT_COLUMNS, **DETAIL_COLUMNS}


@pytest.fixture(scope="module")
def ruleset():
    return dsl.load(RULES)


@pytest.fixture(scope="module")
def rules(ruleset):
    return compile_ruleset(ruleset)


@pytest.fixture(scope="module")
def local(tmp_path_factory, rules):
    """A store of 400 generated leads (some known only from their events), run locally."""
    folder = tmp_path_factory.mktemp("local")
    files = write_sample(folder / "sample", 400, 3)
    with Store(folder / "local.db") as store:
        ingest(store, files.leads_path, files.events_path)
        run_rules(store, rules, AS_OF, workers=1)
    return folder / "local.db"


@pytest.fixture(scope="module")
def export(tmp_path_factory, local):
    out = tmp_path_factory.mktemp("export") / "parquet"
    with Store(local) as store:
        export_store(store, out, partitions=5)
    return out


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes, shared by the tests that pass --scheduler."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def stored(db: Path, rules) -> dict[str, list[tuple]]:
    """Every table of a ruleset's run in a store, as rows in their columns, sorted."""
    with Store(db) as store:
        out = {"results": sorted(tuple(r.values()) for r in store.results(rules.hash))}
        for table in DETAIL_COLUMNS:
            out[table] = sorted(tuple(r.values()) for r in store.details(table, rules.hash))
    return out


def written(folder: Path) -> dict[str, list[tuple]]:
    """The same tables from a run's Parquet output, times as microseconds."""
    out = {}
    for table in TABLES:
        data = pq.read_table(folder / table)
        columns = [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c
                   for c in data.columns]
        assert data.column_names == list(COLUMNS[table])
        out[table] = sorted(zip(*(c.to_pylist() for c in columns)))
    return out


def test_a_dask_run_to_parquet_equals_the_local_run_lead_for_lead(local, export, rules, ruleset,
                                                                   cluster, tmp_path):
    expected = stored(local, rules)
    report = run_on_dask(ruleset, rules, export, AS_OF, scheduler=cluster, out=tmp_path / "out")
    assert written(tmp_path / "out") == expected
    assert (report.partitions, report.leads) == (5, len(expected["results"]))
    assert report.events == sum(row[RESULT_COLUMNS.index("events")]
                                for row in expected["results"])
    assert [len(expected[t]) for t in TABLES] == [450, 965, 355, 15]  # 450 entries into the first stage


def test_a_dask_run_into_a_store_is_one_full_run_without_checkpoints(local, export, rules,
                                                                      ruleset, cluster, tmp_path):
    copy, again = tmp_path / "copy.db", tmp_path / "local.db"
    shutil.copy(local, copy)
    shutil.copy(local, again)
    with Store(copy) as store:  # exported from the store it goes back to: its data version
        export_store(store, tmp_path / "parquet")
        report = run_on_dask(ruleset, rules, tmp_path / "parquet", AS_OF, scheduler=cluster,
                             store=store)
    assert stored(copy, rules) == stored(local, rules)
    assert (report.run.run_id, report.run.mode, report.run.previous) == (2, "full", 1)
    assert (report.run.new, report.run.changed["any"]) == (0, 0)
    db = sqlite3.connect(copy)
    assert db.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
    assert db.execute("SELECT mode, data_version, leads FROM runs WHERE run_id = 2").fetchone() \
        == ("full", db.execute("SELECT data_version FROM runs WHERE run_id = 1").fetchone()[0],
            len(stored(local, rules)["results"]))
    # A later incremental run over results without checkpoints replays from each lead's start,
    # and gives what it gives after the local run (which resumes from checkpoints).
    for db_path in (again, copy):
        with Store(db_path) as store:
            assert run_rules(store, rules, LATER, workers=1).mode == "incremental"
    assert stored(copy, rules) == stored(again, rules) != stored(local, rules)


def test_the_cli_exports_and_runs_on_a_local_cluster(local, rules, tmp_path):
    result = invoke("export", "--parquet", tmp_path / "pq", "--db", local, "--partitions", "3")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.startswith(f"Exported 450 leads and 7,679 events from {local} to "
                                    f"{tmp_path / 'pq'}/ in 3 partitions (")
    result = invoke("run", RULES, "--engine", "dask", "--events", tmp_path / "pq", "--out",
                    tmp_path / "out", "--as-of", "2026-11-01", "--workers", "2")
    assert (result.exit_code, result.stderr) == (0, "")
    lines = result.stdout.splitlines()
    assert lines[1:2] == ["As of:    2026-11-01T00:00:00Z (given)"]
    assert lines[2].startswith(f"Dask:     3 partitions of {tmp_path / 'pq'} on 2 workers at "
                               "tcp://127.0.0.1:")
    assert lines[3] == (f"Wrote:    450 leads' results, stage moves, actions and SLA outcomes "
                        f"to {tmp_path / 'out'}/")
    assert written(tmp_path / "out") == stored(local, rules)


def test_export_partitions_by_a_stable_hash_and_sorts_each_file(export):
    parts, meta = buckets(export)
    assert [p.name for p in parts] == [f"part-0000{k}.parquet" for k in range(5)]
    assert (meta["layout"], meta["partitions"], meta["leads"], meta["events"]) == (
        1, 5, 450, 7679)
    for k, part in enumerate(parts):
        leads = pq.read_table(part.leads).to_pylist()
        events = pq.read_table(part.events)
        assert events.schema.field("ts").type == pa.timestamp("us", tz="UTC")
        keys = list(zip(events["lead_id"].to_pylist(),
                        events["ts"].cast(pa.int64()).to_pylist(),
                        events["event_id"].to_pylist()))
        assert keys == sorted(keys)
        assert {bucket_of(lead["lead_id"], 5) for lead in leads} == {k}
        assert {lead_id for lead_id, _, _ in keys} <= {lead["lead_id"] for lead in leads}
    assert bucket_of("L000001", 5) == 0xE14454A0 % 5  # CRC-32, as Spark's crc32() computes


def test_export_then_ingest_gives_the_same_leads_and_events(local, export, tmp_path):
    copy = tmp_path / "again.db"
    result = invoke("ingest", "--db", copy, "-q", "--leads", export / "leads", "--events",
                    export / "events")
    assert (result.exit_code, result.stderr) == (0, "")

    def content(db):
        conn = sqlite3.connect(db)
        return (conn.execute("SELECT lead_id, profile FROM leads ORDER BY 1").fetchall(),
                conn.execute("SELECT lead_id, ts, event_id, type, props FROM events "
                             "ORDER BY 1, 2, 3").fetchall())

    assert content(copy) == content(local)
    with Store(copy) as store:  # the same folder again is the same import: not read again
        report = ingest(store, export / "leads", export / "events")
    assert [(f.status, f.read) for f in report.files] == [("unchanged", 0)] * 2


def test_a_partition_replays_the_same_whatever_order_its_rows_come_in(export, rules):
    part = buckets(export)[0][2]
    leads, events = (list(rows) for rows in read_bucket(part, rules.used))
    ordered = replay_partition(rules, leads, events, AS_OF, ordered=True)
    random.Random(7).shuffle(leads)
    random.Random(8).shuffle(events)
    shuffled = replay_partition(rules, leads, events, AS_OF)
    assert (shuffled.results, shuffled.details) == (ordered.results, ordered.details)
    assert len(ordered.results) > 50


def test_events_without_a_lead_row_are_replayed_with_an_empty_profile(rules):
    ts = parse_timestamp("2026-10-01")
    events = [("L2", ts, "e1", "webinar_signup", "{}"), ("L3", ts, "e2", "page_visit", "{}")]
    rows = replay_partition(rules, [("L1", '{"title": "CEO"}'), ("L3", "{}")], events, AS_OF)
    assert [row[:2] for row in rows.results] == [
        ("L1", 0),
        ("L2", evaluate(rules, "L2", {}, [Event("e1", "L2", "webinar_signup", ts)], AS_OF).score),
        ("L3", evaluate(rules, "L3", {}, [Event("e2", "L3", "page_visit", ts)], AS_OF).score)]
    assert rows.results[1][1] > 0


def test_ingesting_parquet_rejects_bad_rows_with_their_row_number(tmp_path):
    table = pa.table({"lead_id": ["L1", None, "L3"],
                      "ts": pa.array([1_767_225_600_000_000] * 3, pa.timestamp("us", "UTC")),
                      "type": ["page_visit"] * 3,
                      "props": ['{"topic": "pricing", "n": 3}', "{}", "[1]"]})
    pq.write_table(table, tmp_path / "events.parquet")
    result = invoke("ingest", "--db", tmp_path / "s.db", "--events", tmp_path / "events.parquet")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"{tmp_path / 'events.parquet'}:2: missing lead_id (column 'lead_id', value '')",
        f"{tmp_path / 'events.parquet'}:3: 'props' must be a JSON object of values (column "
        "'props', value '[1]')"]
    with Store(tmp_path / "s.db") as store:
        profile, events = store.lead_events("L1")
    assert [(e.ts, e.type, dict(e.props)) for e in events] == [
        (1_767_225_600_000_000, "page_visit", {"topic": "pricing", "n": "3"})]


def test_ingesting_parquet_without_a_required_column_is_refused(tmp_path):
    pq.write_table(pa.table({"lead_id": ["L1"], "type": ["x"]}), tmp_path / "e.parquet")
    result = invoke("ingest", "--db", tmp_path / "s.db", "--events", tmp_path / "e.parquet")
    assert (result.exit_code, result.stderr) == (
        2, f"error: {tmp_path / 'e.parquet'}: no column 'ts'; found: lead_id, type\n")


@pytest.mark.parametrize("args, message", [
    (["--out", "x"], "--events, --scheduler and --out go with --engine dask"),
    (["--engine", "dask"], "--engine dask needs --events DIR, a folder `export --parquet` wrote"),
    (["--engine", "dask", "--events", ".", "--out", "out"], ".: not a leadrules Parquet export: "
     "it needs a leads/ and an events/ folder (`leadrules export --parquet DIR` writes one)"),
])
def test_run_engine_dask_usage_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("run", RULES, *args)
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")


def _repeat_a_row(events: pa.Table) -> tuple[pa.Table, str]:
    return (pa.concat_tables([events, events.slice(0, 1)]),
            f"event_id {events['event_id'][0].as_py()!r} appears more than once; each event_id "
            "must be unique (`leadrules ingest` drops repeated ones)")


def _drop_props(events: pa.Table) -> tuple[pa.Table, str]:
    return (events.drop_columns(["props"]),
            "no column 'props'; found: lead_id, ts, event_id, type")


def _ts_as_text(events: pa.Table) -> tuple[pa.Table, str]:
    return (events.set_column(1, "ts", events["ts"].cast(pa.string())),
            "column 'ts' is string, not timestamp")


@pytest.mark.parametrize("damage", [_repeat_a_row, _drop_props, _ts_as_text])
def test_a_bad_partition_fails_the_run_with_its_file(export, rules, ruleset, cluster, tmp_path,
                                                     damage):
    broken = tmp_path / "broken"
    shutil.copytree(export, broken)
    part = broken / "events" / "part-00001.parquet"
    table, message = damage(pq.read_table(part))
    pq.write_table(table, part)
    with pytest.raises(UsageError) as error:
        run_on_dask(ruleset, rules, broken, AS_OF, scheduler=cluster, out=tmp_path / "out")
    assert str(error.value) == f"{part}: {message}"
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["broken"]  # nor the folder it was written in


def test_the_partition_function_imports_no_distributed_engine():
    code = ("import sys, leadrules.engine.distributed.partition; print(sorted({m.split('.')[0] "
            "for m in sys.modules} & {'dask', 'distributed', 'pyarrow', 'pandas', 'numpy'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout == "[]\n"


def test_export_replaces_an_earlier_export_and_nothing_else(local, tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    result = invoke("export", "--parquet", tmp_path / "other", "--db", local)
    assert (result.exit_code, result.stderr) == (
        2, f"error: {tmp_path / 'other'}: exists and is not a leadrules Parquet folder; give a "
           "new or empty folder\n")
    for partitions in ("6", "2"):
        result = invoke("export", "--parquet", tmp_path / "pq", "--db", local, "--partitions",
                        partitions)
        assert result.exit_code == 0
    assert sorted(p.name for p in (tmp_path / "pq" / "events").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "pq"]
