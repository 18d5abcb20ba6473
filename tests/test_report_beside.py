"""engine.report.beside: report_stays made by a forked process while the report's connection
makes report_leads, the views that process measures, and what the report does when it
fails."""

import datetime as dt
from pathlib import Path

import pytest

from leadrules import dsl
from leadrules.engine.errors import StoreError
from leadrules.engine.events import parse_timestamp
from leadrules.engine.report import beside, scope as scope_module
from leadrules.engine.report.scope import make_scope
from leadrules.engine.report.views import aside, build
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store

DATA = Path(__file__).parent / "data" / "report"
RULES = DATA / "funnel.rules"
RULESET = dsl.load(RULES)
FLOW = ("stage", "start", "in", "out_forward", "out_backward", "out_funnel", "end")
# tests/test_report.py: the flow of the whole history, and of February by country
WHOLE = [("Name", 0, 6, 4, 0, 2, 0), ("Lead", 0, 4, 3, 0, 0, 1), ("Sales", 0, 4, 1, 1, 0, 2),
         ("Customer", 0, 1, 0, 0, 0, 1), ("Disqualified", 0, 2, 0, 0, 0, 2)]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("beside") / "funnel.db"
    with Store(path) as store:
        ingest(store, str(DATA / "leads.csv"), str(DATA / "events.csv"))
        run_rules(store, compile_ruleset(RULESET), parse_timestamp("2026-03-02"))
    return path


@pytest.fixture
def scratch_dir(tmp_path, monkeypatch) -> Path:
    """Where the scratch files go, empty."""
    monkeypatch.setattr(beside.tempfile, "tempdir", str(tmp_path))
    return tmp_path


def flows(store: Store, **options) -> list[tuple]:
    scope = make_scope(store, compile_ruleset(RULESET), RULESET, **options)
    ((figure,),) = [build(scope, "flow")]
    return [tuple(r[k] for k in FLOW) for r in figure.rows]


def test_the_stays_come_from_an_attached_file_that_is_gone(db, scratch_dir):
    with Store(db) as store:
        assert flows(store) == WHOLE
        attached = [name for _, name, _ in store.read("PRAGMA database_list")]
        assert attached == ["main", "temp", beside.SCHEMA]
        assert list(scratch_dir.iterdir()) == []  # unlinked: read until the store closes


def test_a_second_report_on_the_same_connection_reads_its_own_stays(db, scratch_dir):
    with Store(db) as store:
        february = flows(store, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28),
                         by="country")
        assert flows(store) == WHOLE
        with Store(db) as other:
            assert flows(other, start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28),
                         by="country") == february
    assert list(scratch_dir.iterdir()) == []


def test_when_the_second_connection_fails_the_first_makes_the_stays(db, scratch_dir,
                                                                    monkeypatch):
    def fail(path):
        raise StoreError(f"{path}: cannot open store: too many open files")

    monkeypatch.setattr(beside, "Store", fail)
    with Store(db) as store:
        assert flows(store) == WHOLE
        assert [name for _, name, _ in store.read("PRAGMA database_list")] == ["main", "temp"]
    assert list(scratch_dir.iterdir()) == []


def test_a_store_in_memory_makes_both_tables_itself():
    assert not beside.usable(Store.memory())


OPTIONS = [{}, dict(by="country", period="month"), dict(start=dt.date(2026, 2, 1),
                                                       end=dt.date(2026, 2, 28), by="owner"),
           dict(period="week", within="30d")]


def everything(store: Store, view: str = "all", beside_too: bool = True, **options):
    """Every figure of `view`, measured with the process beside doing its part (or not), and
    the progress ticks."""
    if "within" in options:
        options["within"] = 30 * 86_400_000_000
    scope = make_scope(store, compile_ruleset(RULESET), RULESET,
                       aside=aside(view) if beside_too else None, **options)
    ticks = []
    figures = build(scope, view, ticks.append)
    return [(f.view, f.columns, f.rows) for f in figures], len(ticks)


@pytest.mark.parametrize("options", OPTIONS)
def test_the_views_measured_beside_are_those_measured_here(db, scratch_dir, options):
    with Store(db) as store:
        assert everything(store, **options) == everything(store, beside_too=False, **options)
        assert everything(store, **options)[1] == 6
        assert everything(store, "velocity", **options) == everything(
            store, "velocity", beside_too=False, **options)


def test_when_the_process_fails_measuring_this_one_measures(db, scratch_dir, monkeypatch):
    def fail(scope, aside, store):
        raise StoreError(f"{store.path}: cannot read the store: disk I/O error")

    with Store(db) as store:
        expected = everything(store, beside_too=False)
        monkeypatch.setattr(scope_module, "_measured_aside", fail)
        scope = make_scope(store, compile_ruleset(RULESET), RULESET, aside=aside("all"))
        assert scope.side is not None and scope.side.result() is None  # it made the table
        assert everything(store) == expected
    assert list(scratch_dir.iterdir()) == []


def test_without_a_scratch_file_the_first_makes_the_stays(db, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(beside.tempfile, "mkstemp", full)
    with Store(db) as store:
        assert everything(store) == everything(store, beside_too=False)
        assert [name for _, name, _ in store.read("PRAGMA database_list")] == ["main", "temp"]


def test_without_a_process_the_first_makes_the_stays_and_no_file_is_left(db, scratch_dir,
                                                                          monkeypatch):
    def refused(self):
        raise OSError(11, "Resource temporarily unavailable")

    with Store(db) as store:
        expected = everything(store, beside_too=False)
        monkeypatch.setattr(beside.multiprocessing.process.BaseProcess, "start", refused)
        assert everything(store) == expected
    assert list(scratch_dir.iterdir()) == []
