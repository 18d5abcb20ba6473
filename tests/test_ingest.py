"""Tests for engine.ingest and engine.sources: every bad row reported exactly, stable ids,
rejects stored beside the good rows, batches, resuming."""

import gzip
import io
import random
from datetime import datetime, timedelta, timezone

import pytest

from leadrules.dsl.errors import UsageError
from leadrules.engine.errors import InputErrors, Reject
from leadrules.engine.events import Event, format_timestamp, parse_timestamp
from leadrules.engine.store.ingest import ingest, read_events, read_leads
from leadrules.engine.store.records import StoreCounts
from leadrules.engine.store.store import Store

T0 = 1773480065000000  # 2026-03-14T09:21:05Z
DAY0 = 1773446400000000  # 2026-03-14T00:00:00Z
HINT = "not a timestamp; write ISO 8601 like 2026-03-14T09:21:05Z or 2026-03-14"
EVENTS_HEADER = "event_id,lead_id,type,ts,page\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def messages(info):
    return [str(e) for e in info.value.errors]


@pytest.fixture
def store():
    with Store.memory() as s:
        yield s


BAD_EVENT_ROWS = [
    ("e1,,visit,2026-03-14,/x", "missing lead_id (column 'lead_id', value '')"),
    ("e1,L1, ,2026-03-14,/x", "missing type (column 'type', value '')"),
    ("e1,L1,visit,,/x", "missing ts (column 'ts', value '')"),
    ("e1,L1,visit,yesterday,/x", f"{HINT} (column 'ts', value 'yesterday')"),
    ("e1,L1,visit,2026-02-30,/x", f"{HINT} (column 'ts', value '2026-02-30')"),
    ("e1,L1,visit,14/03/2026 09:21,/x", f"{HINT} (column 'ts', value '14/03/2026 09:21')"),
    ("e1,L1,visit,2026-03-14,/x,extra", "6 cells but the header has 5 columns"),
    ("e1,L1,visit,2026-03-14", "4 cells but the header has 5 columns"),
    ('e1,L1,"vis"it,2026-03-14,/x', "malformed CSV: ',' expected after '\"'"),
]


@pytest.mark.parametrize("row, message", BAD_EVENT_ROWS)
def test_bad_event_row_is_reported_with_place(tmp_path, row, message):
    body = row if isinstance(row, bytes) else row.encode()
    path = write(tmp_path, "ev.csv", EVENTS_HEADER.encode() + body + b"\n")
    with pytest.raises(InputErrors) as info:
        read_events(path)
    assert messages(info) == [f"{path}:2: {message}"]


def test_row_missing_several_fields_reports_each(tmp_path):
    path = write(tmp_path, "ev.csv", EVENTS_HEADER + ",,,soon,/x\n")
    with pytest.raises(InputErrors) as info:
        read_events(path)
    assert messages(info) == [
        f"{path}:2: missing lead_id (column 'lead_id', value '')",
        f"{path}:2: missing type (column 'type', value '')",
        f"{path}:2: {HINT} (column 'ts', value 'soon')"]


def test_lead_without_id_is_reported(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\n  ,Globex\n")
    with pytest.raises(InputErrors) as info:
        read_leads(path)
    assert messages(info) == [f"{path}:3: missing lead_id (column 'lead_id', value '')"]


def test_unterminated_quote_is_reported_where_the_row_starts(tmp_path):
    path = write(tmp_path, "ev.csv", EVENTS_HEADER + 'e1,L1,visit,2026-03-14,"/x\ne2,L1\n')
    with pytest.raises(InputErrors) as info:
        read_events(path)
    assert messages(info) == [f"{path}:2: malformed CSV: unexpected end of data"]


def test_line_numbers_are_physical_lines(tmp_path):
    text = EVENTS_HEADER + 'e1,L1,visit,2026-03-14,"two\nlines"\n\ne2,L1,visit,never,/x\n'
    path = write(tmp_path, "ev.csv", text)
    with pytest.raises(InputErrors) as info:
        read_events(path)
    assert messages(info) == [f"{path}:5: {HINT} (column 'ts', value 'never')"]


def test_bad_rows_are_stored_as_rejects_and_good_rows_still_taken(tmp_path, store):
    leads = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\n,Globex\nL3,Initech,x\n")
    events = write(tmp_path, "ev.csv", EVENTS_HEADER + "e1,L1,visit,2026-03-14,/x\n"
                   "e2,L1,,2026-03-14,/x\ne3,L2,visit,later,/y\ne4,L2,visit,2026-03-15,/z\n")
    report = ingest(store, leads, events, now=1)
    assert [(f.kind, f.rows, f.added, f.duplicates, f.new_leads, f.rejected, f.status)
            for f in report.files] == [("leads", 3, 1, 0, 1, 2, "done"),
                                       ("events", 4, 2, 0, 1, 2, "done")]
    assert store.counts() == StoreCounts(leads=2, events=2, first_ts=DAY0,
                                         last_ts=DAY0 + 86_400_000_000, runs=0)
    assert store.rejects(report.import_ids) == [
        {"file": str(leads), "line": 3, "column": "lead_id", "value": "", "reason":
         "missing lead_id", "raw": ",Globex"},
        {"file": str(leads), "line": 4, "column": None, "value": None, "reason":
         "3 cells but the header has 2 columns", "raw": "L3,Initech,x"},
        {"file": str(events), "line": 3, "column": "type", "value": "", "reason":
         "missing type", "raw": "e2,L1,,2026-03-14,/x"},
        {"file": str(events), "line": 4, "column": "ts", "value": "later", "reason": HINT,
         "raw": "e3,L2,visit,later,/y"}]


def test_read_refuses_a_file_with_bad_rows_naming_every_one(tmp_path):
    events = write(tmp_path, "ev.csv", EVENTS_HEADER + "e1,L1,visit,2026-03-14,/x\n"
                   ",,,later,/y\ne4,L2,visit,2026-03-15\n")
    with pytest.raises(InputErrors) as info:
        read_events(events)
    assert str(info.value) == "\n".join([
        "2 bad rows; nothing was read:",
        f"  {events}:3: missing lead_id (column 'lead_id', value '')",
        f"  {events}:3: missing type (column 'type', value '')",
        f"  {events}:3: {HINT} (column 'ts', value 'later')",
        f"  {events}:4: 4 cells but the header has 5 columns"])


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(UsageError) as info:
        read_events(path)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.exit_code == 2


def test_empty_file(tmp_path):
    path = write(tmp_path, "ev.csv", "")
    with pytest.raises(UsageError) as info:
        read_events(path)
    assert str(info.value) == (f"{path}: no header line; the first line must name the columns, "
                               "starting with lead_id, type, ts")


@pytest.mark.parametrize("header, message", [
    ("lead_id,type,when", "header has no column 'ts'; found: lead_id, type, when; say which "
     "column holds it with --map 'COLUMN=ts' (or give every row one value with --set ts=VALUE)"),
    ("id,kind", "header has no columns 'lead_id', 'type', 'ts'; found: id, kind; say which "
     "column holds it with --map 'COLUMN=lead_id' (or give every row one value with --set "
     "lead_id=VALUE)"),
    ("lead_id,type,ts,type", "1: column 'type' appears twice in the header"),
    ("lead_id,type,ts,", "1: column 4 of the header has no name"),
])
def test_bad_header(tmp_path, header, message):
    path = write(tmp_path, "ev.csv", header + "\nL1,visit,2026-03-14\n")
    with pytest.raises(UsageError) as info:
        read_events(path)
    sep = ":" if message[0].isdigit() else ": "
    assert str(info.value) == f"{path}{sep}{message}"


def test_file_in_another_encoding(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,città\nL1,Roma\n".encode("latin-1"))
    with pytest.raises(UsageError) as info:
        read_leads(path)
    assert str(info.value) == (f"{path}:1: byte 0xe0 is not UTF-8; the file is in another "
                               "encoding: pass --encoding cp1252 (what Excel on Windows "
                               "writes) or the encoding it was saved in")


def test_events_are_read_with_props(tmp_path):
    text = ("lead_id , type,ts,page,utm_source\n"
            " L1 ,page_view, 2026-03-14T09:21:05Z ,/pricing, \n"
            "L2,form_submit,2026-03-14,,google\n")
    path = write(tmp_path, "ev.csv", text)
    assert read_events(path) == [
        Event("hec59cd12c21a8ea0", "L1", "page_view", T0, {"page": "/pricing"}),
        Event("h1ddd8007be11c5fc", "L2", "form_submit", DAY0, {"utm_source": "google"})]


@pytest.mark.parametrize("ts, expected", [
    ("2026-03-14T10:21:05+01:00", T0),
    ("2026-03-14T04:21:05-05:00", T0),
    ("2026-03-14T09:21:05Z", T0),
    ("2026-03-14T09:21:05", T0),
    ("2026-03-14 09:21:05", T0),
    ("2026-03-14T09:21:05.25Z", T0 + 250_000),
    ("2026-03-14T09:21:05.123456+00:00", T0 + 123_456),
    ("2026-03-14", DAY0),
])
def test_timestamps_are_normalised_to_utc(tmp_path, ts, expected):
    path = write(tmp_path, "ev.csv", f"event_id,lead_id,type,ts\ne1,L1,visit,{ts}\n")
    assert [e.ts for e in read_events(path)] == [expected]


def test_bom_is_accepted(tmp_path):
    path = write(tmp_path, "leads.csv", "\ufefflead_id,company\nL1,Acme\n")
    assert read_leads(path) == [("L1", {"company": "Acme"})]


def test_leads_empty_cells_are_absent_and_whitespace_stripped(tmp_path):
    path = write(tmp_path, "leads.csv",
                 "lead_id, company ,size\r\nL1, Acme ,\r\nL2,,  \r\n\r\nL1,Acme Corp,50\r\n")
    assert read_leads(path) == [("L1", {"company": "Acme"}), ("L2", {}),
                                    ("L1", {"company": "Acme Corp", "size": "50"})]


def counts(report):
    return [(f.rows, f.added, f.duplicates, f.new_leads, f.rejected) for f in report.files]


def test_same_file_twice_adds_nothing_the_second_time(tmp_path, store):
    path = write(tmp_path, "ev.csv", "lead_id,type,ts,event_id\nL1,visit,2026-03-14,\n"
                 "L1,visit,2026-03-15,\nL2,visit,2026-03-14,\nL2,call,2026-03-14,given-id\n")
    assert counts(ingest(store, events=path, now=1)) == [(4, 4, 0, 2, 0)]
    again = ingest(store, events=path, now=2)
    assert [(f.status, f.read, f.import_id) for f in again.files] == [("unchanged", 0, 1)]
    copy = write(tmp_path, "copy.csv", path.read_text())
    assert counts(ingest(store, events=copy, now=3)) == [(4, 0, 4, 0, 0)]
    assert store.counts().events == 4
    assert store.lead_events("L2")[1][0].event_id == "given-id"


def test_same_moment_written_differently_is_one_event(tmp_path, store):
    path = write(tmp_path, "ev.csv", "lead_id,type,ts\n"
                 "L1,visit,2026-03-14T10:21:05+01:00\nL1,visit,2026-03-14T09:21:05Z\n")
    assert counts(ingest(store, events=path, now=1)) == [(2, 1, 1, 1, 0)]


def test_out_of_order_and_repeated_events_are_stored_once_in_time_order(tmp_path, store):
    path = write(tmp_path, "ev.csv", "event_id,lead_id,type,ts\n"
                 "e3,L1,visit,2026-03-16\ne1,L1,visit,2026-03-14\ne3,L1,visit,2026-03-16\n"
                 "e2,L1,visit,2026-03-15\ne1,L1,visit,2026-03-14\n")
    assert counts(ingest(store, events=path, now=1)) == [(5, 3, 2, 1, 0)]
    assert [e.event_id for e in store.lead_events("L1")[1]] == ["e1", "e2", "e3"]


def test_ingest_leads_and_events_together(tmp_path, store):
    leads = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\nL3,Initech\n")
    events = write(tmp_path, "ev.csv", EVENTS_HEADER + "e1,L1,visit,2026-03-14,/x\n"
                   "e2,L2,visit,2026-03-14T09:21:05Z,\ne1,L1,visit,2026-03-14,/x\n")
    assert counts(ingest(store, leads, events, now=7)) == [(2, 2, 0, 2, 0), (3, 2, 1, 1, 0)]
    assert [(lead, profile, [(row[2], row[4]) for row in rows])
            for lead, profile, rows in store.iter_lead_rows()] == [
        ("L1", {"company": "Acme"}, [("e1", '{"page":"/x"}')]),
        ("L2", {}, [("e2", "{}")]),
        ("L3", {"company": "Initech"}, [])]
    assert store._conn.execute("SELECT DISTINCT ingested_at FROM events").fetchall() == [(7,)]


def test_a_later_lead_row_updates_the_fields_it_gives(tmp_path, store):
    first = write(tmp_path, "a.csv", "lead_id,company,size\nL1,Acme,10\n")
    later = write(tmp_path, "b.jsonl", '{"lead_id": "L1", "profile": {"size": 50}}\n')
    ingest(store, leads=first, now=1)
    assert counts(ingest(store, leads=later, now=2)) == [(1, 1, 0, 0, 0)]
    assert store.lead_events("L1")[0] == {"company": "Acme", "size": "50"}


def test_batches_commit_progress_and_a_rerun_resumes_after_the_last(tmp_path, store):
    rows = "".join(f"e{i},L{i % 7},visit,2026-03-{1 + i % 28:02d}\n" for i in range(1, 251))
    path = write(tmp_path, "ev.csv", "event_id,lead_id,type,ts\n" + rows + "e1,L1,visit,x\n")
    seen = []

    def interrupt(kind, source, rows_done):
        seen.append(rows_done)
        if rows_done == 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest(store, events=path, batch_rows=100, progress=interrupt, now=1)
    assert seen == [100, 200]
    assert store.counts().events == 200
    report = ingest(store, events=path, batch_rows=100, now=2)
    [file] = report.files
    assert (file.resumed_after, file.rows, file.added, file.rejected, file.status) == (
        201, 251, 250, 1, "done")
    assert store.counts().events == 250
    assert len(store.rejects(report.import_ids)) == 1
    assert store._conn.execute("SELECT count(*), min(status) FROM imports").fetchone() == (1, "done")


def test_a_changed_file_is_a_new_import_and_adds_only_new_events(tmp_path, store):
    path = write(tmp_path, "ev.csv", "event_id,lead_id,type,ts\ne1,L1,visit,2026-03-14\n")
    ingest(store, events=path, now=1)
    path.write_text("event_id,lead_id,type,ts\ne1,L1,visit,2026-03-14\ne2,L1,visit,2026-03-15\n")
    report = ingest(store, events=path, now=2)
    assert (report.files[0].resumed_after, counts(report)) == (0, [(2, 1, 1, 0, 0)])


def test_max_rejects_stops_after_the_row_that_exceeds_it(tmp_path, store):
    path = write(tmp_path, "ev.csv", "event_id,lead_id,type,ts\ne1,L1,visit,2026-03-14\n"
                 "e2,,visit,2026-03-14\ne3,L1,visit,never\ne4,L1,visit,2026-03-15\n")
    report = ingest(store, events=path, max_rejects=1, now=1)
    assert report.stopped and counts(report) == [(3, 1, 0, 1, 2)]
    assert report.files[0].status == "stopped"
    again = ingest(store, events=path, max_rejects=5, now=2)
    assert (again.files[0].resumed_after, counts(again), again.stopped) == (
        4, [(4, 2, 0, 1, 2)], False)


def test_max_rejects_stops_before_the_next_file(tmp_path, store):
    leads = write(tmp_path, "leads.csv", "lead_id\n\n,\n")
    events = write(tmp_path, "ev.csv", "lead_id,type,ts\nL1,visit,2026-03-14\n")
    leads.write_text("lead_id,x\n,1\n")
    report = ingest(store, leads, events, max_rejects=0, now=1)
    assert [f.kind for f in report.files] == ["leads"] and report.stopped


def test_typed_fields_are_checked(tmp_path, store):
    path = write(tmp_path, "leads.csv", "lead_id,employees,since,vip\n"
                 "L1,250,2024-01-31,yes\nL2,fifty,2024-01-31,no\nL3,10,31.01.2024,maybe\n")
    report = ingest(store, leads=path, now=1,
                    types={"employees": "number", "since": "date", "vip": "boolean"})
    assert counts(report) == [(3, 1, 0, 1, 2)]
    assert [(r["line"], r["column"], r["value"], r["reason"])
            for r in store.rejects(report.import_ids)] == [
        (3, "employees", "fifty", "not a number (the rules declare employees: number)"),
        (4, "since", "31.01.2024", "not a date; write 2026-03-14 (the rules declare since: date)"),
        (4, "vip", "maybe",
         "not true/false (or yes/no, 1/0) (the rules declare vip: boolean)")]


JSONL_ROWS = [
    ('{"event_id": "j1", "lead_id": "L1", "type": "visit", "ts": "2026-03-14", '
     '"props": {"n": 2.50, "ok": true, "gone": null}}',
     Event("j1", "L1", "visit", DAY0, {"n": "2.50", "ok": "true"})),
    ('{"event_id": "j2", "lead_id": 7, "type": "visit", "ts": "2026-03-14", "page": " /x "}',
     Event("j2", "7", "visit", DAY0, {"page": "/x"})),
    ('{"event_id": "j3", "lead_id": "L1", "type": "visit", "ts": "2026-03-14", '
     '"properties": {"a": "b"}, "c": "d"}',
     Event("j3", "L1", "visit", DAY0, {"a": "b", "c": "d"})),
]


def test_json_lines_events(tmp_path):
    path = write(tmp_path, "ev.jsonl", "\n".join(row for row, _ in JSONL_ROWS) + "\n\n")
    assert read_events(path) == [event for _, event in JSONL_ROWS]


BAD_JSONL_ROWS = [
    ('{"lead_id": "L1", "type": "visit"', "invalid JSON at column 34: Expecting ',' delimiter",
     None, None),
    ("[1, 2]", "a JSON line must be an object {...}, not a list", None, None),
    ("42", "a JSON line must be an object {...}, not a number", None, None),
    ('{"lead_id": "L1", "type": "visit", "ts": "2026-03-14", "tags": ["a"]}',
     "'tags' is a list; a value must be text, a number, true/false or null", "tags", '["a"]'),
    ('{"lead_id": "L1", "type": "visit", "ts": 1773446400}', HINT, "ts", "1773446400"),
    ('{"lead_id": null, "type": "visit", "ts": "2026-03-14"}', "missing lead_id", "lead_id", ""),
    ('{"lead_id": "L1", "type": "v", "ts": "2026-03-14", "page": "/a", "props": {"page": "/b"}}',
     "'page' is given twice: on its own and under props/properties", "page", "/a"),
]


@pytest.mark.parametrize("row, reason, column, value", BAD_JSONL_ROWS)
def test_bad_json_line_is_reported_with_place(tmp_path, row, reason, column, value):
    path = write(tmp_path, "ev.jsonl", "\n" + row + "\n")
    with pytest.raises(InputErrors) as info:
        read_events(path)
    assert info.value.errors == [Reject(str(path), 2, reason, column, value, row)]


def test_json_line_in_another_encoding(tmp_path):
    path = write(tmp_path, "ev.jsonl", '{"lead_id": "caf\xe9"}\n'.encode("latin-1"))
    with pytest.raises(UsageError) as info:
        read_events(path)
    assert str(info.value) == (f"{path}:1: byte 0xe9 is not UTF-8; the file is in another "
                               "encoding: pass --encoding cp1252 (what Excel on Windows "
                               "writes) or the encoding it was saved in")


def test_gzip_is_read_whatever_the_name(tmp_path):
    body = gzip.compress(b"lead_id,type,ts\nL1,visit,2026-03-14\n")
    for name in ("ev.csv.gz", "ev.csv"):
        path = write(tmp_path, name, body)
        assert [(e.lead_id, e.ts) for e in read_events(path)] == [("L1", DAY0)]


def test_format_is_taken_from_the_name_or_given(tmp_path):
    path = write(tmp_path, "ev.txt", '{"lead_id": "L1", "type": "visit", "ts": "2026-03-14"}\n')
    with pytest.raises(UsageError) as info:
        read_events(path)
    assert str(info.value) == (f"{path}: cannot tell the format from the name; name the file "
                               ".csv or .jsonl (optionally .gz), or pass --format csv|jsonl")
    assert [e.lead_id for e in read_events(path, format="jsonl")] == ["L1"]


def test_stdin_is_sniffed(store):
    csv_input = io.BytesIO(b"lead_id,type,ts\nL1,visit,2026-03-14\n")
    json_input = io.BytesIO(b'  {"lead_id": "L2", "type": "visit", "ts": "2026-03-14"}\n')
    for data in (csv_input, json_input):
        ingest(store, events="-", stdin=data, now=1)
    assert [lead for lead, _, _ in store.iter_lead_rows()] == ["L1", "L2"]
    assert store._conn.execute("SELECT source, fingerprint, format FROM imports").fetchall() == [
        ("<stdin>", None, "csv"), ("<stdin>", None, "jsonl")]


def test_truncated_gzip_is_unusable_input(tmp_path):
    body = gzip.compress(b"lead_id,type,ts\n" + b"L1,visit,2026-03-14\n" * 5000)
    path = write(tmp_path, "ev.csv.gz", body[: len(body) // 2])
    with pytest.raises(UsageError) as info:
        read_events(path)
    assert str(info.value) == (f"{path}: cannot read: the gzip data ends early "
                               "(the file is truncated)")


@pytest.mark.parametrize("micros, text", [
    (0, "1970-01-01T00:00:00Z"),
    (-1, "1969-12-31T23:59:59.999999Z"),
    (T0, "2026-03-14T09:21:05Z"),
    (T0 + 250_000, "2026-03-14T09:21:05.25Z"),
    (DAY0 - 1_000_000, "2026-03-13T23:59:59Z"),
    (parse_timestamp("2024-02-29T23:59:59.000001Z"), "2024-02-29T23:59:59.000001Z"),
])
def test_timestamps_are_written_back_in_one_form(micros, text):
    assert format_timestamp(micros) == text


def test_writing_a_timestamp_agrees_with_datetime_everywhere():
    rng = random.Random(7)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    for _ in range(20_000):
        micros = rng.randint(-10**16, 10**17)
        moment = epoch + timedelta(microseconds=micros)
        fraction = f".{moment.microsecond:06d}".rstrip("0") if moment.microsecond else ""
        expected = moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
        assert format_timestamp(micros) == expected
        assert parse_timestamp(expected) == micros
