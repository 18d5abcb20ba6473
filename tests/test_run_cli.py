"""`run`, `leads`, `dry-run` and `explain` as a user types them: exact output and exit codes."""

import csv
import hashlib
import io
import json
from pathlib import Path

import clitools
import pytest
from clitools import invoke

from leadrules.engine.events import parse_timestamp
from leadrules.engine.store.store import Store

DATA = Path(__file__).parent / "data" / "explain"
RULES = Path(__file__).parent.parent / "rulesets" / "b2b.rules"
AS_OF = "2026-04-01"
LEAD_ENTERED = "2026-03-20T09:00:00Z"  # when L1 entered Lead, its stage at AS_OF


def golden(name: str, actual: str) -> str:
    return clitools.golden(DATA / name, actual)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """The rules, sample files and store under short fixed names in the current directory."""
    return clitools.work_in(tmp_path, monkeypatch, RULES, DATA / "leads.csv", DATA / "events.csv")


def ingest(*files):
    args = [a for kind, name in files for a in (f"--{kind}", name)]
    result = invoke("ingest", "--db", "crm.db", "-q", *args)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("lead", ["L1", "L2", "L3", "L4"])
def test_explain_from_sample_files(cwd, lead):
    result = invoke("explain", lead, "b2b.rules", "--leads", "leads.csv", "--events",
                    "events.csv", "--as-of", AS_OF)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden(f"{lead}.expected", result.stdout)


def test_explain_from_the_store_uses_the_latest_runs_as_of(cwd):
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    assert invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF).exit_code == 0
    result = invoke("explain", "L1", "b2b.rules", "--db", "crm.db")
    assert (result.exit_code, result.stderr) == (0, "")
    expected = (DATA / "L1.expected").read_text(encoding="utf-8").replace(
        "as of 2026-04-01T00:00:00Z (given)", "as of 2026-04-01T00:00:00Z (the as-of time of run 1)")
    assert result.stdout == expected


def test_explain_an_unknown_lead(cwd):
    ingest(("leads", "leads.csv"))
    for args in (["--db", "crm.db"], ["--leads", "leads.csv", "--events", "events.csv"]):
        result = invoke("explain", "L9", "b2b.rules", *args)
        assert result.exit_code == 2
    assert invoke("explain", "L9", "b2b.rules", "--db", "crm.db").stderr == (
        "error: crm.db: no lead 'L9' in the store\n")
    assert result.stderr == "error: no lead 'L9' in leads.csv or events.csv\n"
    lonely = invoke("explain", "L1", "b2b.rules", "--leads", "leads.csv")
    assert (lonely.exit_code, lonely.stderr) == (2, "error: --leads and --events go together\n")


def test_dry_run_table_writes_nothing(cwd):
    result = invoke("dry-run", "b2b.rules", "--leads", "leads.csv", "--events", "events.csv",
                    "--as-of", AS_OF)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden("dry-run.expected", result.stdout)
    assert sorted(p.name for p in cwd.iterdir()) == ["b2b.rules", "events.csv", "leads.csv"]


def test_dry_run_csv_and_json_of_one_lead(cwd):
    args = ("dry-run", "b2b.rules", "--leads", "leads.csv", "--events", "events.csv",
            "--as-of", AS_OF, "--lead", "L1")
    as_csv = invoke(*args, "--format", "csv")
    assert as_csv.stderr == "as of 2026-04-01T00:00:00Z (given)\n"
    assert as_csv.stdout == ("lead_id,score,fit,grade,band,priority,stage,disqualified,owner,"
                             "label\nL1,70,80,A,2,A2,Lead,,Vertrieb DACH,hot\n")
    as_json = invoke(*args, "--format", "json")
    assert json.loads(as_json.stdout) == [
        {"lead_id": "L1", "score": 70, "fit": 80, "grade": "A", "band": 2, "priority": "A2",
         "stage": "Lead", "disqualified": None, "owner": "Vertrieb DACH", "label": "hot"}]


def test_dry_run_refuses_a_bad_as_of_and_an_unknown_lead(cwd):
    args = ("dry-run", "b2b.rules", "--leads", "leads.csv", "--events", "events.csv")
    bad = invoke(*args, "--as-of", "April 1st")
    assert (bad.exit_code, bad.stderr) == (2, "error: --as-of: 'April 1st' is not a time; write "
                                              "a date like 2026-04-01 or a moment like "
                                              "2026-04-01T09:30:00Z\n")
    unknown = invoke(*args, "--lead", "nobody")
    assert (unknown.exit_code, unknown.stderr) == (
        2, "error: no lead 'nobody' in leads.csv or events.csv\n")


def results(db="crm.db"):
    with Store(db) as store:
        run = store.latest_run()
        key = run["ruleset_hash"]
        return ({r["lead_id"]: r for r in store.results(key)},
                *(store.details(t, key) for t in ("stage_moves", "actions", "sla")))


@pytest.fixture(params=["1", "2"])
def workers(request, monkeypatch):
    """--workers for `run`; with 2, the leads are split over two forked processes, in an
    incremental run too, however few they are."""
    monkeypatch.setattr("leadrules.engine.scoring.spans.PARALLEL_LEADS", 1)
    return request.param


def checkpointed() -> list[str]:
    with Store("crm.db") as store:
        return [lead for (lead,) in store._conn.execute(
            "SELECT lead_id FROM checkpoints ORDER BY lead_id")]


def test_run_is_full_then_incremental_and_equals_a_full_run(cwd, workers):
    (cwd / "first.csv").write_text("".join(open("events.csv").readlines()[:9]))
    ingest(("leads", "leads.csv"), ("events", "first.csv"))
    first = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-03-01",
                   "--workers", workers)
    assert (first.exit_code, first.stderr) == (0, "")
    digest = hashlib.sha256(RULES.read_bytes()).hexdigest()[:12]
    assert first.stdout.splitlines()[:4] == [
        f'Rules:    "B2B demand funnel" from b2b.rules (content {digest})',
        "As of:    2026-03-01T00:00:00Z (given)",
        first.stdout.splitlines()[2],
        "Changes:  first run of these rules on this store; 3 leads scored"]
    assert first.stdout.splitlines()[2].startswith("Run 1:    all 3 leads replayed; 7 events in ")
    # a full run saves one for every lead: L2 (disqualified by its profile) and L3 applied no
    # event
    assert checkpointed() == ["L1", "L2", "L3"]
    ingest(("events", "events.csv"))  # the rest of L1's events, and L2, L3, L4
    second = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--workers", workers)
    lines = second.stdout.splitlines()
    # L1 resumes after e08 and L3 from the state before any event; L4 (new) replays from its
    # start; L2, disqualified by its profile, is left as it was, whatever its new events
    assert lines[2].startswith(
        "Run 2:    3 of 4 leads replayed (2 resumed from their last event): those with new events "
        "(1 more left as they were: new events only of types no rule reacts to, or "
        "disqualified), a new profile, or a timer due; ")
    # L1: owner and SLA (it went to SalesLead and back); L3: its first events; L4 is new
    assert lines[3] == ("Changes:  since run 1: 2 leads changed (score 1, band 1, priority 1, "
                        "stage 1, owner 1, sla 1), 1 new")
    incremental = results()
    with Store("crm.db") as store:  # the leads per stage the run stored, from its changes
        assert dict(store.funnel(store.latest_run()["ruleset_hash"])) == {
            "Interaction": 1, "Disqualified": 1, "Lead": 1, "TargetCustomer": 1}
    assert sorted(r["stage"] for r in incremental[0].values()) == [
        "Disqualified", "Interaction", "Lead", "TargetCustomer"]
    assert checkpointed() == ["L1", "L2", "L3", "L4"]  # an incremental run replaces each one
    again = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    assert again.stdout.splitlines()[2].startswith("Run 3:    0 of 4 leads replayed")
    assert invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--full").exit_code == 0
    assert results() == incremental
    assert incremental[0]["L1"]["score"] == 70 and incremental[0]["L2"]["disqualified"] == "student"


def test_late_events_and_new_profiles_replay_a_lead_from_its_start(cwd, workers):
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    # L1: a click before its last event; L3: a new title; L4: an event after its last one
    (cwd / "late.csv").write_text(
        "event_id,lead_id,type,ts\n"
        "x1,L1,trade_show_visit,2026-01-06T10:00:00Z\n"
        "x2,L4,webinar_signup,2026-03-31T08:00:00Z\n")
    (cwd / "title.csv").write_text("lead_id,title\nL3,CMO\n")
    ingest(("events", "late.csv"), ("leads", "title.csv"))
    second = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--workers", workers)
    assert second.stdout.splitlines()[2].startswith(
        "Run 2:    3 of 4 leads replayed (1 resumed from their last event): ")
    incremental = results()
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--full")
    assert results() == incremental
    assert {lead: r["score"] for lead, r in incremental[0].items()} == {
        "L1": 100, "L2": 0, "L3": 40, "L4": 25}


def test_what_the_last_runs_timers_did_after_a_checkpoint_is_undone_by_a_resumed_replay(
        cwd, workers):
    """Run 1 ends L1's quiet spells at its as-of time: -10 on 02-04 and the wake-up nurture on
    03-06, both after L1's checkpoint (its event of 01-05). A webinar of 02-20 comes later and
    is after the checkpoint, so run 2 resumes L1: the nurture is gone, the -10 stays."""
    (cwd / "one.csv").write_text("event_id,lead_id,type,ts\nw1,L1,webinar_signup,2026-01-05\n")
    (cwd / "two.csv").write_text("event_id,lead_id,type,ts\nw2,L1,webinar_signup,2026-02-20\n")
    ingest(("leads", "leads.csv"), ("events", "one.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-03-10")
    assert [a["value"] for a in results()[2]] == ["Wake-up nurture"]
    ingest(("events", "two.csv"))
    second = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-03-10",
                    "--workers", workers)
    assert second.stdout.splitlines()[2].startswith(
        "Run 2:    1 of 3 leads replayed (1 resumed from their last event): ")
    incremental = results()
    assert (incremental[0]["L1"]["score"], incremental[2]) == (40, [])
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-03-10", "--full")
    assert results() == incremental


def test_a_later_as_of_replays_only_leads_with_timers_due(cwd):
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    later = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-04-30")
    # L3's quiet spell ends 2026-04-24 (40 - 10 = 30, still band 3); L4's on 2026-04-29 (0 stays
    # 0, clamped); L1's timers fired before 2026-04-01; L2 is disqualified: neither replays
    assert later.stdout.splitlines()[2].startswith("Run 2:    2 of 4 leads replayed")
    assert later.stdout.splitlines()[3] == "Changes:  since run 1: 1 lead changed (score 1), 0 new"
    incremental = results()
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-04-30", "--full")
    assert results() == incremental


def test_leads_filters_and_formats(cwd):
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    table = invoke("leads", "--db", "crm.db")
    assert table.stdout == golden("leads.expected", table.stdout)
    top = invoke("leads", "--db", "crm.db", "--top", "1", "--format", "csv")
    assert list(csv.reader(io.StringIO(top.stdout))) == [
        ["lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified", "owner",
         "label", "stage_entered_at"],
        ["L1", "70", "80", "A", "2", "A2", "Lead", "", "Vertrieb DACH", "hot", LEAD_ENTERED]]
    staged = invoke("leads", "--db", "crm.db", "--stage", "Disqualified", "--format", "json")
    assert [(r["lead_id"], r["disqualified"]) for r in json.loads(staged.stdout)] == [
        ("L2", "student")]
    assert json.loads(invoke("leads", "--db", "crm.db", "--priority", "C3",
                             "--format", "json").stdout)[0]["lead_id"] == "L3"


def test_leads_and_run_need_a_store_and_leads_a_run(cwd):
    missing = invoke("leads", "--db", "none.db")
    assert (missing.exit_code, missing.stderr) == (
        2, "error: none.db: no store here; create one with `leadrules ingest` (or point --db / "
           "LEADRULES_DB at one)\n")
    assert invoke("run", "b2b.rules", "--db", "none.db").exit_code == 2
    ingest(("leads", "leads.csv"))
    empty = invoke("leads", "--db", "crm.db")
    assert (empty.exit_code, empty.stderr) == (
        2, "error: crm.db: no results yet; score the leads with `leadrules run RULES` first\n")


def test_leads_whose_new_events_no_rule_reads_are_not_replayed_but_their_entry_is_dated(
        cwd, workers):
    """email_open moves no rule of b2b.rules: L3's open before its first event and L1's after
    its last change neither result, so run 2 replays neither; L3 entered the funnel earlier."""
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    (cwd / "opens.csv").write_text("event_id,lead_id,type,ts\n"
                                   "o1,L3,email_open,2026-01-15T08:00:00Z\n"
                                   "o2,L1,email_open,2026-03-21T08:00:00Z\n")
    ingest(("events", "opens.csv"))
    second = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--workers", workers)
    assert second.stdout.splitlines()[2].startswith(
        "Run 2:    0 of 4 leads replayed: those with new events (2 more left as they were: new "
        "events only of types no rule reacts to, or disqualified), a new profile, or a timer "
        "due; ")
    incremental = results()
    entry = [(m["ts"], m["cause"]) for m in incremental[1]
             if m["lead_id"] == "L3" and m["seq"] == 0]
    assert entry == [(parse_timestamp("2026-01-15T08:00:00Z"), "o1")]
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF, "--full")
    full = results()
    assert full[1:] == incremental[1:]
    # the unreplayed leads keep the run that last replayed them
    assert ({lead: {k: v for k, v in r.items() if k != "run_id"} for lead, r in full[0].items()}
            == {lead: {k: v for k, v in r.items() if k != "run_id"}
                for lead, r in incremental[0].items()})


def test_an_undated_entry_is_dated_when_a_later_as_of_reaches_its_first_event(cwd):
    """L5 is known from one email_open after the first run's as-of: undated then; at a later
    as-of it entered the funnel that day, though no rule reads the event and L5 replays not."""
    (cwd / "more.csv").write_text("event_id,lead_id,type,ts\no5,L5,email_open,2026-04-10\n")
    ingest(("leads", "leads.csv"), ("events", "events.csv"))
    ingest(("events", "more.csv"))
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)

    def entry():
        return [(m["ts"], m["cause"]) for m in results()[1]
                if m["lead_id"] == "L5" and m["seq"] == 0]
    assert entry() == [(None, "profile")]
    again = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", AS_OF)
    assert again.stdout.splitlines()[2].startswith("Run 2:    0 of 5 leads replayed")
    assert entry() == [(None, "profile")]
    later = invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-04-30")
    assert later.exit_code == 0
    with Store("crm.db") as store:  # the run that last replayed L5 is the first
        assert list(store.read("SELECT run_id FROM results WHERE lead_id = 'L5'")) == [(1,)]
    assert entry() == [(parse_timestamp("2026-04-10"), "o5")]
    incremental = results()
    invoke("run", "b2b.rules", "--db", "crm.db", "--as-of", "2026-04-30", "--full")
    assert results()[1:] == incremental[1:]
