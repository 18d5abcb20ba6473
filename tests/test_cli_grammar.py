"""One CLI grammar (docs/cli.md): option names, stdin filters, exit codes, Ctrl-C, completion."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from clitools import invoke
from leadrules.cli import main

RENAMED = "note: {} is now {}; the old spelling will go in a later release\n"


def test_sample_takes_count_and_still_its_old_leads_option_with_a_notice(tmp_path):
    new = invoke("sample", "--count", 5, "--out", tmp_path / "a")
    old = invoke("sample", "--leads", 5, "--out", tmp_path / "b")
    assert (new.exit_code, new.stderr) == (0, "")
    assert (old.exit_code, old.stderr) == (0, RENAMED.format("sample --leads N", "--count N"))
    assert (tmp_path / "a" / "events.csv").read_bytes() == (tmp_path / "b" / "events.csv").read_bytes()


def test_ingest_reads_input_format_and_its_old_format_option_with_a_notice(tmp_path):
    events = tmp_path / "export.csv"
    events.write_text('{"lead_id":"L1","type":"visit","ts":"2026-03-14"}\n', encoding="utf-8")
    new = invoke("ingest", "--db", tmp_path / "a.db", "--events", events, "--input-format", "jsonl")
    old = invoke("ingest", "--db", tmp_path / "b.db", "--events", events, "--format", "jsonl")
    assert (new.exit_code, new.stderr) == (0, "")
    assert (old.exit_code, old.stderr) == (0, RENAMED.format("ingest --format", "--input-format"))


@pytest.fixture
def scored(tmp_path, monkeypatch):
    """A directory with the demo's store, scored."""
    monkeypatch.chdir(tmp_path)
    assert invoke("demo", "--db", "leadrules.db", "--top", 0).exit_code == 0
    return tmp_path


def test_leads_formats_are_the_one_set_and_table_still_means_text(scored):
    text = invoke("leads", "--top", 2, "--format", "text")
    assert invoke("leads", "--top", 2, "--format", "table").stdout == text.stdout
    assert text.stdout.splitlines()[1].split() == [
        "lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified", "owner",
        "label", "stage_entered_at"]
    markdown = invoke("leads", "--top", 2, "--format", "markdown").stdout.splitlines()
    assert markdown == [
        "| lead_id | score | fit | grade | band | priority | stage | disqualified | owner | label "
        "| stage_entered_at |",
        "|:---|---:|---:|:---|---:|:---|:---|:---|:---|:---|:---|",
        "| L000067 | 150 | 60 | B | 1 | B1 | Customer |  | Vertrieb DACH | hot "
        "| 2026-07-28T08:07:15Z |",
        "| L000255 | 150 | 60 | B | 1 | B1 | Lead |  | Vertrieb DACH | hot "
        "| 2026-07-27T12:18:59Z |"]
    wrong = invoke("leads", "--format", "xml")
    assert wrong.exit_code == 2
    assert "'xml' is not one of 'text', 'csv', 'json', 'markdown'" in wrong.stderr


RULES = 'ruleset "x"\nEVENTS a,b\nWhen a Then +5\nwhen c then +1\n'


def test_check_reads_standard_input():
    result = invoke("check", "-", input=RULES)
    assert result.exit_code == 1
    assert result.stdout == (
        "<stdin>:4:6: error[unknown-event]: unknown event 'c'\n"
        "4 | when c then +1\n"
        "  |      ^\n"
        "  = hint: declare it in the events line\n\n"
        "<stdin>: 1 error, 0 warnings\n")


def test_fmt_is_a_filter_from_standard_input_to_standard_output():
    done = invoke("fmt", "-", input='ruleset "x"\nEVENTS a,b\nWhen a Then +5\n')
    assert (done.exit_code, done.stdout, done.stderr) == (
        0, 'ruleset "x"\nevents a, b\nwhen a then +5\n', "")
    check = invoke("fmt", "--check", "-", input='ruleset "x"\nEVENTS a,b\n')
    assert (check.exit_code, check.stdout) == (1, "")
    clean = invoke("fmt", "--check", "-", input='ruleset "x"\nevents a, b\n')
    assert (clean.exit_code, clean.stdout) == (0, "")
    broken = invoke("fmt", "-", input='ruleset "x"\nevents a\nwhen a then ++5\n')
    assert (broken.exit_code, broken.stdout) == (1, "")
    assert broken.stderr.startswith("<stdin>:3:13: error[syntax]: unexpected character '+'\n")


def test_a_store_that_cannot_be_opened_is_exit_status_2(tmp_path):
    db = tmp_path / "not.db"
    db.write_text("hello\n" * 1000)
    result = invoke("leads", "--db", db)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {db}: cannot open store: file is not a database")


def test_ctrl_c_is_exit_status_130_with_what_was_kept(scored, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("leadrules.engine.commands.scoring.run_rules", interrupted)
    result = CliRunner().invoke(main, ["run", "--db", "leadrules.db", "--full", "--as-of",
                                       "2026-11-01", str(scored / "rules.rules")])
    assert result.exit_code == 2  # the rules file is not there: checked before anything runs
    from leadrules.engine.bundled import ruleset_path
    result = CliRunner().invoke(main, ["run", "--db", "leadrules.db", "--full", str(ruleset_path())])
    assert result.exit_code == 130
    assert result.output.endswith(
        "\ninterrupted: nothing of this run was saved; run the same command again\n")


def test_an_import_stopped_with_ctrl_c_says_how_to_resume_and_does(tmp_path):
    lines = ["event_id,lead_id,type,ts"] + [
        f"e{i:06d},L{i % 997:04d},page_visit,2026-03-01T00:00:{i % 60:02d}Z" for i in range(200_000)]
    (tmp_path / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    command = [sys.executable, "-m", "leadrules", "ingest", "--db", "s.db", "--events", "events.csv"]
    env = {k: v for k, v in os.environ.items() if k != "LEADRULES_DB"}
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _committed(tmp_path / "s.db"):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if proc.returncode == 0:
        pytest.skip("the import finished before it could be interrupted")
    assert proc.returncode == 130
    assert err.endswith("interrupted: the batches committed so far are kept; run the same "
                        "command again to carry on after the last of them\n")
    again = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0
    assert "resumed an interrupted import after line" in again.stdout
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (200_000,)


def _committed(db) -> bool:
    """Whether the import has committed a batch of events yet."""
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=0.1) as conn:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0] > 0
    except sqlite3.Error:
        return False


def _complete(words: str, cword: int, cwd) -> list[str]:
    env = {**os.environ, "_LEADRULES_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(cword)}
    env.pop("LEADRULES_DB", None)
    done = subprocess.run([sys.executable, "-m", "leadrules"], cwd=cwd, env=env,
                          capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line]


def test_shell_completion_offers_stages_and_lead_ids_from_the_store(scored):
    assert _complete("leadrules leads --stage S", 3, scored) == ["plain,SalesLead"]
    assert _complete("leadrules explain L00010", 2, scored) == [
        f"plain,L{n:06d}" for n in range(100, 110)]
    assert _complete("leadrules explain L00010", 2, scored.parent) == []  # no store there


def test_quiet_silences_the_progress_of_long_commands(scored, monkeypatch):
    monkeypatch.setattr("leadrules.engine.progress._is_terminal", lambda stream: True)
    shown = invoke("sample", "--count", 5, "--out", scored / "a")
    assert shown.stderr.startswith("\rMaking leads: 5 of 5 leads (100%)")
    assert shown.stderr.endswith("\n")
    from leadrules.engine.bundled import ruleset_path
    for args in (["sample", "--count", 5, "--out", scored / "b"],
                 ["run", ruleset_path(), "--full"], ["report", "flow", ruleset_path()],
                 ["diff", ruleset_path(), ruleset_path()], ["leads", "--format", "csv"]):
        quiet = invoke(*args, "-q")
        assert (quiet.exit_code, quiet.stderr) == (0, ""), args
    exported = invoke("leads", "--format", "csv")
    leads = exported.stdout.count("\n") - 1
    last = exported.stderr.rsplit("\r", 1)[1]  # the final redraw
    assert last.startswith(f"Exporting: {leads:,} of {leads:,} leads (100%)")
    assert last.endswith("\n")
