"""Real exports in: column mapping (--map, --mapping TOML, --set), delimiters, encodings,
date formats and time zones (DST included), decimal commas, id normalisation, missing tokens,
and the warnings of `ingest --rules` (docs/ingest.md)."""

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from clitools import invoke

from leadrules.dsl.errors import UsageError
from leadrules.engine.events import format_timestamp
from leadrules.engine.store.coverage import did_you_mean
from leadrules.engine.store.ingest import read_events, read_leads
from leadrules.engine.store.mapping import (
    NoSuchTime,
    ReadOptions,
    comma_number,
    normal_id,
    read_options,
    sniff_delimiter,
    timestamp,
)

DATA = Path(__file__).parent / "data" / "ingest"
BERLIN = ReadOptions(timezone="Europe/Berlin")


def query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def profiles(db: Path) -> dict[str, dict]:
    return {lead: json.loads(p) for lead, p in query(db, "SELECT lead_id, profile FROM leads")}


def events(db: Path) -> list[tuple]:
    return [(lead, type_, format_timestamp(ts), json.loads(props)) for lead, type_, ts, props
            in query(db, "SELECT lead_id, type, ts, props FROM events ORDER BY ts, lead_id")]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


# A German Excel export: `;`, Windows-1252, dd.mm.yyyy, 1.200 and 1.200,50, Select ---------

GERMAN_LEADS = ("Lead-ID;Firma;Mitarbeiter;Umsatz;Gründung;Position\r\n"
                "660737,0;Müller & Söhne GmbH;1.200;1.200,50;14.03.2026;Geschäftsführer\r\n"
                "660738;Bäckerei Groß;12;-3,5;01.02.1999;Select\r\n")
GERMAN_EVENTS = ("Lead-ID;Ereignis;Zeitpunkt;Seite\r\n"
                 "660737;Seitenaufruf;14.03.2026 09:30;/preise\r\n"
                 "660737;Seitenaufruf;29.03.2026 01:59;/über-uns\r\n"
                 "660737;Seitenaufruf;29.03.2026 02:30;/größen\r\n"
                 "660738;Seitenaufruf;25.10.2026 02:30;/anfahrt\r\n"
                 "660738;Seitenaufruf;25.10.2026 03:00;/kontakt\r\n"
                 "660738;Seitenaufruf;gestern;/straße\r\n"
                 "660738;Seitenaufruf;2026-07-01;/sommer\r\n")
GERMAN_RULES = ("events Seitenaufruf\n"
                "fields employees: number, revenue: number, founded: date, title: text\n"
                "when Seitenaufruf then +1\n")
GERMAN_OPTIONS = ["--encoding", "cp1252", "--date-format", "%d.%m.%Y %H:%M",
                  "--date-format", "%d.%m.%Y", "--timezone", "Europe/Berlin",
                  "--decimal-comma", "--missing", "Select",
                  "--map", "Lead-ID=lead_id,Firma=company,Mitarbeiter=employees,Umsatz=revenue,"
                           "Gründung=founded,Position=title,Ereignis=type,Zeitpunkt=ts,Seite=page"]


def test_a_german_excel_export_imports_with_every_value_right(cwd):
    (cwd / "leads.csv").write_bytes(GERMAN_LEADS.encode("cp1252"))
    (cwd / "events.csv").write_bytes(GERMAN_EVENTS.encode("cp1252"))
    (cwd / "de.rules").write_text(GERMAN_RULES, encoding="utf-8")
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--events", "events.csv",
                    "--rules", "de.rules", "--rejects", "rejects.csv", *GERMAN_OPTIONS)
    assert result.exit_code == 1  # two rows rejected
    assert profiles(cwd / "s.db") == {
        "660737": {"company": "Müller & Söhne GmbH", "employees": "1200", "revenue": "1200.50",
                   "founded": "2026-03-14", "title": "Geschäftsführer"},
        "660738": {"company": "Bäckerei Groß", "employees": "12", "revenue": "-3.5",
                   "founded": "1999-02-01"}}
    assert events(cwd / "s.db") == [
        ("660737", "Seitenaufruf", "2026-03-14T08:30:00Z", {"page": "/preise"}),  # CET +01:00
        ("660737", "Seitenaufruf", "2026-03-29T00:59:00Z", {"page": "/über-uns"}),
        ("660738", "Seitenaufruf", "2026-06-30T22:00:00Z", {"page": "/sommer"}),  # CEST
        ("660738", "Seitenaufruf", "2026-10-25T00:30:00Z", {"page": "/anfahrt"}),  # 1st 02:30
        ("660738", "Seitenaufruf", "2026-10-25T02:00:00Z", {"page": "/kontakt"})]
    lines = result.stdout.splitlines()
    assert "leads.csv: columns separated by ';' (told from the header line; --delimiter to " \
           "say otherwise)" in lines
    assert ("leads.csv: 1 lead id written with a zero fraction (660737.0) stored without it "
            "(660737)") in lines
    assert "leads.csv: 1 cell read as missing (Select)" in lines
    assert result.stderr.splitlines()[:2] == [
        "events.csv:4: no such time in Europe/Berlin (the clocks skip it when summer time "
        "begins) (column 'ts', value '29.03.2026 02:30')",
        "events.csv:7: not a timestamp in the formats %d.%m.%Y %H:%M, %d.%m.%Y (--date-format) "
        "nor ISO 8601 (column 'ts', value 'gestern')"]
    # The rejects keep the umlauts: each row's text is its original bytes, in cp1252.
    raw = (cwd / "rejects.csv").read_bytes()
    assert "660737;Seitenaufruf;29.03.2026 02:30;/größen".encode("cp1252") in raw
    assert "660738;Seitenaufruf;gestern;/straße".encode("cp1252") in raw
    with open(cwd / "rejects.csv", encoding="cp1252", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["raw"] for r in rows] == ["660737;Seitenaufruf;29.03.2026 02:30;/größen",
                                        "660738;Seitenaufruf;gestern;/straße"]


def test_without_encoding_a_cp1252_file_is_one_clear_error_and_leaves_no_store(cwd):
    (cwd / "events.csv").write_bytes(GERMAN_EVENTS.encode("cp1252"))
    result = invoke("ingest", "--db", "s.db", "--events", "events.csv")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: events.csv:3: byte 0xfc is not UTF-8; the file is in another encoding: pass "
        "--encoding cp1252 (what Excel on Windows writes) or the encoding it was saved in\n")
    assert not (cwd / "s.db").exists()


def test_a_semicolon_file_with_comma_forced_says_which_delimiter(cwd):
    (cwd / "events.csv").write_text("lead_id;type;ts\nL1;visit;2026-03-14\n")
    result = invoke("ingest", "--db", "s.db", "--events", "events.csv", "--delimiter", ",")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: events.csv: header has no columns 'lead_id', 'type', 'ts'; found: "
        "lead_id;type;ts; is the file separated by another delimiter? pass --delimiter ';' "
        "(say)\n")
    assert not (cwd / "s.db").exists()


def test_an_existing_store_is_kept_when_the_input_is_unusable(cwd):
    (cwd / "events.csv").write_text("lead_id,type,ts\nL1,visit,2026-03-14\n")
    assert invoke("ingest", "--db", "s.db", "--events", "events.csv").exit_code == 0
    (cwd / "bad.csv").write_text("id,kind\n")
    assert invoke("ingest", "--db", "s.db", "--events", "bad.csv").exit_code == 2
    assert query(cwd / "s.db", "SELECT count(*) FROM events") == [(1,)]


@pytest.mark.parametrize("header, delimiter", [
    ("lead_id,type,ts", ","), ("lead_id;type;ts", ";"), ("lead_id\ttype\tts", "\t"),
    ('"a;b",c,d', ","), ("lead_id", ",")])
def test_the_delimiter_is_told_from_the_header(header, delimiter):
    assert sniff_delimiter(header + "\n") == delimiter


def test_tab_separated_events_are_read(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text("lead_id\ttype\tts\tpage\nL1\tvisit\t2026-03-14\t/a,b\n")
    [event] = read_events(path)
    assert (event.lead_id, event.type, event.props) == ("L1", "visit", {"page": "/a,b"})


# A CRM export with spaced column names, through a mapping file -----------------------------

def test_a_crm_export_imports_through_a_mapping_file(cwd):
    result = invoke("ingest", "--db", "s.db", "--leads", DATA / "crm-leads.csv",
                    "--mapping", DATA / "crm.toml")
    assert result.exit_code == 0, result.stderr
    leads = profiles(cwd / "s.db")
    assert sorted(leads) == ["660681", "660719", "660727", "660728", "660737"]
    assert leads["660737"] == {"prospect_id": "7927b2df-8bba-4d29-b9a2-b6e0beafe620",
                               "origin": "API", "source": "Olark Chat", "do_not_email": "No",
                               "visits": "0", "seconds_on_site": "0"}
    assert leads["660681"] == {"prospect_id": "3256f628-e534-4826-9d63-4a8b88782852",
                               "origin": "Landing Page Submission", "source": "Google",
                               "do_not_email": "No", "seconds_on_site": "1428",
                               "city": "Thane & Outskirts"}
    lines = result.stdout.splitlines()
    assert f"{DATA / 'crm-leads.csv'}: 6 cells read as missing (NaN, Select)" in lines
    assert (f"{DATA / 'crm-leads.csv'}: 1 lead id written with a zero fraction (660737.0) "
            "stored without it (660737)") in lines


def test_a_funnel_export_gets_a_constant_type_and_mapped_columns(cwd):
    result = invoke("ingest", "--db", "s.db", "--events", DATA / "funnel-mql.csv",
                    "--map", "mql_id=lead_id,first_contact_date=ts",
                    "--set", "type=mql_first_contact")
    assert result.exit_code == 0, result.stderr
    assert events(cwd / "s.db") == [
        ("8c18d1de7f67e60dbd64e3c07d7e9d5d", "mql_first_contact", "2017-10-20T00:00:00Z",
         {"landing_page_id": "210e3c04a8b7f5b5b5ef1e2b23a37a7f", "origin": "paid_search"}),
        ("dac32acd4db4c29c230538b72f8dd87d", "mql_first_contact", "2018-02-01T00:00:00Z",
         {"landing_page_id": "88740e65d5d6b056e0cda098e1ea6313", "origin": "social"})]


def test_mapped_json_lines(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text('{"Lead": 660737.0, "When": "14.03.2026", "n": "NaN", "page": "/x"}\n')
    options = read_options(columns="Lead=lead_id,When=ts", sets=("type=visit",),
                           date_formats=("%d.%m.%Y",), missing="NaN")
    [event] = read_events(path, options=options)
    assert (event.lead_id, event.type, format_timestamp(event.ts), event.props) == (
        "660737", "visit", "2026-03-14T00:00:00Z", {"page": "/x"})


def test_a_mapping_changed_reads_an_unchanged_file_again(cwd):
    (cwd / "leads.csv").write_text("id,Firm\nL1,Acme\n")
    assert invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--map",
                  "id=lead_id").exit_code == 0
    assert invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--map",
                  "id=lead_id,Firm=company").exit_code == 0
    assert profiles(cwd / "s.db") == {"L1": {"Firm": "Acme", "company": "Acme"}}


@pytest.mark.parametrize("args, message", [
    (["--map", "Nope=lead_id"], "leads.csv: --map names column 'Nope', which the header does "
                                "not have; found: id, Firm"),
    (["--map", "id=lead_id,Nope=x"], "--map names column 'Nope', which leads.csv does not "
                                     "have; the names must be written as in the header (a "
                                     "mapping file can map the columns of one kind of file in "
                                     "[leads.columns] or [events.columns])"),
    (["--map", "id=lead_id,Firm=lead_id"], "columns 'id' and 'Firm' are both mapped to "
                                           "'lead_id'; map one of them"),
    (["--map", "id"], "--map 'id': write COLUMN=NAME, like 'Prospect ID=lead_id'"),
    (["--map", "Firm=id"], "leads.csv:1: column 'Firm' is mapped to 'id', but the file has a "
                           "column 'id' too; map that one away"),
    (["--map", "id=lead_id", "--set", "Firm=x"], "leads.csv:1: --set Firm=... gives every row "
                                                 "a 'Firm', but the file has a column 'Firm' "
                                                 "for it; use one"),
    (["--map", "id=lead_id", "--delimiter", ":"], "--delimiter ':': use one of , ; tab |"),
    (["--map", "id=lead_id", "--encoding", "klingon"],
     "--encoding 'klingon': not an encoding Python knows; try utf-8, cp1252 (Excel on "
     "Windows) or latin-1"),
    (["--map", "id=lead_id", "--timezone", "Europe/Bxl"],
     "--timezone 'Europe/Bxl': not a time zone this system knows; write an IANA name like "
     "Europe/Berlin or America/New_York (where the system has no zone database, `pip install "
     "'leadrules[tz]'` installs tzdata, which provides one)"),
    (["--map", "id=lead_id", "--date-format", "dd.mm.yyyy"],
     "--date-format 'dd.mm.yyyy': write a strftime pattern like '%d.%m.%Y %H:%M', or `unix` "
     "for seconds since 1970"),
    (["--mapping", "bad.toml"], "bad.toml: unknown setting 'column'; a mapping file may have "
                                "columns, date_format, decimal_comma, delimiter, encoding, "
                                "events, leads, missing, set, timezone"),
])
def test_mapping_mistakes_are_clear_and_write_nothing(cwd, args, message):
    (cwd / "leads.csv").write_text("id,Firm\nL1,Acme\n")
    (cwd / "bad.toml").write_text('[column]\n"id" = "lead_id"\n')
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", *args)
    assert (result.exit_code, result.stderr) == (2, f"error: {message}\n")
    assert not (cwd / "s.db").exists()


def test_a_mapping_file_that_is_not_toml(cwd):
    (cwd / "m.toml").write_text("[columns\n")
    with pytest.raises(UsageError, match=r"^m.toml: not a TOML mapping file: "):
        read_options(mapping_file="m.toml")


def test_the_command_line_adds_to_the_mapping_file(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('encoding = "cp1252"\ndate_format = "%d.%m.%Y"\nmissing = "NaN"\n'
                    '[columns]\n"A" = "lead_id"\n"B" = "x"\n')
    options = read_options(mapping_file=path, columns="B=y", missing="Select",
                           date_formats=("%Y%m%d",))
    assert options == ReadOptions(columns={"A": "lead_id", "B": "y"}, encoding="cp1252",
                                  date_formats=("%Y%m%d",), missing=frozenset({"NaN", "Select"}))


# Values -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("1.200", "1200"), ("1.200,50", "1200.50"), ("-3,5", "-3.5"), ("1200,5", "1200.5"),
    ("12.345.678,9", "12345678.9"), ("1.20", None), ("1,2,3", None), ("12", None),
    ("v1.2", None), ("1.2000", None)])
def test_decimal_comma_numbers(text, expected):
    assert comma_number(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("660737.0", "660737"), ("660737.000", "660737"), ("660737", "660737"),
    ("660737.5", "660737.5"), ("L1.0", "L1.0"), ("1.0.0", "1.0.0"), ("-7.0", "-7")])
def test_ids_with_a_zero_fraction_are_normalised(text, expected):
    assert normal_id(text) == expected


def test_a_float_id_and_an_integer_id_are_one_lead(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,city\n660737.0,Berlin\n660737,Bonn\n")
    assert read_leads(path) == [("660737", {"city": "Berlin"}), ("660737", {"city": "Bonn"})]


def _utc(text: str, options: ReadOptions = BERLIN) -> str:
    return format_timestamp(timestamp(text, options, options.zone()))


@pytest.mark.parametrize("local, utc", [
    ("2026-01-15 12:00", "2026-01-15T11:00:00Z"),   # winter: +01:00
    ("2026-07-15 12:00", "2026-07-15T10:00:00Z"),   # summer: +02:00
    ("2026-03-29 01:59:59", "2026-03-29T00:59:59Z"),  # the last second of winter time
    ("2026-03-29 03:00", "2026-03-29T01:00:00Z"),   # the first of summer time
    ("2026-10-25 01:59", "2026-10-24T23:59:00Z"),
    ("2026-10-25 02:30", "2026-10-25T00:30:00Z"),   # the hour that comes twice: the first
    ("2026-10-25 03:00", "2026-10-25T02:00:00Z"),
    ("2026-07-01", "2026-06-30T22:00:00Z"),         # a date is local midnight
    ("2026-07-01T12:00:00Z", "2026-07-01T12:00:00Z"),  # an offset wins over --timezone
    ("2026-07-01T12:00:00+05:30", "2026-07-01T06:30:00Z"),
])
def test_naive_times_convert_exactly_in_the_time_zone(local, utc):
    assert _utc(local) == utc


@pytest.mark.parametrize("local", ["2026-03-29 02:00", "2026-03-29 02:30", "2026-03-29 02:59"])
def test_a_local_time_the_clocks_skip_is_refused(local):
    with pytest.raises(NoSuchTime):
        _utc(local)


@pytest.mark.parametrize("text, formats, utc", [
    ("14.03.2026", ("%d.%m.%Y",), "2026-03-14T00:00:00Z"),
    ("3/14/2026 19:58", ("%d.%m.%Y", "%m/%d/%Y %H:%M"), "2026-03-14T19:58:00Z"),
    ("1773480065", ("unix",), "2026-03-14T09:21:05Z"),
    ("1773480065.25", ("unix",), "2026-03-14T09:21:05.25Z"),
    ("1773480065.123457", ("unix",), "2026-03-14T09:21:05.123457Z"),  # exact, not a float
    ("2026-03-14T09:21:05Z", ("%d.%m.%Y",), "2026-03-14T09:21:05Z"),  # ISO still works
    ("14.03.2026 10:21 +0100", ("%d.%m.%Y %H:%M %z",), "2026-03-14T09:21:00Z"),
])
def test_date_formats_are_tried_in_order(text, formats, utc):
    assert _utc(text, ReadOptions(date_formats=formats)) == utc


def test_date_formats_and_time_zone_together():
    options = ReadOptions(date_formats=("%d.%m.%Y %H:%M",), timezone="Europe/Berlin")
    assert _utc("29.03.2026 03:00", options) == "2026-03-29T01:00:00Z"


# Warnings with --rules --------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("Webinar_Signup", "webinar_signup"), ("Page Visit", "page_visit"),
    ("pagevisit", "page_visit"), ("webinar_sigup", "webinar_signup"), ("deal_won", None)])
def test_did_you_mean_tries_case_and_separators_first(name, expected):
    assert did_you_mean(name, ["page_visit", "webinar_signup", "web_summary"]) == expected


def test_ingest_with_rules_warns_of_undeclared_types_and_absent_fields(cwd):
    (cwd / "r.rules").write_text("events page_visit, webinar_signup\n"
                                 "fields title: text, employees: number\n"
                                 "when page_visit then +1\nwhen webinar_signup then +5\n")
    (cwd / "leads.csv").write_text("lead_id,Title,employees\nL1,CEO,12\n")
    (cwd / "events.csv").write_text("lead_id,type,ts\nL1,Webinar_Signup,2026-03-14\n"
                                    "L1,Webinar_Signup,2026-03-15\nL1,Page Visit,2026-03-15\n"
                                    "L1,page_visit,2026-03-16\nL1,deal_won,2026-03-17\n")
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--events", "events.csv",
                    "--rules", "r.rules")
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        "warning: 2 events of type 'Webinar_Signup', which the rules do not declare; they "
        "score nothing; did you mean webinar_signup?",
        "warning: 1 event of type 'Page Visit', which the rules do not declare; they score "
        "nothing; did you mean page_visit?",
        "warning: 1 event of type 'deal_won', which the rules do not declare; they score "
        "nothing",
        "warning: no lead has the field 'title' the rules declare; conditions on it never "
        "hold (the leads have 'Title': map it with --map 'Title=title')"]


def test_missing_tokens_leave_the_field_unset(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("lead_id,city,source\nL1,Select,n/a\nL2,Bonn,NaN\n")
    options = read_options(missing="Select,NaN,n/a")
    assert read_leads(path, options=options) == [("L1", {}), ("L2", {"city": "Bonn"})]


def test_a_semicolon_file_with_comma_numbers_asks_for_decimal_comma(cwd):
    (cwd / "leads.csv").write_text("lead_id;employees;revenue;city\nL1;1.200;3,5;Bonn\n"
                                   "L2;12;1200;Köln\n")
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv")
    assert result.exit_code == 0
    assert ("leads.csv: 2 cells look like numbers written with a decimal comma (1.200 or 3,5) "
            "and were stored as written (a rule reads 1.200 as 1.2); if they are numbers, "
            "import again with --decimal-comma") in result.stdout.splitlines()
    assert profiles(cwd / "s.db")["L1"] == {"employees": "1.200", "revenue": "3,5", "city": "Bonn"}


def test_a_gzip_file_in_another_encoding_stops_at_its_first_bad_row(cwd):
    import gzip

    (cwd / "events.csv.gz").write_bytes(gzip.compress(GERMAN_EVENTS.encode("cp1252")))
    result = invoke("ingest", "--db", "s.db", "--events", "events.csv.gz", "--delimiter", ";",
                    "--map", "Lead-ID=lead_id,Ereignis=type,Zeitpunkt=ts")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: events.csv.gz:3: byte 0xfc is not UTF-8 (column 'Seite'); the file is in "
        "another encoding: pass --encoding cp1252 (what Excel on Windows writes) or the "
        "encoding it was saved in\n")
    assert not (cwd / "s.db").exists()  # it held nothing: the error came in the first batch


def test_placeholders_the_rules_declare_are_not_type_checked(cwd):
    (cwd / "r.rules").write_text('events a\nfields employees: number missing "NaN"\n'
                                 "fit +1 if employees > 3\n")
    (cwd / "leads.csv").write_text("lead_id,employees\nL1,NaN\nL2,many\nL3,12\n")
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--rules", "r.rules")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "leads.csv:3: not a number (the rules declare employees: number) (column 'employees', "
        "value 'many')")
    assert profiles(cwd / "s.db") == {"L1": {"employees": "NaN"}, "L3": {"employees": "12"}}


GERMAN_MAPPING = """# German Excel exports, leads and events, each imported on its own
encoding = "cp1252"
date_format = ["%d.%m.%Y %H:%M", "%d.%m.%Y"]
timezone = "Europe/Berlin"
decimal_comma = true
missing = ["Select"]

[columns]
"Lead-ID" = "lead_id"

[leads.columns]
Firma = "company"
Mitarbeiter = "employees"

[events.columns]
Ereignis = "type"
Zeitpunkt = "ts"
Seite = "page"
"""


def test_a_mapping_file_maps_each_kind_of_file_on_its_own(cwd):
    (cwd / "de.toml").write_text(GERMAN_MAPPING, encoding="utf-8")
    (cwd / "leads.csv").write_bytes(
        "Lead-ID;Firma;Mitarbeiter\n1;Groß AG;1.200\n".encode("cp1252"))
    (cwd / "events.csv").write_bytes(GERMAN_EVENTS.encode("cp1252"))
    assert invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--mapping",
                  "de.toml").exit_code == 0
    assert invoke("ingest", "--db", "s.db", "--events", "events.csv", "--mapping",
                  "de.toml").exit_code == 1  # the two rows of GERMAN_EVENTS that are bad
    assert profiles(cwd / "s.db")["1"] == {"company": "Groß AG", "employees": "1200"}
    assert len(events(cwd / "s.db")) == 5


def test_a_kind_s_own_mapped_column_must_be_in_its_file(cwd):
    (cwd / "de.toml").write_text(GERMAN_MAPPING, encoding="utf-8")
    (cwd / "leads.csv").write_bytes("Lead-ID;Firma\n1;Groß AG\n".encode("cp1252"))
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--mapping", "de.toml")
    assert (result.exit_code, result.stderr) == (
        2, "error: [leads.columns] names column 'Mitarbeiter', which leads.csv does not have; "
           "the names must be written as in the header\n")


def test_an_import_with_options_resumes_with_the_same_options(cwd):
    (cwd / "events.csv").write_bytes(GERMAN_EVENTS.encode("cp1252"))
    (cwd / "de.toml").write_text(GERMAN_MAPPING, encoding="utf-8")
    options = ["--mapping", "de.toml"]
    first = invoke("ingest", "--db", "s.db", "--events", "events.csv", "--max-rejects", "0",
                   *options)
    assert first.exit_code == 1
    assert len(events(cwd / "s.db")) == 2  # the rows before the first reject, in one batch
    again = invoke("ingest", "--db", "s.db", "--events", "events.csv", "--max-rejects", "5",
                   *options)
    assert "events.csv: resumed an interrupted import after line 4; the counts include the " \
           "earlier run" in again.stdout.splitlines()
    assert len(events(cwd / "s.db")) == 5


@pytest.mark.parametrize("text, message", [
    ('[leads.colums]\n"A" = "lead_id"\n',
     "m.toml: [leads] may have [leads.columns] and [leads.set], not 'colums'"),
    ('[events.set]\ntype = 3\n', 'm.toml: [events.set] must map names to text, like '
                                 '"Prospect ID" = "lead_id"'),
    ('[leads.columns]\n"A" = "x"\n"B" = "x"\n',
     "columns 'A' and 'B' are both mapped to 'x'; map one of them"),
])
def test_mistakes_in_a_mapping_file_s_kind_sections(cwd, text, message):
    (cwd / "m.toml").write_text(text)
    with pytest.raises(UsageError) as info:
        read_options(mapping_file="m.toml")
    assert str(info.value) == message


def test_a_declared_field_no_column_resembles(cwd):
    (cwd / "r.rules").write_text("events a\nfields industry: text\nwhen a then +1\n")
    (cwd / "leads.csv").write_text("lead_id,city\nL1,Bonn\n")
    result = invoke("ingest", "--db", "s.db", "--leads", "leads.csv", "--rules", "r.rules")
    assert result.stderr == (
        "warning: no lead has the field 'industry' the rules declare; conditions on it never "
        "hold (is the column named otherwise? map it with --map 'COLUMN=industry')\n")


def test_a_byte_the_given_encoding_lacks_is_one_error_with_its_line(cwd):
    (cwd / "ev.csv").write_bytes(b"lead_id,type,ts,page\nL1,visit,2026-03-01,/a\n"
                                 b"L1,visit,2026-03-02,/\x81x\n")
    result = invoke("ingest", "--db", "s.db", "--events", "ev.csv", "--encoding", "cp1252")
    assert (result.exit_code, result.stderr) == (
        2, "error: ev.csv:3: byte 0x81 is not cp1252; the file is in another encoding: pass the "
           "one it was saved in with --encoding (utf-8, latin-1, utf-16...)\n")
    assert not (cwd / "s.db").exists()
