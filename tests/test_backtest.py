"""`leadrules backtest`: outcomes read and rejected, every figure on a small file checked by
hand, the time split, usage errors, and the bundled sample's report as a golden file."""

import json
from pathlib import Path

import pytest

from clitools import golden, invoke, work_in
from leadrules.engine.backtest.outcomes import read_outcomes
from leadrules.engine.bundled import ruleset_path, sample_outcomes_path, sample_paths
from leadrules.engine.errors import InputErrors

DATA = Path(__file__).parent / "data" / "backtest"
SMALL = (DATA / "small.rules", "--leads", DATA / "leads.csv", "--events", DATA / "events.csv",
         "--as-of", "2026-02-01")


def small(*args) -> dict:
    result = invoke("backtest", *SMALL, "--format", "json", *args)
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.output)


# --- outcome files ------------------------------------------------------------------------------

def test_outcome_values_words_dates_and_empty_cells():
    found = read_outcomes(DATA / "outcomes.csv")
    assert found.known == {"L01": True, "L02": False, "L03": True, "L04": True, "L05": False,
                           "L06": False, "L07": True, "L08": False, "L09": True, "L11": True}
    assert found.empty == {"L10"}
    assert sorted(found.dates) == ["L07", "L09"]
    assert found.before(found.dates["L09"]).converted_before == ("L09",)


def test_bad_outcomes_are_each_named_with_line_column_and_value(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("lead_id,won\nL1,1\nL2,maybe\n,1\nL1,0\nL3,2026-13-01\nL1,1\n",
                    encoding="utf-8")
    with pytest.raises(InputErrors) as caught:
        read_outcomes(path, "won")
    hint = ("not an outcome: write 1 or 0, true or false, yes or no, or the date of the "
            "conversion (2026-11-05)")
    assert str(caught.value) == "\n".join([
        "4 bad rows; nothing was back-tested:",
        f"  {path}:3: {hint} (column 'won', value 'maybe')",
        f"  {path}:4: missing lead_id (column 'lead_id', value '')",
        f"  {path}:5: lead L1 has another outcome on line 2 (column 'won', value '0')",
        f"  {path}:6: {hint} (column 'won', value '2026-13-01')"])


def test_bad_outcomes_exit_1_from_the_command(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("lead_id,converted\nL01,perhaps\n", encoding="utf-8")
    result = invoke("backtest", *SMALL, "--outcomes", path)
    assert result.exit_code == 1
    assert result.stderr == (f"error: 1 bad row; nothing was back-tested:\n  {path}:2: not an "
                             "outcome: write 1 or 0, true or false, yes or no, or the date of the "
                             "conversion (2026-11-05) (column 'converted', value 'perhaps')\n")


def test_outcomes_as_json_lines(tmp_path):
    path = tmp_path / "o.jsonl"
    path.write_text('{"lead_id": "L1", "Converted": true}\n{"lead_id": "L2", "Converted": 0}\n'
                    '{"lead_id": "L3", "Converted": null}\n{"lead_id": "L4"}\n',
                    encoding="utf-8")
    found = read_outcomes(path, "Converted")
    assert found.known == {"L1": True, "L2": False} and found.empty == {"L3", "L4"}


def test_an_outcome_column_that_is_not_there(tmp_path):
    result = invoke("backtest", *SMALL, "--outcomes", DATA / "outcomes.csv",
                    "--outcome-column", "Converted")
    assert result.exit_code == 2
    assert result.stderr == (f"error: {DATA / 'outcomes.csv'}: header has no column "
                             "'Converted'; found: lead_id, converted; say which column holds it "
                             "with --map 'COLUMN=Converted' (or give every row one value with "
                             "--set Converted=VALUE)\n")
    path = tmp_path / "o.jsonl"
    path.write_text('{"lead_id": "L1", "won": 1}\n', encoding="utf-8")
    with pytest.raises(Exception, match="no row has an outcome in column 'converted'"):
        read_outcomes(path)


def test_outcomes_of_none_of_the_leads(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("lead_id,converted\nX1,1\nX2,0\n", encoding="utf-8")
    result = invoke("backtest", *SMALL, "--outcomes", path)
    assert result.exit_code == 2
    assert result.stderr == (f"error: no lead of {DATA / 'leads.csv'} and {DATA / 'events.csv'}"
                             f" has an outcome in {path}, column converted: do its lead_id "
                             "values match the leads'?\n")


# --- every figure of the small file, by hand ----------------------------------------------------
# At 2026-02-01 (scores: L01 40, L02 10, L03 30, L04 40, L05 50, L06 0, L07 10, L08 20), with
# outcomes L01 1, L02 0, L03 1, L04 1, L05 0, L06 0, L07 1 (dated March), L08 0; L09 converted
# in January (left out), L10 empty, L11 not a lead.

def test_the_small_file_by_hand():
    found = small("--outcomes", DATA / "outcomes.csv", "--handover", "SalesLead")
    assert found["leads"] == {
        "source": f"{DATA / 'leads.csv'} and {DATA / 'events.csv'}", "as_of":
        "2026-02-01T00:00:00Z", "as_of_source": "given", "scored": 10, "measured": 8,
        "no_outcome": 0, "empty_outcomes": 1, "unknown_leads": 1, "converted_before_as_of": 1,
        "already_in_stage": 0}
    assert found["base"] == {"leads": 8, "converted": 4, "rate": 0.5}
    # score: converted 40 40 30 10 beat 3, 3, 3 and 1.5 of 10 50 0 20; fit: 40 20 20 0
    # against 40 0 0 20; priority A1 B2 B1 C3 against A3 C1 C3 B2
    assert found["auc"] == {"score": 10.5 / 16, "fit": 9.5 / 16, "priority": 10 / 16}
    assert [(b["band"], b["leads"], b["converted"]) for b in found["bands"]] == [
        (1, 3, 2), (2, 2, 1), (3, 3, 1)]
    assert [(g["grade"], g["leads"], g["converted"]) for g in found["grades"]] == [
        ("A", 2, 1), ("B", 3, 2), ("C", 3, 1)]
    assert [(p["grade"], p["band"], p["leads"], p["converted"]) for p in found["priorities"]] == [
        ("A", 1, 1, 1), ("A", 3, 1, 0), ("B", 1, 1, 1), ("B", 2, 2, 1), ("C", 1, 1, 0),
        ("C", 3, 2, 1)]
    assert [(x["label"], x["leads"], x["converted"]) for x in found["labels"]] == [
        ("hot", 2, 2), (None, 6, 2)]
    assert [(x["stage"], x["leads"], x["converted"]) for x in found["stages"]] == [
        ("Name", 1, 0), ("Lead", 4, 2), ("SalesLead", 2, 2), ("Customer", 1, 0)]
    assert found["handover"] == {"stage": "SalesLead", "reached": 3, "reached_converted": 2,
                                 "converted": 4, "precision": 2 / 3, "recall": 0.5, "missed": 2}
    assert [(d["converted"], d["low"], d["high"]) for d in found["deciles"]][:4] == [
        (0, 50, 50), (0.6, 40, 50), (0.8, 40, 40), (0.8, 30, 40)]
    assert [w["text"] for w in found["warnings"]] == [
        "grade B converts better than grade A: 66.7% (2 of 3) against 50.0% (1 of 2); "
        "p = 0.709, likely chance; grades A and B have fewer than 30 leads"]


def test_a_dated_conversion_after_the_as_of_time_counts_and_one_before_is_left_out():
    later = small("--outcomes", DATA / "outcomes.csv", "--as-of", "2026-03-02")
    # at 2026-03-02 L07's conversion (2026-03-01) was known, as L09's was
    assert later["leads"]["converted_before_as_of"] == 2 and later["base"]["leads"] == 7


# --- the time split -----------------------------------------------------------------------------

def test_time_split_reached_a_stage_within_the_window():
    found = small("--outcome", "reached SalesLead within 30 days")
    # L01, L04, L05 were in SalesLead or beyond on 2026-02-01; L03's visit on 02-05 takes it there
    assert found["leads"]["already_in_stage"] == 3 and found["leads"]["measured"] == 7
    assert found["base"] == {"leads": 7, "converted": 1, "rate": 1 / 7}
    assert found["outcome"] == ("reached SalesLead within 30 days after the as-of time "
                                "(by 2026-03-03T00:00:00Z)")
    assert found["auc"]["score"] == 1.0  # L03 (30) has the best score of the seven


def test_time_split_a_move_outside_the_window_is_not_a_conversion():
    found = small("--outcome", "reached Customer within 30 days")
    # L05 won in January (left out); L01 on 02-10 (in); L04 on 03-20 (after the 30 days)
    assert found["leads"]["already_in_stage"] == 1
    assert found["base"] == {"leads": 9, "converted": 1, "rate": 1 / 9}
    longer = small("--outcome", "reached Customer within 60 days")
    assert longer["base"]["converted"] == 2


def test_time_split_over_a_store_equals_the_files(tmp_path):
    db = tmp_path / "s.db"
    invoke("ingest", "--db", db, "--leads", DATA / "leads.csv", "--events", DATA / "events.csv")
    result = invoke("backtest", DATA / "small.rules", "--db", db, "--as-of", "2026-02-01",
                    "--outcome", "reached Customer within 60 days", "--format", "json")
    store = json.loads(result.output)
    files = small("--outcome", "reached Customer within 60 days")
    assert store["leads"]["source"] == f"the store {db}"
    store["leads"]["source"] = files["leads"]["source"]
    assert store == files


@pytest.mark.parametrize("args, message", [
    ((), "give --outcomes FILE (known outcomes) or --outcome 'reached STAGE within N days' "
         "(the store's own history after --as-of), one of them"),
    (("--outcome", "reached Sales within 3 days"), "--outcome 'reached Sales within 3 days': no "
     "stage 'Sales' in the rules; stages: Name, Lead, SalesLead, Customer"),
    (("--outcome", "Customer in 90 days"), "--outcome 'Customer in 90 days': write 'reached "
     "STAGE within N days', like 'reached Customer within 90 days'"),
    (("--outcome", "reached Customer within 9 days", "--outcome-column", "x"),
     "--outcome-column goes with --outcomes FILE"),
    (("--outcomes", DATA / "outcomes.csv", "--handover", "Sales"), "--handover 'Sales': no such "
     f"stage in {DATA / 'small.rules'}; stages: Name, Lead, SalesLead, Customer"),
])
def test_usage_errors(args, message):
    result = invoke("backtest", *SMALL, *args)
    assert result.exit_code == 2
    assert result.stderr == f"error: {message}\n"


def test_a_time_split_needs_an_as_of_time():
    result = invoke("backtest", DATA / "small.rules", "--leads", DATA / "leads.csv", "--events",
                    DATA / "events.csv", "--outcome", "reached Customer within 9 days")
    assert result.exit_code == 2
    assert result.stderr == ("error: --outcome 'reached ...' needs --as-of: the (past) moment to "
                             "score the leads at; the outcome is what happened after it\n")


# --- the bundled sample -------------------------------------------------------------------------

def test_bundled_outcomes_are_what_the_generator_makes(tmp_path):
    invoke("sample", "--leads", 300, "--seed", 1, "--outcomes", "--out", tmp_path)
    assert (tmp_path / "outcomes.csv").read_bytes() == sample_outcomes_path().read_bytes()
    assert (tmp_path / "leads.csv").read_bytes() == sample_paths()[0].read_bytes()


@pytest.mark.parametrize("output, name", [("text", "sample.expected"),
                                          ("markdown", "sample-markdown.expected")])
def test_backtest_of_the_bundled_sample(tmp_path, monkeypatch, output, name):
    leads, events = sample_paths()
    work_in(tmp_path, monkeypatch, ruleset_path(), leads, events, sample_outcomes_path())
    result = invoke("backtest", "b2b.rules", "--leads", "leads.csv", "--events", "events.csv",
                    "--outcomes", "outcomes.csv", "--as-of", "2026-11-01", "--handover",
                    "SalesLead", "--format", output)
    assert result.exit_code == 0, result.stderr
    assert result.output == golden(DATA / name, result.output)


def test_backtest_of_the_bundled_sample_in_a_store_equals_the_files(tmp_path, monkeypatch):
    leads, events = sample_paths()
    work_in(tmp_path, monkeypatch, ruleset_path(), leads, events, sample_outcomes_path())
    invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--events", "events.csv")
    args = ("--outcomes", "outcomes.csv", "--as-of", "2026-11-01", "--handover", "SalesLead",
            "--format", "json")
    store = json.loads(invoke("backtest", "b2b.rules", "--db", "s.db", *args).output)
    files = json.loads(invoke("backtest", "b2b.rules", "--leads", "leads.csv", "--events",
                              "events.csv", *args).output)
    del store["leads"]["source"], files["leads"]["source"]
    assert store == files


@pytest.mark.parametrize("stage, as_of", [("Customer", "2026-06-01"), ("SalesLead", "2026-03-01"),
                                          ("Lead", "2026-09-15")])
def test_the_time_splits_one_resumed_replay_equals_two_replays(stage, as_of):
    from leadrules import dsl
    from leadrules.engine.backtest.outcomes import Reached
    from leadrules.engine.backtest.scored import Collector, from_stage, reached
    from leadrules.engine.events import parse_timestamp
    from leadrules.engine.scoring.compiler import compile_ruleset
    from leadrules.engine.scoring.evaluate import event_rows, replay
    from leadrules.engine.store.ingest import sample_leads

    rules = compile_ruleset(dsl.load(ruleset_path()))
    split = Reached(stage, 90, parse_timestamp(as_of))
    collector = Collector((rules,), "SalesLead", split)
    single = Collector((rules,), "SalesLead")
    stages = from_stage(rules, stage)
    expected = []
    for lead, profile, events in sample_leads(*sample_paths()):
        rows = event_rows(events)
        collector.score(lead, profile, rows, split.as_of)
        now = replay(rules, lead, profile, rows, split.as_of)
        later = replay(rules, lead, profile, rows, split.until)
        single.add((now,))
        expected.append(None if now.stage in stages or reached(now.moves, stages) else
                        reached(later.moves, stages, split.as_of))
    assert collector.records == single.records
    assert collector.outcomes == expected
    assert expected.count(True) > 0 and expected.count(None) > 0


def test_dated_conversions_all_before_the_as_of_time_are_explained(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("lead_id,converted\nL01,2026-01-20\nL02,no\nL03,0\n", encoding="utf-8")
    found = small("--outcomes", path)
    assert found["base"] == {"leads": 2, "converted": 0, "rate": 0.0}
    assert found["auc"]["score"] is None
    assert found["notes"] == [
        "every conversion dated in the outcomes is on or before the as-of time (2026-02-01), so "
        "none is measured: give --as-of a day before the conversions the rules should have "
        "foreseen"]


def test_a_window_past_the_last_event_is_noted():
    found = small("--outcome", "reached Customer within 60 days", "--as-of", "2026-03-01")
    assert found["notes"] == [
        "the window ends 2026-04-30, after the last event in the data (2026-03-20): leads that "
        "reach the stage after that count as not converted"]
    assert small("--outcome", "reached Customer within 10 days")["notes"] == []


def test_a_time_split_where_every_lead_is_there_already():
    result = invoke("backtest", *SMALL[:-1], "2026-04-01", "--outcome",
                    "reached Name within 30 days")
    assert result.exit_code == 2
    assert result.stderr == (f"error: no lead of {DATA / 'leads.csv'} and {DATA / 'events.csv'}"
                             " is measured: each one was in Name or a later stage by the as-of "
                             "time already; choose an earlier --as-of\n")
