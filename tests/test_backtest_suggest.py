"""`backtest --suggest`: points fitted to the outcomes, scaled and rounded to the ruleset's own,
printed as a diff that, applied, gives the AUC it promises; never written anywhere."""

import json
import sys

import pytest

from clitools import invoke, work_in
from leadrules.engine.backtest.suggest import _scaled
from leadrules.engine.bundled import ruleset_path, sample_outcomes_path, sample_paths

ARGS = ("--leads", "leads.csv", "--events", "events.csv", "--outcomes", "outcomes.csv",
        "--as-of", "2026-11-01")


@pytest.fixture
def sample(tmp_path, monkeypatch):
    leads, events = sample_paths()
    return work_in(tmp_path, monkeypatch, ruleset_path(), leads, events, sample_outcomes_path())


def test_scaled_to_the_largest_points_and_rounded_to_their_step():
    # step gcd(20, 15, 10) = 5; the widest coefficient 0.5 becomes the largest points, 20
    assert _scaled([0.5, -0.25, 0.1], [20, 15, 10]) == [20, -10, 5]
    assert _scaled([0.3, 0.1], [7, 3]) == [7, 2]  # step 1
    assert _scaled([0.0, 0.0], [10, 20]) == [10, 20]  # nothing learnt: nothing changes


def test_the_suggested_diff_gives_the_auc_it_promises(sample):
    before = sample.joinpath("b2b.rules").read_text(encoding="utf-8")
    result = invoke("backtest", "b2b.rules", *ARGS, "--suggest", "--format", "json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    suggestion = found["suggestion"]
    assert sample.joinpath("b2b.rules").read_text(encoding="utf-8") == before  # not applied
    assert suggestion["leads"] == found["base"]["leads"] == 292
    assert suggestion["auc"]["now"] == found["auc"]["score"]
    assert suggestion["fit_auc"]["now"] == found["auc"]["fit"]
    # apply the diff's + lines by hand, then back-test the result
    lines = before.splitlines()
    for change in suggestion["changes"]:
        old = lines[change["line"] - 1]
        lines[change["line"] - 1] = old.replace(f"{change['now']:+d}",
                                                f"{change['suggested']:+d}", 1)
        assert f"\n-{old}\n" in suggestion["diff"]
        assert f"\n+{lines[change['line'] - 1]}\n" in suggestion["diff"]
    sample.joinpath("new.rules").write_text("\n".join(lines) + "\n", encoding="utf-8")
    after = json.loads(invoke("backtest", "new.rules", *ARGS, "--format", "json").stdout)
    for part, key in (("score", "auc"), ("fit", "fit_auc")):
        expected = (suggestion[key]["now"] if part in suggestion["not_better"]
                    else suggestion[key]["suggested"])
        assert after["auc"][part] == expected
    assert suggestion["changes"] and all(
        (c["suggested"] - c["now"]) % 5 == 0 for c in suggestion["changes"])


def test_a_part_that_ranks_no_better_is_not_suggested(sample):
    found = json.loads(invoke("backtest", "b2b.rules", *ARGS, "--suggest", "--format",
                              "json").stdout)["suggestion"]
    for part, key in (("score", "auc"), ("fit", "fit_auc")):
        now, then = found[key]["now"], found[key]["suggested"]
        assert (part in found["not_better"]) == (then <= now)
    text = invoke("backtest", "b2b.rules", *ARGS, "--suggest").stdout
    assert "Suggested points: a logistic regression of the 292 measured leads' outcomes" in text
    assert "measured on the leads the points were fitted to: expect less on new leads" in text


def test_suggest_without_scikit_learn_says_what_to_install(sample, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    result = invoke("backtest", "b2b.rules", *ARGS, "--suggest")
    assert result.exit_code == 2
    assert result.stderr == ("error: --suggest fits the points with scikit-learn: pip install "
                             "'leadrules[suggest]'\n")
