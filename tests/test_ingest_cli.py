"""`leadrules ingest` and `leadrules store info` at the command level: exit statuses, exact
summaries and reject lines, --db/LEADRULES_DB, gzip, stdin, JSON Lines, --rejects,
--max-rejects, --rules, interrupted imports (SIGKILL, Ctrl-C, --max-rejects) and readers
running beside an import.

The summary's rows/s column varies from run to run; `mask_rate` replaces it with `~`.
"""

import gzip
import io
import json
import os
import re
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from leadrules import dsl
from leadrules.cli import main
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.schema import SCHEMA_VERSION
from leadrules.engine.store.store import Store

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "ingest"
HINT = "not a timestamp; write ISO 8601 like 2026-03-14T09:21:05Z or 2026-03-14"
NOW_MICROS = 1795300000000000  # a fixed ingestion time for in-process imports


# Helpers ---------------------------------------------------------------------------------

def _runner() -> CliRunner:
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(*args, input=None, env=None):
    return _runner().invoke(main, [str(a) for a in args], input=input, env=env,
                            catch_exceptions=False)


def golden(name: str, actual: str) -> str:
    path = DATA / name
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    return path.read_text(encoding="utf-8")


_TABLE_LINE = re.compile(r"^(file|-+|leads|events)  ")
_RATE = re.compile(r"  +([0-9][0-9,]*|rows/s|-+)$")


def mask_rate(text: str) -> str:
    """The ingest summary with its last column (rows/s: header, rule and rates) as `~`."""
    lines = []
    for line in text.split("\n"):
        if _TABLE_LINE.match(line):
            masked = _RATE.sub("  ~", line)
            assert masked != line, f"no rows/s cell in {line!r}"
            line = masked
        lines.append(line)
    return "\n".join(lines)


def write(path: Path, content) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def rows_csv(rows) -> str:
    return "".join(line + "\n" for line in rows)


def events_csv(n: int, leads: int = 700) -> str:
    """n events with unique ids e000000.., for `leads` leads, one second apart."""
    lines = ["event_id,lead_id,type,ts,page"]
    for i in range(n):
        lines.append(f"e{i:06d},L{i % leads:04d},page_visit,"
                     f"2026-03-{1 + i // 86400:02d}T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:"
                     f"{i % 60:02d}Z,/p{i % 7}")
    return rows_csv(lines)


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def counts(db: Path) -> tuple[int, int]:
    """(leads, events) in the store."""
    [(leads, events)] = query(db, "SELECT (SELECT count(*) FROM leads), count(*) FROM events")
    return leads, events


def snapshot(db: Path) -> dict:
    """Everything an import leaves in a store, without ids and clock times (profiles parsed:
    an updated profile is stored in SQLite's compact JSON layout)."""
    return {
        "leads": [(lead, json.loads(profile), origin) for lead, profile, origin in
                  query(db, "SELECT lead_id, profile, origin FROM leads ORDER BY lead_id")],
        "events": query(db, "SELECT lead_id, ts, event_id, type, props FROM events "
                            "ORDER BY event_id"),
        "rejects": query(db, 'SELECT file, line, "column", value, reason, raw FROM rejects '
                             "ORDER BY file, line, rowid"),
        "imports": query(db, "SELECT kind, source, format, status, line_done, rows, added, "
                             "duplicates, new_leads, rejected FROM imports ORDER BY import_id"),
    }


@pytest.fixture(autouse=True)
def no_db_env(monkeypatch):
    """Tests decide about LEADRULES_DB themselves; the caller's shell must not leak in."""
    monkeypatch.delenv("LEADRULES_DB", raising=False)


LEADS = "lead_id,company,employees\nL1,Acme,50\nL2,Globex,\nL3, Initech ,1200\n"
EVENTS = ("event_id,lead_id,type,ts,page\n"
          "e1,L1,page_visit,2026-03-14T09:21:05Z,/pricing\n"
          "e2,L1,email_open,2026-03-14,\n"
          "e3,L4,page_visit,2026-03-15T10:00:00+01:00,/docs\n"
          "e1,L1,page_visit,2026-03-14T09:21:05Z,/pricing\n")
BAD_EVENTS = ("event_id,lead_id,type,ts,page\n"
              "e1,L1,visit,2026-03-14,/x\n"
              "e2,L1,visit,yesterday,/y\n"
              "e3,,visit,2026-03-14,/z\n"
              "e4,L2,visit,2026-03-15,/z,extra\n"
              "e5,L2,visit,2026-03-15,\"/a,b\"\n")


# 1. Exit status and exact output ---------------------------------------------------------

def test_every_row_taken_exits_0_with_a_summary(cwd):
    write(cwd / "leads.csv", LEADS)
    write(cwd / "events.csv", EVENTS)
    result = invoke("ingest", "--leads", "leads.csv", "--events", "events.csv")
    assert result.exit_code == 0
    assert mask_rate(result.stdout) == (
        "Imported into leadrules.db\n"
        "file    path        rows  added  duplicates  new leads  rejected  ~\n"
        "------  ----------  ----  -----  ----------  ---------  --------  ~\n"
        "leads   leads.csv      3      3                      3         0  ~\n"
        "events  events.csv     4      3           1          1         0  ~\n")
    assert result.stderr == ""
    assert counts(cwd / "leadrules.db") == (4, 3)
    assert query(cwd / "leadrules.db", "SELECT lead_id, profile, origin FROM leads "
                                        "ORDER BY lead_id") == [
        ("L1", '{"company":"Acme","employees":"50"}', "file"),
        ("L2", '{"company":"Globex"}', "file"),
        ("L3", '{"company":"Initech","employees":"1200"}', "file"),
        ("L4", "{}", "event")]


def test_rejected_rows_exit_1_with_each_reject_on_stderr(cwd):
    write(cwd / "ev.csv", BAD_EVENTS)
    result = invoke("ingest", "--events", "ev.csv")
    assert result.exit_code == 1
    assert mask_rate(result.stdout) == (
        "Imported into leadrules.db\n"
        "file    path    rows  added  duplicates  new leads  rejected  ~\n"
        "------  ------  ----  -----  ----------  ---------  --------  ~\n"
        "events  ev.csv     5      2           0          2         3  ~\n")
    assert result.stderr == (
        f"ev.csv:3: {HINT} (column 'ts', value 'yesterday')\n"
        "ev.csv:4: missing lead_id (column 'lead_id', value '')\n"
        "ev.csv:5: 6 cells but the header has 5 columns\n"
        "3 rows rejected; write them all to a file with --rejects FILE\n")
    assert counts(cwd / "leadrules.db") == (2, 2)


def test_more_than_ten_problems_are_summed_up(cwd):
    # Rows 2..8 each have two problems (no lead_id and a bad ts): 14 problems in 7 rows.
    write(cwd / "ev.csv", rows_csv(["lead_id,type,ts"] + [",visit,soon"] * 7
                                   + ["L1,visit,2026-03-14"]))
    result = invoke("ingest", "--events", "ev.csv")
    assert result.exit_code == 1
    expected = []
    for line in range(2, 7):
        expected += [f"ev.csv:{line}: missing lead_id (column 'lead_id', value '')",
                     f"ev.csv:{line}: {HINT} (column 'ts', value 'soon')"]
    expected.append("... and 4 more problems; 7 rows rejected; write them all to a file "
                    "with --rejects FILE")
    assert result.stderr.splitlines() == expected
    assert query(cwd / "leadrules.db", "SELECT rows, added, rejected FROM imports") == [(8, 1, 7)]
    assert query(cwd / "leadrules.db", "SELECT count(*) FROM rejects") == [(14,)]


def test_quiet_prints_no_summary_but_still_the_rejects(cwd):
    write(cwd / "ev.csv", BAD_EVENTS)
    result = invoke("ingest", "-q", "--events", "ev.csv")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"ev.csv:3: {HINT} (column 'ts', value 'yesterday')\n"
        "ev.csv:4: missing lead_id (column 'lead_id', value '')\n"
        "ev.csv:5: 6 cells but the header has 5 columns\n"
        "3 rows rejected; write them all to a file with --rejects FILE\n")


def _truncated_gzip(text: str) -> bytes:
    data = gzip.compress(text.encode(), mtime=0)
    return data[:20]  # inside the first deflate block: not even the header can be read


UNUSABLE = [
    pytest.param(["--leads", "leads.csv", "--events", "nope.csv"],
                 "nope.csv: no such file", id="missing-file"),
    pytest.param(["--leads", "leads.csv", "--events", "empty.csv"],
                 "empty.csv: no header line; the first line must name the columns, starting "
                 "with lead_id, type, ts", id="no-header"),
    pytest.param(["--leads", "leads.csv", "--events", "noheader.csv"],
                 "noheader.csv: header has no column 'ts'; found: lead_id, type, when; say which "
                 "column holds it with --map 'COLUMN=ts' (or give every row one value with "
                 "--set ts=VALUE)",
                 id="events-header-missing-ts"),
    pytest.param(["--leads", "idleads.csv"],
                 "idleads.csv: header has no column 'lead_id'; found: id, company; say which "
                 "column holds it with --map 'COLUMN=lead_id' (or give every row one value with "
                 "--set lead_id=VALUE)",
                 id="leads-header-missing-lead_id"),
    pytest.param(["--leads", "leads.csv", "--events", "events.txt"],
                 "events.txt: cannot tell the format from the name; name the file .csv or "
                 ".jsonl (optionally .gz), or pass --format csv|jsonl", id="unknown-extension"),
    pytest.param(["--leads", "-", "--events", "-"],
                 "only one of --leads and --events can read stdin (-)", id="both-stdin"),
    pytest.param([], "nothing to ingest; give --leads FILE, --events FILE, or both",
                 id="nothing"),
    pytest.param(["--leads", "leads.csv", "--events", "adir"],
                 "adir: a folder without .parquet files; give a CSV or JSON Lines file, or a "
                 "folder of Parquet files", id="directory"),
    pytest.param(["--leads", "leads.csv", "--events", "short.csv.gz"],
                 "short.csv.gz: cannot read: the gzip data ends early (the file is truncated)",
                 id="truncated-gzip-header"),
]


@pytest.mark.parametrize("args, message", UNUSABLE)
def test_unusable_input_exits_2_and_writes_nothing(cwd, args, message):
    write(cwd / "leads.csv", LEADS)
    write(cwd / "empty.csv", "")
    write(cwd / "noheader.csv", "lead_id,type,when\nL1,visit,2026-03-14\n")
    write(cwd / "idleads.csv", "id,company\nL1,Acme\n")
    write(cwd / "events.txt", EVENTS)
    write(cwd / "short.csv.gz", _truncated_gzip(EVENTS))
    (cwd / "adir").mkdir()
    result = invoke("ingest", "--db", "s.db", *args, input=EVENTS)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {message}\n")
    if (cwd / "s.db").exists():
        assert counts(cwd / "s.db") == (0, 0)
        assert query(cwd / "s.db", "SELECT count(*) FROM imports") == [(0,)]


# 2. Which store: --db, LEADRULES_DB, ./leadrules.db --------------------------------------

def test_default_store_is_leadrules_db_in_the_current_directory(cwd):
    write(cwd / "ev.csv", EVENTS)
    result = invoke("ingest", "--events", "ev.csv")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Imported into leadrules.db"
    assert sorted(p.name for p in cwd.glob("*.db")) == ["leadrules.db"]
    assert counts(cwd / "leadrules.db") == (2, 3)
    info = invoke("store", "info")
    assert info.exit_code == 0
    assert info.stdout.splitlines()[:3] == [
        f"Store:    leadrules.db (schema version {SCHEMA_VERSION})",
        "Leads:    2 (2 known only from events)",
        "Events:   3 (2026-03-14T00:00:00Z .. 2026-03-15T09:00:00Z)"]


def test_environment_names_the_store_when_db_is_not_given(cwd):
    write(cwd / "ev.csv", EVENTS)
    env = {"LEADRULES_DB": str(cwd / "env.db")}
    result = invoke("ingest", "--events", "ev.csv", env=env)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"Imported into {cwd / 'env.db'}"
    assert sorted(p.name for p in cwd.glob("*.db")) == ["env.db"]
    assert counts(cwd / "env.db") == (2, 3)
    info = invoke("store", "info", "--format", "json", env=env)
    assert info.exit_code == 0
    assert json.loads(info.stdout)["path"] == str(cwd / "env.db")
    assert json.loads(info.stdout)["events"] == 3


def test_db_option_wins_over_the_environment(cwd):
    write(cwd / "ev.csv", EVENTS)
    env = {"LEADRULES_DB": "env.db"}
    result = invoke("ingest", "--db", "opt.db", "--events", "ev.csv", env=env)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Imported into opt.db"
    assert sorted(p.name for p in cwd.glob("*.db")) == ["opt.db"]
    info = invoke("store", "info", "--db", "opt.db", env=env)
    assert info.stdout.splitlines()[0] == f"Store:    opt.db (schema version {SCHEMA_VERSION})"
    assert not (cwd / "env.db").exists()


# 3. gzip -----------------------------------------------------------------------------------

def _formats(db: Path) -> list[tuple]:
    return query(db, "SELECT kind, format, rows, added, rejected, status FROM imports "
                     "ORDER BY import_id")


def test_gzip_csv_and_jsonl_files(cwd):
    write(cwd / "leads.csv.gz", gzip.compress(LEADS.encode()))
    jsonl = ('{"event_id":"e1","lead_id":"L1","type":"page_visit","ts":"2026-03-14",'
             '"props":{"page":"/pricing"}}\n'
             '{"event_id":"e2","lead_id":"L9","type":"email_open","ts":"2026-03-15"}\n')
    write(cwd / "events.jsonl.gz", gzip.compress(jsonl.encode()))
    result = invoke("ingest", "--leads", "leads.csv.gz", "--events", "events.jsonl.gz")
    assert result.exit_code == 0, result.stderr
    assert mask_rate(result.stdout) == (
        "Imported into leadrules.db\n"
        "file    path             rows  added  duplicates  new leads  rejected  ~\n"
        "------  ---------------  ----  -----  ----------  ---------  --------  ~\n"
        "leads   leads.csv.gz        3      3                      3         0  ~\n"
        "events  events.jsonl.gz     2      2           0          1         0  ~\n")
    assert _formats(cwd / "leadrules.db") == [("leads", "csv+gzip", 3, 3, 0, "done"),
                                              ("events", "jsonl+gzip", 2, 2, 0, "done")]
    with Store(cwd / "leadrules.db") as store:
        profile, events = store.lead_events("L1")
    assert profile == {"company": "Acme", "employees": "50"}
    assert [(e.event_id, e.props) for e in events] == [("e1", {"page": "/pricing"})]


def test_gzip_is_recognised_by_its_bytes_whatever_the_name(cwd):
    write(cwd / "events.csv", gzip.compress(EVENTS.encode()))  # gzip, though not called .gz
    result = invoke("ingest", "--events", "events.csv")
    assert result.exit_code == 0, result.stderr
    assert _formats(cwd / "leadrules.db") == [("events", "csv+gzip", 4, 3, 0, "done")]
    piped = invoke("ingest", "--db", "piped.db", "--events", "-",
                   input=gzip.compress(EVENTS.encode()))
    assert piped.exit_code == 0, piped.stderr
    assert _formats(cwd / "piped.db") == [("events", "csv+gzip", 4, 3, 0, "done")]
    # Piped gzip is sniffed for JSON Lines after it is unpacked.
    jsonl = invoke("ingest", "--db", "jsonl.db", "--events", "-", input=gzip.compress(
        b'{"lead_id": "L1", "type": "visit", "ts": "2026-03-14"}\n'))
    assert (jsonl.exit_code, jsonl.stderr) == (0, "")
    assert _formats(cwd / "jsonl.db") == [("events", "jsonl+gzip", 1, 1, 0, "done")]


def _gzip_cut_after(head: str, tail: str) -> bytes:
    """Gzip data of head + tail, cut off right after the bytes that decode to `head`."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as out:
        out.write(head.encode())
        out.flush()  # a sync flush: everything up to here decodes from the bytes so far
        cut = buffer.tell()
        out.write(tail.encode())
    return buffer.getvalue()[:cut]


@pytest.mark.parametrize("name, text", [
    ("ev.csv.gz", events_csv(15_000)),
    ("ev.jsonl.gz", "".join(
        json.dumps({"event_id": f"e{i:06d}", "lead_id": f"L{i % 700:04d}", "type": "page_visit",
                    "ts": f"2026-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"}) + "\n"
        for i in range(15_000))),
])
def test_gzip_file_that_breaks_off_midway_keeps_whole_batches(cwd, name, text):
    lines = text.splitlines(keepends=True)
    header = 1 if name.endswith(".csv.gz") else 0
    head, tail = "".join(lines[:header + 12_000]), "".join(lines[header + 12_000:])
    write(cwd / name, _gzip_cut_after(head, tail))
    result = invoke("ingest", "--events", name)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: {name}: cannot read: the gzip data ends early (the file is truncated); the "
        "10,000 rows before were imported, and importing the whole file later adds just the "
        "rest\n")
    db = cwd / "leadrules.db"
    assert counts(db) == (700, 10_000)
    assert query(db, "SELECT status, line_done, rows, added FROM imports") == [
        ("failed", 10_000 + header, 10_000, 10_000)]
    # The whole file, once it is there, adds just the rest.
    write(cwd / name, gzip.compress(text.encode()))
    again = invoke("ingest", "--events", name)
    assert again.exit_code == 0, again.stderr
    assert counts(db) == (700, 15_000)
    assert query(db, "SELECT status, rows, added, duplicates FROM imports ORDER BY import_id") == [
        ("failed", 10_000, 10_000, 0), ("done", 15_000, 5_000, 10_000)]


# 4. stdin ------------------------------------------------------------------------------------

def test_stdin_csv(cwd):
    result = invoke("ingest", "--events", "-", input=EVENTS)
    assert result.exit_code == 0, result.stderr
    assert mask_rate(result.stdout) == (
        "Imported into leadrules.db\n"
        "file    path     rows  added  duplicates  new leads  rejected  ~\n"
        "------  -------  ----  -----  ----------  ---------  --------  ~\n"
        "events  <stdin>     4      3           1          2         0  ~\n")
    assert query(cwd / "leadrules.db",
                 "SELECT source, fingerprint, format, status FROM imports") == [
        ("<stdin>", None, "csv", "done")]


def test_stdin_json_lines_are_told_by_their_first_brace(cwd):
    text = ('\ufeff  \n{"event_id":"e1","lead_id":"L1","type":"visit","ts":"2026-03-14",'
            '"page":"/x"}\n\n{"lead_id":"L2","type":"visit","ts":"yesterday"}\n')
    result = invoke("ingest", "--events", "-", input=text.encode("utf-8"))
    assert result.exit_code == 1
    assert result.stderr == (f"<stdin>:4: {HINT} (column 'ts', value 'yesterday')\n"
                             "1 row rejected; write them all to a file with --rejects FILE\n")
    assert query(cwd / "leadrules.db", "SELECT format, rows, added, rejected FROM imports") == [
        ("jsonl", 2, 1, 1)]
    assert query(cwd / "leadrules.db", "SELECT event_id, props FROM events") == [
        ("e1", '{"page":"/x"}')]


def test_input_format_option_overrides_the_sniffing_and_the_name(cwd):
    # A CSV file whose first column name starts with `{` looks like JSON Lines to the sniffer.
    text = "{note},lead_id,type,ts\nhello,L1,visit,2026-03-14\n"
    sniffed = invoke("ingest", "--db", "sniffed.db", "--events", "-", input=text)
    assert sniffed.exit_code == 1
    assert sniffed.stderr == (
        "<stdin>:1: invalid JSON at column 2: Expecting property name enclosed in double quotes\n"
        "<stdin>:2: invalid JSON at column 1: Expecting value\n"
        "2 rows rejected; write them all to a file with --rejects FILE\n")
    forced = invoke("ingest", "--db", "forced.db", "--events", "-", "--input-format", "csv",
                    input=text)
    assert (forced.exit_code, forced.stderr) == (0, "")
    assert query(cwd / "forced.db", "SELECT lead_id, type, props FROM events") == [
        ("L1", "visit", '{"{note}":"hello"}')]
    # And a JSON Lines file with a .csv name.
    write(cwd / "export.csv", '{"lead_id":"L1","type":"visit","ts":"2026-03-14"}\n')
    named = invoke("ingest", "--db", "named.db", "--events", "export.csv", "--format", "jsonl")
    assert (named.exit_code, named.stderr) == (0, "note: ingest --format is now --input-format; "
                                               "the old spelling will go in a later release\n")
    assert _formats(cwd / "named.db") == [("events", "jsonl", 1, 1, 0, "done")]


# 5. JSON Lines -------------------------------------------------------------------------------

def test_json_lines_events_nested_or_flat_keep_the_text_of_values(cwd):
    lines = [
        {"event_id": "e1", "lead_id": "L1", "type": "deal_won", "ts": "2026-03-14",
         "props": {"amount": "@2.50", "won": True, "lost": False, "gone": None, "note": " hi "}},
        {"event_id": "e2", "lead_id": "L1", "type": "visit", "ts": "2026-03-14",
         "properties": {"page": "/x", "n": "@10"}, "campaign": "spring"},
        {"event_id": "e3", "lead_id": 42, "type": "visit", "ts": "2026-03-14", "big": "@1.0E3",
         "empty": ""},
    ]
    # "@..." marks numbers written as JSON numbers, with their exact text.
    text = "".join(re.sub(r'"@([^"]*)"', r"\1", json.dumps(line)) + "\n" for line in lines)
    assert '"amount": 2.50,' in text
    write(cwd / "ev.jsonl", text)
    result = invoke("ingest", "--events", "ev.jsonl")
    assert (result.exit_code, result.stderr) == (0, "")
    assert query(cwd / "leadrules.db", "SELECT event_id, lead_id, type, props FROM events "
                                        "ORDER BY event_id") == [
        ("e1", "L1", "deal_won",
         '{"amount":"2.50","lost":"false","note":"hi","won":"true"}'),
        ("e2", "L1", "visit", '{"campaign":"spring","n":"10","page":"/x"}'),
        ("e3", "42", "visit", '{"big":"1.0E3"}')]


def test_json_lines_leads_with_profile_nested_or_flat(cwd):
    write(cwd / "leads.jsonl",
          '{"lead_id": "L1", "profile": {"employees": 50, "revenue": 2.50, "active": true}}\n'
          '{"lead_id": "L2", "fields": {"company": "Globex", "fax": null}}\n'
          '{"lead_id": "L3", "company": "Initech", "employees": 1200.0}\n')
    result = invoke("ingest", "--leads", "leads.jsonl")
    assert (result.exit_code, result.stderr) == (0, "")
    assert query(cwd / "leadrules.db", "SELECT lead_id, profile FROM leads ORDER BY lead_id") == [
        ("L1", '{"active":"true","employees":"50","revenue":"2.50"}'),
        ("L2", '{"company":"Globex"}'),
        ("L3", '{"company":"Initech","employees":"1200.0"}')]


def test_json_lines_objects_and_lists_as_values_are_rejected(cwd):
    write(cwd / "ev.jsonl",
          '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14", "utm": {"source": "google"}}\n'
          '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14", "props": {"tags": ["a", "b"]}}\n'
          '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14", "page": "/ok"}\n'
          '["L1", "visit"]\n'
          '{"lead_id": "L1", "type": "visit",\n')
    result = invoke("ingest", "--events", "ev.jsonl")
    assert result.exit_code == 1
    assert result.stderr == (
        "ev.jsonl:1: 'utm' is an object; a value must be text, a number, true/false or null "
        "(column 'utm', value '{\"source\": \"google\"}')\n"
        "ev.jsonl:2: 'tags' is a list; a value must be text, a number, true/false or null "
        "(column 'tags', value '[\"a\", \"b\"]')\n"
        "ev.jsonl:4: a JSON line must be an object {...}, not a list\n"
        "ev.jsonl:5: invalid JSON at column 35: Expecting property name enclosed in double "
        "quotes\n"
        "4 rows rejected; write them all to a file with --rejects FILE\n")
    assert query(cwd / "leadrules.db", "SELECT props FROM events") == [('{"page":"/ok"}',)]


def test_rejected_json_value_is_shown_as_written(cwd):
    write(cwd / "ev.jsonl",
          '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14", "utm": {"n": 1, "x": 2.50}}\n')
    result = invoke("ingest", "--events", "ev.jsonl")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "ev.jsonl:1: 'utm' is an object; a value must be text, a number, true/false or null "
        "(column 'utm', value '{\"n\": 1, \"x\": 2.50}')")


def test_nested_property_never_overrides_the_rows_own_fields(cwd):
    write(cwd / "ev.jsonl",
          '{"event_id": "e1", "lead_id": "L1", "type": "content_request", "ts": "2026-03-14", '
          '"props": {"type": "whitepaper"}}\n'
          '{"event_id": "e2", "lead_id": "L1", "type": "page_visit", "ts": "2026-03-14", '
          '"properties": {"lead_id": "L2", "page": "/x"}}\n')
    write(cwd / "leads.jsonl", '{"lead_id": "L5", "profile": {"lead_id": "L6", "company": "A"}}\n')
    invoke("ingest", "--leads", "leads.jsonl", "--events", "ev.jsonl")
    # Keys under props/profile are properties and profile fields, never the row's own.
    assert query(cwd / "leadrules.db", "SELECT event_id, lead_id, type FROM events "
                                        "WHERE type = 'whitepaper' OR lead_id != 'L1'") == []
    assert query(cwd / "leadrules.db",
                 "SELECT lead_id FROM leads WHERE lead_id IN ('L2', 'L6')") == []
    assert query(cwd / "leadrules.db", "SELECT event_id, props FROM events ORDER BY event_id") == [
        ("e1", '{"type":"whitepaper"}'), ("e2", '{"lead_id":"L2","page":"/x"}')]


# 6. --rejects FILE -------------------------------------------------------------------------

def test_rejects_file_as_csv(cwd):
    write(cwd / "ev.csv", BAD_EVENTS + 'e6,L3,visit,2026-03-16,"quoted ""x"""\n'
          'e7,L3,,never,/q\n')
    result = invoke("ingest", "--events", "ev.csv", "--rejects", "rejects.csv")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "4 rows rejected; all of them are in rejects.csv"
    assert (cwd / "rejects.csv").read_bytes().decode("utf-8") == (
        "file,line,column,value,reason,raw\r\n"
        f"ev.csv,3,ts,yesterday,{HINT},\"e2,L1,visit,yesterday,/y\"\r\n"
        "ev.csv,4,lead_id,,missing lead_id,\"e3,,visit,2026-03-14,/z\"\r\n"
        "ev.csv,5,,,6 cells but the header has 5 columns,\"e4,L2,visit,2026-03-15,/z,extra\"\r\n"
        "ev.csv,8,type,,missing type,\"e7,L3,,never,/q\"\r\n"
        f"ev.csv,8,ts,never,{HINT},\"e7,L3,,never,/q\"\r\n")
    assert not list(cwd.glob(".*leadrules-tmp"))


def test_rejects_file_as_json_lines(cwd):
    write(cwd / "ev.jsonl",
          '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14"}\n'
          '{"lead_id": "L1", "type": "visit", "ts": "14/03/2026"}\n'
          'nope\n')
    result = invoke("ingest", "--events", "ev.jsonl", "--rejects", "out.jsonl")
    assert result.exit_code == 1
    assert [json.loads(line) for line in (cwd / "out.jsonl").read_text().splitlines()] == [
        {"file": "ev.jsonl", "line": 2, "column": "ts", "value": "14/03/2026", "reason": HINT,
         "raw": '{"lead_id": "L1", "type": "visit", "ts": "14/03/2026"}'},
        {"file": "ev.jsonl", "line": 3, "column": None, "value": None,
         "reason": "invalid JSON at column 1: Expecting value", "raw": "nope"}]


def test_rejects_file_of_a_clean_import_has_just_the_header(cwd):
    write(cwd / "ev.csv", EVENTS)
    result = invoke("ingest", "--events", "ev.csv", "--rejects", "rejects.csv")
    assert (result.exit_code, result.stderr) == (0, "")
    assert (cwd / "rejects.csv").read_bytes() == b"file,line,column,value,reason,raw\r\n"


def test_rejects_file_in_a_missing_directory_is_refused_before_importing(cwd):
    write(cwd / "ev.csv", BAD_EVENTS)
    result = invoke("ingest", "--db", "s.db", "--events", "ev.csv", "--rejects", "nodir/r.csv")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: nodir/r.csv: its directory does not exist (--rejects)\n"
    assert not (cwd / "s.db").exists()


# 7. --max-rejects --------------------------------------------------------------------------

# Rows 3, 7, 8, 12 and 15 (lines 4, 8, 9, 13, 16) have a bad timestamp.
MAX_REJECTS_ROWS = rows_csv(
    ["event_id,lead_id,type,ts"]
    + [f"e{i},L{i % 3},visit,{'bad' if i in (3, 7, 8, 12, 15) else '2026-03-14'}"
       for i in range(1, 21)])


def test_max_rejects_stops_then_the_same_command_carries_on(cwd):
    write(cwd / "mr.csv", MAX_REJECTS_ROWS)
    stopped = invoke("ingest", "--events", "mr.csv", "--max-rejects", 2)
    assert stopped.exit_code == 1
    assert mask_rate(stopped.stdout) == (
        "Imported into leadrules.db\n"
        "file    path    rows  added  duplicates  new leads  rejected  ~\n"
        "------  ------  ----  -----  ----------  ---------  --------  ~\n"
        "events  mr.csv     8      5           0          3         3  ~\n")
    assert stopped.stderr == (
        "error: stopped after more than 2 rejected rows (--max-rejects); the rows before were "
        "imported, and running the same command again carries on from there\n"
        f"mr.csv:4: {HINT} (column 'ts', value 'bad')\n"
        f"mr.csv:8: {HINT} (column 'ts', value 'bad')\n"
        f"mr.csv:9: {HINT} (column 'ts', value 'bad')\n"
        "3 rows rejected; write them all to a file with --rejects FILE\n")
    db = cwd / "leadrules.db"
    assert counts(db) == (3, 5)  # e1, e2, e4, e5, e6: the rows before the one that stopped it
    assert query(db, "SELECT status, line_done, rows, rejected FROM imports") == [
        ("stopped", 9, 8, 3)]

    resumed = invoke("ingest", "--events", "mr.csv", "--max-rejects", 10)
    assert resumed.exit_code == 1
    assert mask_rate(resumed.stdout) == (
        "Imported into leadrules.db\n"
        "file    path    rows  added  duplicates  new leads  rejected  ~\n"
        "------  ------  ----  -----  ----------  ---------  --------  ~\n"
        "events  mr.csv    20     15           0          3         5  ~\n"
        "mr.csv: resumed an interrupted import after line 9; the counts include the earlier "
        "run\n")
    assert resumed.stderr == "".join(
        f"mr.csv:{line}: {HINT} (column 'ts', value 'bad')\n" for line in (4, 8, 9, 13, 16)
    ) + "5 rows rejected; write them all to a file with --rejects FILE\n"

    fresh = invoke("ingest", "--db", "fresh.db", "--events", "mr.csv")
    assert fresh.exit_code == 1
    assert snapshot(db) == snapshot(cwd / "fresh.db")
    rejects = snapshot(db)["rejects"]
    assert [r[1] for r in rejects] == [4, 8, 9, 13, 16]  # each once
    assert query(db, "SELECT count(*), count(DISTINCT event_id) FROM events") == [(15, 15)]


def test_max_rejects_is_a_limit_not_a_trigger(cwd):
    write(cwd / "mr.csv", MAX_REJECTS_ROWS)
    result = invoke("ingest", "--events", "mr.csv", "--max-rejects", 5)
    assert result.exit_code == 1
    assert result.stderr == "".join(
        f"mr.csv:{line}: {HINT} (column 'ts', value 'bad')\n" for line in (4, 8, 9, 13, 16)
    ) + "5 rows rejected; write them all to a file with --rejects FILE\n"
    assert query(cwd / "leadrules.db", "SELECT status, rows, added, rejected FROM imports") == [
        ("done", 20, 15, 5)]
    zero = invoke("ingest", "--db", "zero.db", "--events", "mr.csv", "--max-rejects", 0)
    assert zero.exit_code == 1
    assert zero.stderr == (
        "error: stopped after more than 0 rejected rows (--max-rejects); the rows before were "
        "imported, and running the same command again carries on from there\n"
        f"mr.csv:4: {HINT} (column 'ts', value 'bad')\n"
        "1 row rejected; write them all to a file with --rejects FILE\n")
    assert query(cwd / "zero.db", "SELECT status, line_done, rows, added, rejected "
                                  "FROM imports") == [("stopped", 4, 3, 2, 1)]


def test_max_rejects_resume_with_two_files_keeps_each_reject_once(cwd):
    write(cwd / "leads.csv", "lead_id,company\nL1,A\n,B\nL3,C\n,D\n")
    write(cwd / "mr.csv", MAX_REJECTS_ROWS)
    first = invoke("ingest", "--leads", "leads.csv", "--events", "mr.csv", "--max-rejects", 3)
    assert first.exit_code == 1
    assert query(cwd / "leadrules.db", "SELECT kind, status FROM imports") == [
        ("leads", "done"), ("events", "stopped")]
    again = invoke("ingest", "--leads", "leads.csv", "--events", "mr.csv", "--max-rejects", 10)
    assert again.exit_code == 1
    invoke("ingest", "--db", "fresh.db", "--leads", "leads.csv", "--events", "mr.csv")
    resumed, fresh = snapshot(cwd / "leadrules.db"), snapshot(cwd / "fresh.db")
    assert (resumed["leads"], resumed["events"]) == (fresh["leads"], fresh["events"])
    assert resumed["rejects"] == fresh["rejects"]
    info = json.loads(invoke("store", "info", "--format", "json").stdout)
    assert info["rejected_rows"] == 7


# 8. --rules ----------------------------------------------------------------------------------

def test_rules_declare_the_types_lead_cells_must_have(cwd):
    write(cwd / "t.rules", "events visit\n"
                           "fields employees: number, founded: date, active: boolean, name: text\n"
                           "when visit then +5\n")
    checked = invoke("check", "t.rules")
    assert (checked.exit_code, checked.stdout) == (0, "t.rules: ok\n")
    write(cwd / "leads.csv", "lead_id,employees,founded,active,name\n"
                             "L1,50,2020-01-01,yes,A\n"
                             "L2,fifty,2020-01-01,yes,B\n"
                             "L3,5,someday,maybe,C\n"
                             "L4,,,,fifty\n")
    result = invoke("ingest", "--leads", "leads.csv", "--rules", "t.rules")
    assert result.exit_code == 1
    assert result.stderr == (
        "leads.csv:3: not a number (the rules declare employees: number) "
        "(column 'employees', value 'fifty')\n"
        "leads.csv:4: not a date; write 2026-03-14 (the rules declare founded: date) "
        "(column 'founded', value 'someday')\n"
        "leads.csv:4: not true/false (or yes/no, 1/0) (the rules declare active: boolean) "
        "(column 'active', value 'maybe')\n"
        "2 rows rejected; write them all to a file with --rejects FILE\n")
    assert query(cwd / "leadrules.db", "SELECT lead_id FROM leads ORDER BY lead_id") == [
        ("L1",), ("L4",)]
    # Without the rules, the cells are untyped text and every row is taken.
    plain = invoke("ingest", "--db", "plain.db", "--leads", "leads.csv")
    assert (plain.exit_code, plain.stderr) == (0, "")


def test_rules_file_that_is_missing_is_a_usage_error(cwd):
    write(cwd / "leads.csv", LEADS)
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--rules", "nope.rules")
    assert (result.exit_code, result.stderr) == (2, "error: nope.rules: no such rule file\n")
    assert not (cwd / "s.db").exists()


# 12. store info ------------------------------------------------------------------------------

GOLDEN_RULES = ('ruleset "tiny"\n'
                "events page_visit, email_open, deal_won\n"
                "when page_visit then +10\n"
                "when deal_won then +50\n")


def _small_store(cwd) -> Path:
    """A store with imports of every status (all from stdin, so no paths) and one run."""
    leads = invoke("ingest", "--db", "crm.db", "--leads", "-",
                   input="lead_id,company\nL1,Acme\nL2,Globex\n,Nobody\n")
    assert leads.exit_code == 1
    events = invoke("ingest", "--db", "crm.db", "--events", "-", input=(
        "event_id,lead_id,type,ts\n"
        "e1,L1,page_visit,2026-03-14T09:21:05Z\ne2,L1,page_visit,2026-03-15\n"
        "e3,L3,email_open,2026-03-16\ne4,L2,email_open,2026-03-17\ne5,L2,page_visit,2026-03-18\n"
        "e6,L2,deal_won,2026-04-01T12:00:00.5Z\ne1,L1,page_visit,2026-03-14T09:21:05Z\n"))
    assert events.exit_code == 0
    stopped = invoke("ingest", "--db", "crm.db", "--events", "-", "--max-rejects", 0,
                     input="lead_id,type,ts\nL1,page_visit,later\nL1,page_visit,2026-05-01\n")
    assert stopped.exit_code == 1

    def interrupt(kind, source, done):
        raise KeyboardInterrupt

    with Store(cwd / "crm.db") as store:
        with pytest.raises(KeyboardInterrupt):
            ingest(store, events="-", stdin=io.BytesIO(b"lead_id,type,ts\nL4,email_open,"
                                                       b"2026-03-20\n"),
                   progress=interrupt, now=NOW_MICROS)
        write(cwd / "tiny.rules", GOLDEN_RULES)
        rules = compile_ruleset(dsl.load(cwd / "tiny.rules"))
        run_rules(store, rules, as_of=1775001600000000)  # 2026-04-01T00:00:00Z
    return cwd / "crm.db"


def test_store_info_text(cwd):
    _small_store(cwd)
    result = invoke("store", "info", "--db", "crm.db")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden("store-info.expected", result.stdout)


def test_store_info_json(cwd):
    before = time.time_ns() // 1000
    _small_store(cwd)
    result = invoke("store", "info", "--db", "crm.db", "--format", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    info = json.loads(result.stdout)
    started = [i.pop("started_at") for i in info["imports"]]
    assert started[:3] == sorted(started[:3]) and before <= started[0] <= started[2]
    assert started[3] == NOW_MICROS
    run = info.pop("latest_run")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", run.pop("created_at"))
    assert run == {"run_id": 1, "ruleset_name": "tiny", "ruleset_path": str(cwd / "tiny.rules"),
                   "ruleset_hash": compile_ruleset(dsl.load(cwd / "tiny.rules")).hash,
                   "as_of": 1775001600000000, "leads": 4, "events": 3, "data_version": 3,
                   "mode": "full", "replayed": 4, "changed": 0, "stages": {"Name": 4}}
    imports = [
        (1, "leads", "done", 3, 2, 0, 2, 1),
        (2, "events", "done", 7, 6, 1, 1, 0),
        (3, "events", "stopped", 1, 0, 0, 0, 1),
        (4, "events", "running", 1, 1, 0, 1, 0),
    ]
    assert info == {
        "path": "crm.db", "schema_version": SCHEMA_VERSION, "leads": 4, "leads_from_events_only": 2,
        "events": 7, "first_event": "2026-03-14T09:21:05Z",
        "last_event": "2026-04-01T12:00:00.5Z",
        "event_types": {"page_visit": 3, "email_open": 3, "deal_won": 1}, "runs": 1,
        "imports": [{"import_id": n, "kind": kind, "source": "<stdin>", "format": "csv",
                     "status": status, "rows": rows, "added": added, "duplicates": dups,
                     "new_leads": new, "rejected": rejected}
                    for n, kind, status, rows, added, dups, new, rejected in imports],
        "rejected_rows": 2}


@pytest.mark.parametrize("output", ["text", "json"])
def test_store_info_on_a_missing_store_creates_nothing(cwd, output):
    result = invoke("store", "info", "--db", "nope.db", "--format", output)
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == ("error: nope.db: no store here; create one with `leadrules ingest` "
                             "(or point --db / LEADRULES_DB at one)\n")
    from_env = invoke("store", "info", env={"LEADRULES_DB": "env.db"})
    assert (from_env.exit_code, from_env.stdout) == (2, "")
    assert from_env.stderr == ("error: env.db: no store here; create one with `leadrules "
                               "ingest` (or point --db / LEADRULES_DB at one)\n")
    assert list(cwd.iterdir()) == []


# 13. Importing the same files again ----------------------------------------------------------

def test_importing_the_same_files_again_adds_nothing(cwd):
    write(cwd / "leads.csv", LEADS)
    write(cwd / "events.csv", EVENTS)
    first = invoke("ingest", "--leads", "leads.csv", "--events", "events.csv")
    assert first.exit_code == 0
    before = snapshot(cwd / "leadrules.db")
    second = invoke("ingest", "--leads", "leads.csv", "--events", "events.csv")
    assert (second.exit_code, second.stderr) == (0, "")
    assert mask_rate(second.stdout) == (
        "Imported into leadrules.db\n"
        "file    path        rows  added  duplicates  new leads  rejected  ~\n"
        "------  ----------  ----  -----  ----------  ---------  --------  ~\n"
        "leads   leads.csv      3      3                      3         0  ~\n"
        "events  events.csv     4      3           1          1         0  ~\n"
        "leads.csv: unchanged since import 1, which took it whole; not read again (the counts "
        "are that import's)\n"
        "events.csv: unchanged since import 2, which took it whole; not read again (the counts "
        "are that import's)\n")
    assert "  -\n" in second.stdout  # no rate: nothing was read
    assert snapshot(cwd / "leadrules.db") == before
    # The same rows in another file are read, and every event is a duplicate.
    write(cwd / "copy.csv", EVENTS)
    third = invoke("ingest", "--events", "copy.csv")
    assert (third.exit_code, third.stderr) == (0, "")
    assert mask_rate(third.stdout).splitlines()[-1] == (
        "events  copy.csv     4      0           4          0         0  ~")
    after = snapshot(cwd / "leadrules.db")
    assert (after["leads"], after["events"]) == (before["leads"], before["events"])
    assert counts(cwd / "leadrules.db") == (4, 3)
    assert [i[3:] for i in after["imports"]] == [
        ("done", 4, 3, 3, 0, 3, 0), ("done", 5, 4, 3, 1, 1, 0), ("done", 5, 4, 0, 4, 0, 0)]
