"""Tests for engine.sample: same arguments, same bytes; and the data looks like a real CRM."""

import csv
import functools
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from leadrules.engine.bundled import sample_outcomes_path, sample_paths
from leadrules.engine.events import parse_timestamp
from leadrules.engine.sample import generator
from leadrules.engine.sample.generator import (
    DEFAULT_END,
    EVENT_COLUMNS,
    EVENT_TYPES,
    LEAD_COLUMNS,
    SampleFiles,
    write_sample,
)
from leadrules.engine.sample.spill import Spill

BANT = ("budget", "authority", "need", "timeline")
TRUTHY = {"yes", "true", "1"}
SALES = {"sales_qualification", "sales_contacted", "sales_rejected", "opportunity_created",
         "deal_won", "deal_lost"}
# which property columns each event type may fill; all others stay empty
PROPS = {"page_visit": {"topic"}, "content_request": {"asset"}, "email_click": {"campaign"},
         "email_open": {"campaign"}, "webinar_signup": {"campaign"},
         "sales_qualification": set(BANT), "opportunity_created": {"amount"},
         "deal_won": {"amount"}, "sales_rejected": {"reason"}, "deal_lost": {"reason"}}


def micros(moment: datetime) -> int:
    return parse_timestamp(moment.isoformat())


def read_rows(path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    return [dict(zip(rows[0], row)) for row in rows[1:]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> SampleFiles:
    return write_sample(tmp_path_factory.mktemp("sample"), 300, 1)


@pytest.fixture(scope="module")
def leads(sample) -> list[dict[str, str]]:
    return as_dicts(read_rows(sample.leads_path))


@pytest.fixture(scope="module")
def events(sample) -> list[dict[str, str]]:
    return as_dicts(read_rows(sample.events_path))


@pytest.fixture(scope="module")
def by_lead(events) -> dict[str, list[dict[str, str]]]:
    """Each lead's distinct events in time order."""
    distinct = {e["event_id"]: e for e in events}.values()
    grouped = defaultdict(list)
    for e in sorted(distinct, key=lambda e: (parse_timestamp(e["ts"]), e["event_id"])):
        grouped[e["lead_id"]].append(e)
    return grouped


def test_same_arguments_give_the_same_bytes(tmp_path, sample):
    again = write_sample(tmp_path / "again", 300, 1)
    assert again.leads_path.read_bytes() == sample.leads_path.read_bytes()
    assert again.events_path.read_bytes() == sample.events_path.read_bytes()
    assert (again.leads, again.events) == (sample.leads, sample.events)


def test_another_seed_gives_other_bytes(tmp_path, sample):
    other = write_sample(tmp_path, 300, 2)
    assert other.leads_path.read_bytes() != sample.leads_path.read_bytes()
    assert other.events_path.read_bytes() != sample.events_path.read_bytes()


def test_files_have_the_exact_headers_and_counts(sample):
    assert sample.leads_path == sample.leads_path.parent / "leads.csv"
    assert sample.events_path == sample.leads_path.parent / "events.csv"
    lead_rows, event_rows = read_rows(sample.leads_path), read_rows(sample.events_path)
    assert tuple(lead_rows[0]) == LEAD_COLUMNS
    assert tuple(event_rows[0]) == EVENT_COLUMNS
    assert (sample.leads, sample.events) == (len(lead_rows) - 1, len(event_rows) - 1)
    assert {len(row) for row in lead_rows} == {len(LEAD_COLUMNS)}
    assert {len(row) for row in event_rows} == {len(EVENT_COLUMNS)}
    raw = sample.events_path.read_bytes()
    assert raw.startswith(b"event_id,lead_id,") and b"\r" not in raw


def test_out_dir_is_created(tmp_path):
    files = write_sample(tmp_path / "a" / "b", 3, 5)
    assert files.leads == 3
    assert files.events_path.read_text(encoding="utf-8").startswith(",".join(EVENT_COLUMNS) + "\n")


@pytest.mark.parametrize("leads", [0, -1, True, 2.5])
def test_bad_lead_counts_are_refused(tmp_path, leads):
    with pytest.raises(ValueError) as info:
        write_sample(tmp_path, leads, 1)
    assert str(info.value) == f"leads must be a whole number of at least 1, got {leads!r}"
    assert not (tmp_path / "leads.csv").exists()


@pytest.mark.parametrize("slices", [0, True, 2.5])
def test_bad_slice_counts_are_refused(tmp_path, slices):
    with pytest.raises(ValueError) as info:
        write_sample(tmp_path, 10, 1, slices=slices)
    assert str(info.value) == f"slices must be a whole number of at least 1, got {slices!r}"
    assert not (tmp_path / "leads.csv").exists()


def test_naive_end_is_refused(tmp_path):
    with pytest.raises(ValueError, match="^end must carry a time zone, got 2026-01-01T00:00:00$"):
        write_sample(tmp_path, 10, 1, end=datetime(2026, 1, 1))


def test_lead_ids_count_up(leads):
    assert [lead["lead_id"] for lead in leads] == [f"L{n:06d}" for n in range(1, 301)]


def test_leads_look_like_a_b2b_database(leads):
    titles = Counter(lead["title"] for lead in leads)
    assert {"Student", "Bewerber", "Geschäftsführer", "Marketing-Manager", ""} <= set(titles)
    sizes = [int(lead["employees"]) for lead in leads if lead["employees"]]
    assert 5 <= min(sizes) and max(sizes) <= 50_000
    assert statistics.median(sizes) < 1000 < max(sizes)
    assert any(lead["employees"] == "" for lead in leads)
    assert Counter(lead["country"] for lead in leads).most_common(1)[0][0] == "DE"
    emails = [lead["email"] for lead in leads]
    assert all(email.isascii() and email.count("@") == 1 for email in emails)
    assert any(email.endswith("@wettbewerber.de") for email in emails)
    assert any(email.endswith(("@gmail.com", "@web.de", "@gmx.de")) for email in emails)


def test_all_event_types_appear(events):
    assert set(e["type"] for e in events) == set(EVENT_TYPES)
    assert len(EVENT_TYPES) == 13


def test_properties_are_filled_only_where_they_belong(events):
    columns = EVENT_COLUMNS[4:]
    for e in events:
        assert {c for c in columns if e[c]} == PROPS.get(e["type"], set()), e
    topics = Counter(e["topic"] for e in events if e["type"] == "page_visit")
    assert set(topics) == {"product", "pricing", "blog", "careers", "docs", "case-studies"}
    flags = Counter(e[c] for e in events if e["type"] == "sales_qualification" for c in BANT)
    assert {"yes", "no"} <= set(flags) and set(flags) - {"yes", "no"}
    amounts = [e["amount"] for e in events if e["type"] in ("opportunity_created", "deal_won")]
    assert all(amount.isdigit() and int(amount) >= 500 for amount in amounts)


def test_timestamps_parse_and_lie_in_the_year_before_end(events):
    start, end = micros(DEFAULT_END - timedelta(days=365)), micros(DEFAULT_END)
    stamps = [e["ts"] for e in events]
    assert all(start <= parse_timestamp(ts) < end for ts in stamps)
    assert any(ts.endswith("Z") and "." not in ts for ts in stamps)
    assert any("." in ts for ts in stamps)
    assert {ts[-6:] for ts in stamps if not ts.endswith("Z")} == {"+01:00", "+02:00"}


def test_local_offsets_are_german_time(events):
    berlin = ZoneInfo("Europe/Berlin")
    for ts in (e["ts"] for e in events if not e["ts"].endswith("Z")):
        moment = datetime.fromisoformat(ts)
        assert moment.utcoffset() == moment.astimezone(berlin).utcoffset(), ts


def test_event_ids_are_unique_and_numbered_in_time_order(events):
    distinct = sorted({e["event_id"]: e for e in events}.values(), key=lambda e: e["event_id"])
    assert [e["event_id"] for e in distinct] == [f"E{n:07d}" for n in range(1, len(distinct) + 1)]
    stamps = [parse_timestamp(e["ts"]) for e in distinct]
    assert stamps == sorted(stamps)


def test_repeated_rows_are_exact_copies_placed_later(sample):
    rows = read_rows(sample.events_path)[1:]
    first_seen: dict[str, list[str]] = {}
    repeats = 0
    for row in rows:
        if row[0] in first_seen:
            assert first_seen[row[0]] == row
            repeats += 1
        else:
            first_seen[row[0]] = row
    assert 0 < repeats < len(rows) * 0.02
    assert sample.events == len(first_seen) + repeats


def test_some_rows_are_out_of_timestamp_order(events):
    stamps = [parse_timestamp(e["ts"]) for e in events]
    backwards = sum(1 for a, b in zip(stamps, stamps[1:]) if b < a)
    assert 0 < backwards < len(stamps) * 0.05


def test_some_events_belong_to_unknown_leads(leads, events):
    known = {lead["lead_id"] for lead in leads}
    strangers = Counter(e["type"] for e in events if e["lead_id"] not in known)
    assert 0 < sum(strangers.values()) < len(events) * 0.03
    assert set(strangers) <= {"page_visit", "email_open"}


def test_events_per_lead_are_heavy_tailed(leads, by_lead):
    counts = [len(by_lead.get(lead["lead_id"], ())) for lead in leads]
    active = [c for c in counts if c]
    assert 0.1 < counts.count(0) / len(counts) < 0.3
    assert max(active) >= 10 * statistics.median(active)


def test_sales_events_come_after_marketing_began(by_lead):
    for lead_id, events in by_lead.items():
        types = [e["type"] for e in events]
        if SALES & set(types):
            assert types[0] not in SALES, lead_id


def clean_qualification(events) -> int | None:
    """Where the lead's first sales qualification with all four flags truthy is, if any."""
    return next((i for i, e in enumerate(events) if e["type"] == "sales_qualification"
                 and all(e[flag].lower() in TRUTHY for flag in BANT)), None)


def test_clean_qualifications_lead_to_won_deals(by_lead):
    clean = {lead: i for lead, events in by_lead.items()
             if (i := clean_qualification(events)) is not None}
    winners = [lead for lead, i in clean.items()
               if "deal_won" in (e["type"] for e in by_lead[lead][i:])]
    assert len(clean) >= 24 and len(winners) >= 3


def test_window_follows_end(tmp_path):
    end = datetime(2025, 1, 1, 6, tzinfo=timezone(timedelta(hours=1)))
    files = write_sample(tmp_path, 40, 3, end=end)
    stamps = [parse_timestamp(row[3]) for row in read_rows(files.events_path)[1:]]
    assert micros(end - timedelta(days=365)) <= min(stamps) and max(stamps) < micros(end)


def test_write_sample_tells_its_progress_and_writes_the_same_bytes(tmp_path):
    told = []
    files = write_sample(tmp_path / "a", 2500, seed=4,
                         progress=lambda step, done, total: told.append((step, done, total)))
    plain = write_sample(tmp_path / "b", 2500, seed=4)
    assert files.events_path.read_bytes() == plain.events_path.read_bytes()
    assert files.leads_path.read_bytes() == plain.leads_path.read_bytes()
    rows = files.events
    assert told[:3] == [("leads", 1000, 2500), ("leads", 2000, 2500), ("leads", 2500, 2500)]
    assert told[3:] == [("events", min(k, rows), rows) for k in range(10_000, rows + 10_000,
                                                                        10_000)]


@pytest.mark.parametrize(("slices", "most"), [(1, None), (3, None), (50, None), (1000, None),
                                             (1, 20), (3, 500)])
def test_the_bytes_do_not_depend_on_the_slices_of_the_sort_on_disk(tmp_path, monkeypatch,
                                                                    slices, most):
    """The bundled sample was written while the generator still sorted all events in memory.
    At 50 slices of about 120 events, swapped and repeated rows reach across slices; at 1000
    most slices are empty; slices of more than `most` events are split before they are sorted."""
    if most is not None:
        monkeypatch.setattr(generator, "Spill", functools.partial(Spill, most=most))
    files = write_sample(tmp_path, 300, 1, outcomes=True, slices=slices)
    leads, events = sample_paths()
    assert files.leads_path.read_bytes() == leads.read_bytes()
    assert files.events_path.read_bytes() == events.read_bytes()
    assert files.outcomes_path.read_bytes() == sample_outcomes_path().read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "leads.csv",
                                                          "outcomes.csv"]


def test_an_interrupted_sample_leaves_no_temporary_folder(tmp_path):
    def interrupt(step, done, total):
        if step == "events":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_sample(tmp_path, 300, 1, progress=interrupt, slices=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.csv", "leads.csv"]
