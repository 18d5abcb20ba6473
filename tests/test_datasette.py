"""Datasette serves a store with the shipped metadata (docs/datasette.md): started on 127.0.0.1 on
a free port, asked for views and canned queries as JSON, and stopped."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from clitools import invoke
from leadrules import dsl
from leadrules.engine import bundled
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.store.store import Store

pytest.importorskip("datasette", reason="datasette is in the test extra")
DATASETTE = Path(sys.executable).with_name("datasette")
START_WITHIN = 60  # seconds; Datasette starts in one or two


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(base: str, path: str):
    with urllib.request.urlopen(base + path, timeout=10) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(base URL, store path) of Datasette serving the demo store as `leadrules`."""
    if not DATASETTE.exists():
        pytest.skip(f"no datasette command beside {sys.executable}")
    db = tmp_path_factory.mktemp("datasette") / "leadrules.db"
    assert invoke("demo", "--db", db, "--top", "0").exit_code == 0
    port = _free_port()
    process = subprocess.Popen(
        [DATASETTE, "serve", db, "-m", bundled.file_path("datasette.yaml"), "-h", "127.0.0.1",
         "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_WITHIN
        while True:
            try:
                _get(base, "/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"datasette did not start: {process.stderr.read().decode()}")
                time.sleep(0.2)
        yield base, db
    finally:
        process.kill()
        process.wait(timeout=10)


def _b2b_hash() -> str:
    return compile_ruleset(dsl.load(bundled.ruleset_path())).hash


def test_a_view_as_json_is_the_stored_result_with_times_as_text(served):
    base, db = served
    (row,) = _get(base, "/leadrules/latest_results.json?_shape=array&lead_id=L000027")
    with Store(db) as store:
        (stored,) = [r for r in store.results(_b2b_hash()) if r["lead_id"] == "L000027"]
        as_of = store.last_run()["as_of"]
    assert row["ruleset"] == "B2B demand funnel"
    assert row["ruleset_path"] == str(bundled.ruleset_path())
    assert {k: row[k] for k in ("score", "fit", "grade", "stage", "owner", "sla")} == \
        {k: stored[k] for k in ("score", "fit", "grade", "stage", "owner", "sla")}
    assert row["as_of"] == "2026-10-30T19:02:27Z" and as_of == 1_793_386_947_000_000


def test_the_rulesets_view_has_the_profile_fields_as_columns(served):
    base, _ = served
    (row,) = _get(base, "/leadrules/b2b_demand_funnel_leads.json?_shape=array&lead_id=L000002")
    assert {k: row[k] for k in ("lead_id", "title", "employees", "industry", "country")} == {
        "lead_id": "L000002", "title": "CMO", "employees": 640, "industry": "Logistik",
        "country": "PL"}


def test_the_canned_funnel_is_the_funnel_of_the_store(served):
    base, db = served
    rows = _get(base, "/leadrules/funnel.json?_shape=array&ruleset=B2B+demand+funnel")
    with Store(db) as store:
        funnel = store.funnel(_b2b_hash())
    assert [(r["stage"], r["leads"]) for r in rows] == funnel
    assert sum(n for _, n in funnel) == 337


def test_the_canned_overdue_slas_are_the_overdue_entries(served):
    base, db = served
    rows = _get(base, "/leadrules/overdue_slas.json?_shape=array")
    with Store(db) as store:
        overdue = sorted(e["lead_id"] for e in store.details("sla", _b2b_hash())
                         if e["outcome"] == "overdue")
    assert sorted(r["lead_id"] for r in rows) == overdue and len(overdue) == 12
    assert rows[0]["due"] >= rows[-1]["due"] and rows[0]["due"].endswith("Z")


def test_the_metadata_titles_the_tables(served):
    base, _ = served
    metadata = _get(base, "/-/metadata.json")
    assert metadata["title"] == "leadrules"
    tables = metadata["databases"]["leadrules"]["tables"]
    assert tables["latest_results"]["title"] == "Latest results"
    assert tables["latest_sla"]["title"] == "SLAs"
