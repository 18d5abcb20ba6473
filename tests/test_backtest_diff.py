"""`leadrules diff --outcomes` and its time split: both sides' back-test figures side by side,
the auc and auc_drop gates, in one pass over the leads or over worker processes."""

import json
from pathlib import Path

import pytest

from clitools import golden, invoke
from leadrules.engine.review.diff import Gate

DATA = Path(__file__).parent / "data" / "backtest"
FILES = ("--leads", DATA / "leads.csv", "--events", DATA / "events.csv", "--as-of", "2026-02-01")
PAIR = (DATA / "small.rules", DATA / "worse.rules")  # worse: a demo +5 instead of +30


def diff(*args):
    return invoke("diff", *PAIR, *FILES, *args)


def test_diff_with_outcomes_shows_both_sides(monkeypatch):
    monkeypatch.chdir(DATA)
    result = invoke("diff", "small.rules", "worse.rules", "--leads", "leads.csv", "--events",
                    "events.csv", "--as-of", "2026-02-01", "--outcomes", "outcomes.csv")
    assert (result.exit_code, result.stderr) == (0, "")
    body = result.stdout[result.stdout.index("Outcomes: how OLD and NEW"):]
    assert body == golden(DATA / "diff.expected", body)


def test_diff_json_has_the_figures_of_both_sides_and_the_gates():
    result = diff("--outcomes", DATA / "outcomes.csv", "--format", "json",
                  "--fail-on", "auc_drop > 0.01", "--fail-on", "changed_leads > 30%")
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["outcomes"]["old"]["auc"]["score"] == 10.5 / 16  # as `backtest` has it
    # worse: scores L01 15, L02 10, L03 5, L04 15, L05 25, L06 0, L07 10, L08 20; converted
    # 15 15 5 10 beat 2, 2, 1 and 1.5 (a tie with L02) of 10 25 0 20
    assert found["outcomes"]["new"]["auc"]["score"] == 6.5 / 16
    assert found["fail_on"] == [
        {"gate": "auc_drop > 0.01", "holds": True, "value": (10.5 - 6.5) / 16},
        {"gate": "changed_leads > 30%", "holds": True, "leads": 4}]
    assert result.stderr == ("fail-on: auc_drop > 0.01 holds: AUC 0.656 (old) → 0.406 (new), "
                             "a drop of 0.250\n"
                             "fail-on: changed_leads > 30% holds: 4 of 10 leads (40.0%)\n")


def test_auc_gates_that_do_not_hold():
    result = diff("--outcomes", DATA / "outcomes.csv", "--fail-on", "auc < 0.4",
                  "--fail-on", "auc_drop > 0.3")
    assert (result.exit_code, result.stderr) == (0, "")
    better = invoke("diff", *reversed(PAIR), *FILES, "--outcomes", DATA / "outcomes.csv",
                    "--fail-on", "auc_drop > 0", "--fail-on", "auc < 0.7")
    assert better.exit_code == 1
    assert better.stderr == "fail-on: auc < 0.7 holds: NEW's AUC is 0.656 (OLD's 0.406)\n"


def test_diff_time_split_judges_both_sides_by_olds_moves():
    result = diff("--outcome", "reached SalesLead within 30 days", "--format", "json")
    found = json.loads(result.stdout)["outcomes"]
    # the same seven leads and the one conversion (L03) on both sides, as `backtest` of OLD
    assert found["leads"]["measured"] == 7 and found["leads"]["already_in_stage"] == 3
    assert found["old"]["base"] == found["new"]["base"] == {"leads": 7, "converted": 1,
                                                          "rate": 1 / 7}
    alone = json.loads(invoke("backtest", DATA / "small.rules", *FILES, "--outcome",
                              "reached SalesLead within 30 days", "--handover", "SalesLead",
                              "--format", "json").stdout)
    assert {k: v for k, v in alone.items() if k in found["old"]} == found["old"]


def test_diff_over_worker_processes_equals_one_process(tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    invoke("ingest", "--db", db, "--leads", DATA / "leads.csv", "--events", DATA / "events.csv")
    args = ("diff", *PAIR, "--db", db, "--as-of", "2026-02-01", "--format", "json")
    one = json.loads(invoke(*args, "--outcome", "reached Customer within 60 days").stdout)
    monkeypatch.setattr("leadrules.engine.scoring.spans.PARALLEL_LEADS", 1)
    many = json.loads(invoke(*args, "--outcome", "reached Customer within 60 days",
                             "--workers", 2).stdout)
    assert many["outcomes"] == one["outcomes"]
    assert one["outcomes"]["old"]["base"] == {"leads": 9, "converted": 2, "rate": 2 / 9}


def test_backtest_over_worker_processes_equals_one_process(tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    invoke("ingest", "--db", db, "--leads", DATA / "leads.csv", "--events", DATA / "events.csv")
    args = ("backtest", DATA / "small.rules", "--db", db, "--as-of", "2026-02-01",
            "--outcomes", DATA / "outcomes.csv", "--handover", "SalesLead", "--format", "json")
    one = invoke(*args).stdout
    monkeypatch.setattr("leadrules.engine.scoring.spans.PARALLEL_LEADS", 1)
    assert invoke(*args, "--workers", 3).stdout == one


@pytest.mark.parametrize("text, message", [
    ("auc < 70%", "--fail-on 'auc < 70%': auc is a number from 0 to 1 (like 0.7), not a "
                  "percentage"),
])
def test_auc_gates_are_numbers(text, message):
    from leadrules.dsl.errors import UsageError

    with pytest.raises(UsageError) as caught:
        Gate.parse(text)
    assert str(caught.value) == message


def test_an_auc_gate_needs_outcomes():
    result = diff("--fail-on", "auc < 0.7")
    assert result.exit_code == 2
    assert result.stderr == ("error: --fail-on 'auc < 0.7' needs outcomes: --outcomes FILE, or "
                             "--outcome 'reached STAGE within N days' with --as-of\n")


def test_an_auc_that_cannot_be_computed_holds(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("lead_id,converted\nL01,0\nL02,0\n", encoding="utf-8")
    result = diff("--outcomes", path, "--fail-on", "auc < 0.5")
    assert result.exit_code == 1
    assert result.stderr == ("fail-on: auc < 0.5 holds: the AUC cannot be computed: the "
                             "measured leads need converted ones and others\n")
