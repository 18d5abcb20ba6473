"""`explain` of the constructs real data needs, against golden files: quoted names, points
from a value with the value used, a change cut short by `score between`, timer lines in time
order, missing tokens, and `--why-not` (tests/data/explain/real)."""

import os
from pathlib import Path

import pytest
from clitools import invoke

DATA = Path(__file__).parent / "data" / "explain" / "real"


@pytest.mark.parametrize("lead", ["L1", "L2", "L3"])
def test_explain_why_not_matches_golden_file(monkeypatch, lead):
    monkeypatch.chdir(DATA)
    result = invoke("explain", lead, "real.rules", "--leads", "leads.csv", "--events",
                    "events.csv", "--as-of", "2026-04-01", "--why-not")
    assert result.exit_code == 0, result.stderr
    expected = DATA / f"{lead}.expected"
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        expected.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == expected.read_text(encoding="utf-8")


def test_without_why_not_there_is_no_such_section(monkeypatch):
    monkeypatch.chdir(DATA)
    result = invoke("explain", "L1", "real.rules", "--leads", "leads.csv", "--events",
                    "events.csv", "--as-of", "2026-04-01")
    assert "Why not" not in result.stdout
    assert result.stdout == (DATA / "L1.expected").read_text(encoding="utf-8").split(
        "\n\nWhy not")[0] + "\n"


def test_every_rule_fired(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.rules").write_text("events a\nwhen a then +1\n")
    (tmp_path / "l.csv").write_text("lead_id\nL1\n")
    (tmp_path / "e.csv").write_text("lead_id,type,ts\nL1,a,2026-03-01\n")
    result = invoke("explain", "L1", "r.rules", "--leads", "l.csv", "--events", "e.csv",
                    "--as-of", "2026-04-01", "--why-not")
    assert result.stdout.endswith("Why not (the when rules and on-event moves that never "
                                  "fired)\n"
                                  "    (every rule fired)\n")


def test_rule_tests_read_quoted_names(monkeypatch):
    monkeypatch.chdir(DATA)
    result = invoke("test", "real.tests")
    assert (result.exit_code, result.stdout.splitlines()[-1]) == (0, "2 passed, 0 failed (1 file)")
