"""Tests for engine.ingest: every bad row reported exactly, all or nothing, stable ids."""

import time

import pytest

from dsl.errors import UsageError
from engine.errors import InputErrors
from engine.events import Event
from engine.ingest import IngestSummary, ingest_files, read_events_csv, read_leads_csv
from engine.store import Store, StoreCounts

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
    (b"e1,L1,visit,2026-03-14,caf\xe9",
     "not UTF-8 text (byte 0xe9); save the file as UTF-8 (column 'page', value 'caf\ufffd')"),
]


@pytest.mark.parametrize("row, message", BAD_EVENT_ROWS)
def test_bad_event_row_is_reported_with_place(tmp_path, row, message):
    body = row if isinstance(row, bytes) else row.encode()
    path = write(tmp_path, "ev.csv", EVENTS_HEADER.encode() + body + b"\n")
    with pytest.raises(InputErrors) as info:
        read_events_csv(path)
    assert messages(info) == [f"{path}:2: {message}"]


def test_row_missing_several_fields_reports_each(tmp_path):
    path = write(tmp_path, "ev.csv", EVENTS_HEADER + ",,,soon,/x\n")
    with pytest.raises(InputErrors) as info:
        read_events_csv(path)
    assert messages(info) == [
        f"{path}:2: missing lead_id (column 'lead_id', value '')",
        f"{path}:2: missing type (column 'type', value '')",
        f"{path}:2: {HINT} (column 'ts', value 'soon')"]


def test_lead_without_id_is_reported(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\n  ,Globex\n")
    with pytest.raises(InputErrors) as info:
        read_leads_csv(path)
    assert messages(info) == [f"{path}:3: missing lead_id (column 'lead_id', value '')"]


def test_unterminated_quote_is_reported_where_the_row_starts(tmp_path):
    path = write(tmp_path, "ev.csv", EVENTS_HEADER + 'e1,L1,visit,2026-03-14,"/x\ne2,L1\n')
    with pytest.raises(InputErrors) as info:
        read_events_csv(path)
    assert messages(info) == [f"{path}:2: malformed CSV: unexpected end of data"]


def test_line_numbers_are_physical_lines(tmp_path):
    text = EVENTS_HEADER + 'e1,L1,visit,2026-03-14,"two\nlines"\n\ne2,L1,visit,never,/x\n'
    path = write(tmp_path, "ev.csv", text)
    with pytest.raises(InputErrors) as info:
        read_events_csv(path)
    assert messages(info) == [f"{path}:5: {HINT} (column 'ts', value 'never')"]


def test_all_bad_rows_of_both_files_are_reported_and_nothing_is_written(tmp_path, store):
    leads = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\n,Globex\nL3,Initech,x\n")
    events = write(tmp_path, "ev.csv", EVENTS_HEADER + "e1,L1,visit,2026-03-14,/x\n"
                   "e2,L1,,2026-03-14,/x\ne3,L2,visit,later,/y\ne4,L2,visit,2026-03-15,/z\n")
    with pytest.raises(InputErrors) as info:
        ingest_files(store, leads, events, ingested_at=1)
    assert str(info.value) == "\n".join([
        "4 bad rows; nothing was imported:",
        f"  {leads}:3: missing lead_id (column 'lead_id', value '')",
        f"  {leads}:4: 3 cells but the header has 2 columns",
        f"  {events}:3: missing type (column 'type', value '')",
        f"  {events}:4: {HINT} (column 'ts', value 'later')"])
    assert store.counts() == StoreCounts(leads=0, events=0, first_ts=None, last_ts=None, runs=0)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(UsageError) as info:
        read_events_csv(path)
    assert str(info.value) == f"{path}: no such file"
    assert info.value.exit_code == 2


def test_empty_file(tmp_path):
    path = write(tmp_path, "ev.csv", "")
    with pytest.raises(UsageError) as info:
        read_events_csv(path)
    assert str(info.value) == (f"{path}: no header line; the first line must name the columns, "
                               "starting with lead_id, type, ts")


@pytest.mark.parametrize("header, message", [
    ("lead_id,type,when", "header has no column 'ts'; found: lead_id, type, when"),
    ("id,kind", "header has no columns 'lead_id', 'type', 'ts'; found: id, kind"),
    ("lead_id,type,ts,type", "1: column 'type' appears twice in the header"),
    ("lead_id,type,ts,", "1: column 4 of the header has no name"),
])
def test_bad_header(tmp_path, header, message):
    path = write(tmp_path, "ev.csv", header + "\nL1,visit,2026-03-14\n")
    with pytest.raises(UsageError) as info:
        read_events_csv(path)
    sep = ":" if message[0].isdigit() else ": "
    assert str(info.value) == f"{path}{sep}{message}"


def test_file_in_another_encoding(tmp_path):
    path = write(tmp_path, "leads.csv", "lead_id,città\nL1,Roma\n".encode("latin-1"))
    with pytest.raises(UsageError) as info:
        read_leads_csv(path)
    assert str(info.value) == (f"{path}:1: the header is not UTF-8 text (byte 0xe0); "
                               "save the file as UTF-8")


def test_events_are_read_with_props(tmp_path):
    text = ("lead_id , type,ts,page,utm_source\n"
            " L1 ,page_view, 2026-03-14T09:21:05Z ,/pricing, \n"
            "L2,form_submit,2026-03-14,,google\n")
    path = write(tmp_path, "ev.csv", text)
    assert read_events_csv(path) == [
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
    assert [e.ts for e in read_events_csv(path)] == [expected]


def test_bom_is_accepted(tmp_path):
    path = write(tmp_path, "leads.csv", "\ufefflead_id,company\nL1,Acme\n")
    assert read_leads_csv(path) == [("L1", {"company": "Acme"})]


def test_leads_empty_cells_are_absent_and_whitespace_stripped(tmp_path):
    path = write(tmp_path, "leads.csv",
                 "lead_id, company ,size\r\nL1, Acme ,\r\nL2,,  \r\n\r\nL1,Acme Corp,50\r\n")
    assert read_leads_csv(path) == [("L1", {"company": "Acme"}), ("L2", {}),
                                    ("L1", {"company": "Acme Corp", "size": "50"})]


def test_same_file_twice_adds_nothing_the_second_time(tmp_path, store):
    path = write(tmp_path, "ev.csv", "lead_id,type,ts,event_id\nL1,visit,2026-03-14,\n"
                 "L1,visit,2026-03-15,\nL2,visit,2026-03-14,\nL2,call,2026-03-14,given-id\n")
    first = ingest_files(store, events_path=path, ingested_at=1)
    assert first == IngestSummary(leads_read=0, events_read=4, events_added=4, duplicates=0,
                                  new_leads=2)
    second = ingest_files(store, events_path=path, ingested_at=2)
    assert second == IngestSummary(leads_read=0, events_read=4, events_added=0, duplicates=4,
                                   new_leads=0)
    assert store.lead_events("L2")[1][0].event_id == "given-id"


def test_same_moment_written_differently_is_one_event(tmp_path, store):
    path = write(tmp_path, "ev.csv", "lead_id,type,ts\n"
                 "L1,visit,2026-03-14T10:21:05+01:00\nL1,visit,2026-03-14T09:21:05Z\n")
    summary = ingest_files(store, events_path=path, ingested_at=1)
    assert (summary.events_added, summary.duplicates) == (1, 1)


def test_ingest_leads_and_events_together(tmp_path, store):
    leads = write(tmp_path, "leads.csv", "lead_id,company\nL1,Acme\nL3,Initech\n")
    events = write(tmp_path, "ev.csv", EVENTS_HEADER + "e1,L1,visit,2026-03-14,/x\n"
                   "e2,L2,visit,2026-03-14T09:21:05Z,\ne1,L1,visit,2026-03-14,/x\n")
    summary = ingest_files(store, leads, events, ingested_at=7)
    assert summary == IngestSummary(leads_read=2, events_read=3, events_added=2, duplicates=1,
                                    new_leads=1)
    assert [(lead, profile, [(e.event_id, e.props) for e in evs])
            for lead, profile, evs in store.iter_lead_events()] == [
        ("L1", {"company": "Acme"}, [("e1", {"page": "/x"})]),
        ("L2", {}, [("e2", {})]),
        ("L3", {"company": "Initech"}, [])]


def test_ingested_at_defaults_to_now(tmp_path, store):
    path = write(tmp_path, "ev.csv", "lead_id,type,ts\nL1,visit,2026-03-14\n")
    before = time.time_ns() // 1000
    ingest_files(store, events_path=path)
    [(stamp,)] = store._conn.execute("SELECT ingested_at FROM events").fetchall()
    assert before <= stamp <= time.time_ns() // 1000
