"""The command line: exit codes and exact output, then a look at the store."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import clitools
import pytest
from click.testing import CliRunner

from leadrules.cli import main
from leadrules.engine.store.store import Store

DATA = Path(__file__).parent / "data"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def golden(name: str, actual: str) -> str:
    path = DATA / name
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def mask(output: str, db: Path) -> str:
    output = output.replace(str(db.resolve()), "<DB>")
    output = output.replace(str(db.resolve().parent), "<DIR>")
    return re.sub(r"from \S+b2b\.rules", "from <RULES>/b2b.rules", output)


def test_demo_prints_funnel_and_top_leads(tmp_path):
    db = tmp_path / "demo.db"
    result = invoke("demo", "--db", db)
    assert result.exit_code == 0, result.output
    assert mask(result.output, db) == golden("demo.expected", mask(result.output, db))


def test_demo_reuses_the_database_and_adds_nothing_twice(tmp_path):
    db = tmp_path / "demo.db"
    invoke("demo", "--db", db, "--top", 0)
    second = invoke("demo", "--db", db, "--top", 0)
    assert second.exit_code == 0
    assert f"Database: {db.resolve()} (reused)" in second.output
    assert "Sample:   in the store already (unchanged since it was imported)\n" in second.output
    with Store(db) as store:
        counts = store.counts()
        assert (counts.leads, counts.events, counts.runs) == (337, 5946, 2)
        latest = store.latest_run()
    assert (latest["mode"], latest["replayed"], latest["changed"], latest["leads"]) == (
        "incremental", 0, 0, 337)
    assert ("run 2, 0 of 337 leads replayed: those with new events, a new profile, or a timer "
            "due") in second.output


def test_demo_stores_results_for_every_lead(tmp_path):
    db = tmp_path / "demo.db"
    invoke("demo", "--db", db, "--top", 0)
    with Store(db) as store:
        run = store.latest_run()
        results = {r["lead_id"]: r for r in store.results(run["ruleset_hash"])}
        sla = store.details("sla", run["ruleset_hash"], "L000089")
    assert len(results) == 337
    assert run["ruleset_name"] == "B2B demand funnel"
    assert results["L000089"] == {
        "lead_id": "L000089", "score": 140, "fit": 50, "grade": "B", "band": 1, "priority": "B1",
        "stage": "Customer", "disqualified": None, "owner": "Vertrieb DACH", "label": "hot",
        "sla": "met", "bant": '{"authority": true, "budget": true, "need": true, "timeline": true}',
        "events": 59, "next_due": None}
    assert [(s["stage"], s["outcome"]) for s in sla] == [("SalesLead", "met")]
    assert {r["disqualified"] for r in results.values()} == {None, "competitor", "student",
                                                             "applicant"}


def test_sample_writes_deterministic_files(tmp_path):
    a = invoke("sample", "--count", 50, "--seed", 3, "--out", tmp_path / "a")
    invoke("sample", "--count", 50, "--seed", 3, "--out", tmp_path / "b")
    assert a.exit_code == 0
    assert a.output.splitlines()[0] == f"Wrote 50 leads to {tmp_path / 'a' / 'leads.csv'}"
    for name in ("leads.csv", "events.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_bundled_sample_is_what_the_generator_makes(tmp_path):
    from leadrules.engine.bundled import sample_paths
    invoke("sample", "--count", 300, "--seed", 1, "--out", tmp_path)
    leads, events = sample_paths()
    assert (tmp_path / "leads.csv").read_bytes() == leads.read_bytes()
    assert (tmp_path / "events.csv").read_bytes() == events.read_bytes()


def test_sample_rejects_zero_leads(tmp_path):
    result = invoke("sample", "--count", 0, "--out", tmp_path)
    assert result.exit_code == 2
    assert "Invalid value for '--count': 0 is not in the range x>=1." in result.output


def test_check_passes_on_every_bundled_ruleset():
    from leadrules.engine.bundled import ruleset_path
    folder = ruleset_path().parent
    for path in sorted(folder.glob("*.rules")):
        result = invoke("check", "--strict", path)
        assert (result.exit_code, result.output) == (0, f"{path}: ok\n")


def test_check_reports_errors_and_exits_1(tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("events webinar_signup\nwhen webinar_sigup then 25\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(rules)])
    assert result.exit_code == 1
    assert result.output == (
        f"{rules}:2:25: error[missing-sign]: points need a sign: 25\n"
        "2 | when webinar_sigup then 25\n"
        "  | " + " " * 24 + "^^\n"
        "  = hint: write +25 or -25\n\n"
        f"{rules}: 1 error, 0 warnings\n")


def test_check_missing_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope.rules")])
    assert (result.exit_code, result.output) == (2, f"error: {tmp_path / 'nope.rules'}: no such rule file\n")


def test_a_missing_file_does_not_hide_the_others(tmp_path):
    """As pre-commit passes them: every file is checked or formatted; the missing one is
    named at the end and the exit status is 2."""
    good, bad, nope = tmp_path / "good.rules", tmp_path / "bad.rules", tmp_path / "nope.rules"
    good.write_text('ruleset "Good"\nevents a\nwhen a then +5\n')
    bad.write_text('ruleset "Bad"\nevents a\nwhen a then 5\n')
    checked = clitools.invoke("check", good, nope, bad)
    assert checked.exit_code == 2
    assert checked.stdout.splitlines()[0] == f"{good}: ok"
    assert checked.stdout.splitlines()[-1] == f"{bad}: 1 error, 0 warnings"
    assert checked.stderr == f"error: {nope}: no such rule file\n"
    bad.write_text('ruleset  "Bad"\nevents a\nwhen a then +5\n')
    formatted = clitools.invoke("fmt", "--check", good, nope, bad)
    assert (formatted.exit_code, formatted.stdout) == (2, f"would reformat {bad}\n")
    assert formatted.stderr == ("1 file would be reformatted, 1 unchanged\n"
                                f"error: {nope}: no such rule file\n")


def test_demo_on_a_file_that_is_not_a_database_fails_cleanly(tmp_path):
    db = tmp_path / "not.db"
    db.write_text("hello, I am a text file\n" * 100)
    result = CliRunner().invoke(main, ["demo", "--db", str(db)])
    assert result.exit_code == 2  # a store that cannot be opened is unusable input
    assert result.output.startswith(f"error: {db}: cannot open store: file is not a database")


@pytest.mark.parametrize("command", [[], ["demo"], ["check"], ["fmt"], ["sample"], ["ingest"],
                                     ["run"], ["leads"], ["dry-run"], ["explain"], ["diff"],
                                     ["test"], ["store", "info"]])
def test_every_help_shows_an_example(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output


def test_installed_command_runs_from_any_directory(tmp_path):
    """The console script finds its grammar, ruleset and sample wherever it is installed."""
    exe = Path(sys.executable).parent / "leadrules"
    if not exe.exists():
        pytest.skip("the leadrules command is not installed in this environment")
    done = subprocess.run([str(exe), "demo", "--top", "1"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    db = (tmp_path / "leadrules-demo.db").resolve()
    assert done.stdout.splitlines()[0] == f"Database: {db} (created)"
    assert "Scored:   337 leads as of 2026-10-30T19:02:27Z" in done.stdout


def test_sample_into_an_unwritable_place_fails_cleanly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["sample", "--count", "5", "--out", str(blocker / "sub")])
    assert result.exit_code == 1
    assert result.output == f"error: {blocker / 'sub'}: Not a directory\n"


def test_check_json_lists_every_diagnostic(tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("events webinar_signup\nwhen webinar_sigup then +25\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "--format", "json", str(rules)])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"ok": False, "files": [{
        "path": str(rules), "errors": 1, "warnings": 0, "diagnostics": [{
            "path": str(rules), "line": 2, "col": 6, "end_line": 2, "end_col": 19,
            "severity": "error", "code": "unknown-event",
            "message": "unknown event 'webinar_sigup'", "hint": "did you mean 'webinar_signup'?"}]}],
        "unreadable": []}


def test_check_walks_directories_and_reports_bad_encoding(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.rules").write_text("events a\nwhen a then +1\n", encoding="utf-8")
    (tmp_path / "latin1.rules").write_bytes(b"# Gesch\xe4ftsf\xfchrer\n")
    (tmp_path / "notes.txt").write_text("not a rule file")
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == f"{tmp_path / 'latin1.rules'}:1:8: error[bad-encoding]: byte 0xe4 is not UTF-8"
    assert result.output.splitlines()[-2:] == [f"{tmp_path / 'latin1.rules'}: 1 error, 0 warnings",
                                               f"{tmp_path / 'sub' / 'good.rules'}: ok"]


def test_check_strict_fails_on_warnings(tmp_path):
    rules = tmp_path / "w.rules"
    rules.write_text("grade A if fit >= 70\ngrade D otherwise\ngrade C if fit >= 30\n")
    assert invoke("check", rules).exit_code == 0
    assert CliRunner().invoke(main, ["check", "--strict", str(rules)]).exit_code == 1


MESSY = 'WHEN  a THEN +1\nwhen bb then   -2\n'
TIDY = "when a  then +1\nwhen bb then -2\n"


def test_fmt_rewrites_in_place_and_says_so(tmp_path):
    rules = tmp_path / "r.rules"
    rules.write_text(MESSY, encoding="utf-8")
    result = invoke("fmt", rules)
    assert (result.exit_code, result.output) == (0, f"reformatted {rules}\n1 file reformatted, 0 unchanged\n")
    assert rules.read_text(encoding="utf-8") == TIDY
    again = invoke("fmt", rules)
    assert (again.exit_code, again.output) == (0, "0 files reformatted, 1 unchanged\n")


def test_fmt_check_lists_files_and_writes_nothing(tmp_path):
    (tmp_path / "messy.rules").write_text(MESSY, encoding="utf-8")
    (tmp_path / "tidy.rules").write_text(TIDY, encoding="utf-8")
    result = CliRunner().invoke(main, ["fmt", "--check", str(tmp_path)])
    assert (result.exit_code, result.output) == (
        1, f"would reformat {tmp_path / 'messy.rules'}\n1 file would be reformatted, 1 unchanged\n")
    assert (tmp_path / "messy.rules").read_text(encoding="utf-8") == MESSY


def test_fmt_diff_prints_a_unified_diff(tmp_path):
    rules = tmp_path / "r.rules"
    rules.write_text(MESSY, encoding="utf-8")
    result = invoke("fmt", "--diff", rules)
    assert result.exit_code == 0
    assert result.output == (
        f"--- {rules}\n+++ {rules} (formatted)\n@@ -1,2 +1,2 @@\n"
        "-WHEN  a THEN +1\n-when bb then   -2\n+when a  then +1\n+when bb then -2\n"
        "1 file would be reformatted, 0 unchanged\n")
    assert rules.read_text(encoding="utf-8") == MESSY


def test_fmt_leaves_a_file_with_syntax_errors_alone(tmp_path):
    rules = tmp_path / "bad.rules"
    rules.write_text("when a then 25\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["fmt", str(rules)])
    assert result.exit_code == 1
    assert result.output.startswith(f"{rules}:1:13: error[missing-sign]: points need a sign: 25\n")
    assert rules.read_text(encoding="utf-8") == "when a then 25\n"


def test_fmt_check_passes_on_the_bundled_rulesets():
    from leadrules.engine.bundled import ruleset_path
    result = invoke("fmt", "--check", ruleset_path().parent)
    assert result.exit_code == 0


def test_fmt_reports_a_file_that_is_not_utf8_and_goes_on(tmp_path):
    (tmp_path / "a.rules").write_bytes(b"# Gesch\xe4ftsf\xfchrer\n")
    (tmp_path / "b.rules").write_text(MESSY, encoding="utf-8")
    result = CliRunner().invoke(main, ["fmt", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'a.rules'}:1:8: error[bad-encoding]: byte 0xe4 is not UTF-8" in result.output
    assert (tmp_path / "b.rules").read_text(encoding="utf-8") == TIDY
