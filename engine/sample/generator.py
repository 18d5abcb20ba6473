"""Deterministic, realistic sample data: a year of a German B2B marketing database as CSV."""

from __future__ import annotations

import csv
import itertools
import math
import random
import tempfile
from array import array
from bisect import bisect_left
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Callable, Iterator

import attrs

from leadrules.engine.sample.spill import Spill

DEFAULT_END = datetime(2026, 11, 1, tzinfo=timezone.utc)
LEAD_COLUMNS = ("lead_id", "company", "title", "department", "employees", "industry", "country",
                "email")
EVENT_COLUMNS = ("event_id", "lead_id", "type", "ts", "topic", "asset", "campaign",
                 "budget", "authority", "need", "timeline", "amount", "reason")
EVENT_TYPES = ("content_request", "email_click", "email_open", "page_visit", "webinar_signup",
               "trade_show_visit", "newsletter_unsubscribe", "sales_qualification",
               "sales_contacted", "sales_rejected", "opportunity_created", "deal_won", "deal_lost")
(_CONTENT, _CLICK, _OPEN, _PAGE, _WEBINAR, _SHOW, _UNSUB,
 _QUAL, _CONTACTED, _REJECTED, _OPP, _WON, _LOST) = range(len(EVENT_TYPES))

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_DAY_MS = 86_400_000
_STORY_DAYS = 240            # sales steps may be planned this far past the window, then cut at end
_SILENT_SHARE = 0.2          # leads that never did anything
_MU, _SIGMA, _MAX_EVENTS = 2.05, 1.5, 2500   # lognormal marketing events per active lead
_MOVED, _REPEATED = 0.02, 0.005              # rows out of timestamp order / repeated later
_LOCAL_TIME, _FRACTION = 0.10, 0.05          # timestamps with a German offset / milliseconds

# (title, department or None for any, weight in DACH, weight elsewhere, sales fit 0..1)
_TITLES = (
    ("Geschäftsführer", "Geschäftsführung", 6, 1, 1.0), ("CMO", "Marketing", 1, 5, 1.0),
    ("Marketing-Leitung", "Marketing", 7, 1, 1.0), ("CEO", "Geschäftsführung", 2, 8, 1.0),
    ("Fachbereichsleiter", None, 5, 1, 0.9), ("Head of Department", None, 2, 8, 0.9),
    ("Marketing-Manager", "Marketing", 12, 1, 0.75),
    ("Marketing Manager", "Marketing", 6, 16, 0.75),
    ("Vertriebsleiter", "Vertrieb", 7, 2, 0.9), ("IT-Leiter", "IT", 6, 2, 0.85),
    ("Einkauf", "Einkauf", 6, 3, 0.6), ("Sachbearbeiter", None, 12, 4, 0.35),
    ("Werkstudent", None, 4, 1, 0.1), ("Student", "", 5, 8, 0.0), ("Bewerber", "", 4, 2, 0.0),
    ("Praktikant", None, 3, 2, 0.1), ("", None, 3, 3, 0.3),
)
_TITLE_CUM = {german: tuple(accumulate(t[2] if german else t[3] for t in _TITLES))
              for german in (True, False)}
_APPLICANTS = {"Student": "student", "Bewerber": "job applicant"}
_YOUNG = ("Werkstudent", "Student", "Bewerber", "Praktikant")
_DEPARTMENTS = ("Marketing", "Vertrieb", "IT", "Einkauf", "Produktion", "Personal", "Finanzen")
# (industry, weight, German company cores, English company cores)
_INDUSTRIES = (
    ("Anlagenbau", 16, ("Anlagenbau", "Maschinenbau", "Fördertechnik"), ("Engineering",)),
    ("IT", 16, ("Software", "IT-Systemhaus", "Datentechnik"), ("Systems", "Software", "Analytics")),
    ("Handel", 12, ("Handel", "Großhandel", "Vertrieb"), ("Trading", "Retail")),
    ("Consulting", 10, ("Consulting", "Unternehmensberatung"), ("Consulting", "Advisory")),
    ("Automotive", 9, ("Automobiltechnik", "Fahrzeugtechnik"), ("Automotive", "Motors")),
    ("Chemie", 6, ("Chemie", "Kunststofftechnik"), ("Chemicals", "Materials")),
    ("Finanzdienstleistungen", 7, ("Finanzpartner", "Leasing"), ("Capital", "Finance")),
    ("Logistik", 9, ("Logistik", "Spedition", "Transporte"), ("Logistics", "Freight")),
    ("Gesundheitswesen", 8, ("Medizintechnik", "Pflegedienste"), ("Health", "Medical")),
)
_INDUSTRY_CUM = tuple(accumulate(i[1] for i in _INDUSTRIES))
_DE_FORMS = ("GmbH",) * 6 + ("GmbH & Co. KG",) * 3 + ("AG", "AG", "KG", "SE", "e.K.")
# (country, weight, top-level domain, legal forms, German-speaking)
_COUNTRIES = (
    ("DE", 62, "de", _DE_FORMS, True), ("AT", 9, "at", ("GmbH", "GmbH", "AG", "KG"), True),
    ("CH", 8, "ch", ("AG", "AG", "GmbH", "SA"), True), ("US", 5, "com", ("Inc.", "LLC"), False),
    ("GB", 4, "co.uk", ("Ltd", "Ltd", "plc"), False), ("FR", 3, "fr", ("SAS", "S.A."), False),
    ("NL", 3, "nl", ("B.V.",), False), ("PL", 2, "pl", ("sp. z o.o.",), False),
    ("IT", 2, "it", ("S.r.l.", "S.p.A."), False), ("ES", 2, "es", ("S.L.", "S.A."), False),
)
_COUNTRY_CUM = tuple(accumulate(c[1] for c in _COUNTRIES))
_FIRST = ("Anna", "Thomas", "Julia", "Michael", "Sabine", "Stefan", "Katharina", "Andreas", "Laura",
          "Jan", "Lena", "Markus", "Sophie", "Tobias", "Claudia", "Daniel", "Mia", "Felix",
          "Sarah", "Lukas", "Jürgen", "Jörg", "Björn", "Emma", "James", "Olivia", "Pierre",
          "Marta", "Luca", "Sofia", "Piotr", "Carmen")
_LAST_DE = ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
            "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf",
            "Schröder", "Neumann", "Zimmermann", "Krüger", "Hartmann", "Köhler", "Brandt")
_LAST_INTL = ("Smith", "Johnson", "Brown", "Taylor", "Martin", "Dubois", "de Vries", "Kowalski",
              "Rossi", "Garcia", "Novak", "Jansen")
_PLACES_DE = ("Rhein", "Nord", "Süd", "Elbe", "Isar", "Alpen", "Main", "Donau", "Spree",
              "Taunus", "Weser", "Bodensee")
_PREFIXES_EN = ("Northwind", "Bluewater", "Summit", "Redwood", "Brightline", "Ironbridge",
                "Silverlake", "Crescent", "Harbor", "Pinnacle", "Oakridge", "Keystone", "Atlas")
_FREEMAIL = ("gmail.com",) * 3 + ("web.de",) * 3 + ("gmx.de",) * 3 + ("outlook.com", "t-online.de")
_COMPETITOR = "wettbewerber.de"
_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


def _props(topic="", asset="", campaign="", bant=("", "", "", ""), amount="", reason=""):
    return (topic, asset, campaign, *bant, amount, reason)


_NO_PROPS = _props()
_TOPICS = tuple(_props(topic=t)
                for t in ("product", "pricing", "blog", "docs", "case-studies", "careers"))
_TOPIC_CUM = (34, 56, 76, 86, 96, 100)
_CAREERS_TOPIC_CUM = (15, 20, 35, 40, 45, 100)        # students and applicants look for jobs
_ASSETS = tuple(_props(asset=a) for a in (
    "whitepaper-industrie-4-0", "whitepaper-lead-scoring", "checklist-crm-migration",
    "checklist-dsgvo-marketing", "ebook-marketing-automation", "ebook-b2b-content-strategie"))
# (campaign, share of the year gone by at the send); besides, a newsletter every four weeks
_CAMPAIGNS = (("year-end-offer", 0.09), ("webinar-industry-4-0", 0.21), ("product-launch", 0.33),
              ("pricing-update", 0.46), ("webinar-lead-scoring", 0.58),
              ("customer-stories", 0.71), ("autumn-event-invite", 0.86))
# (month, day, days): LogiMAT, Hannover Messe, automatica, dmexco, it-sa, SPS
_TRADE_SHOWS = ((3, 10, 3), (4, 20, 5), (6, 24, 4), (9, 16, 2), (10, 7, 3), (11, 25, 3))
# cumulative weights of email_open, email_click, page_visit, content_request, webinar_signup
# for email-heavy, balanced and web-heavy leads
_MARKETING = (_OPEN, _CLICK, _PAGE, _CONTENT, _WEBINAR)
_MIXES = ((70, 78, 95, 98, 100), (45, 52, 90, 97, 100), (12, 14, 86, 96, 100))
_MIX_CUM = (35, 80, 100)
_WORK_HOURS = ((7,) * 2 + (8,) * 8 + (9,) * 12 + (10,) * 13 + (11,) * 12 + (12,) * 7 + (13,) * 9
               + (14,) * 12 + (15,) * 11 + (16,) * 9 + (17,) * 5)
_CLOCK = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in range(1440))   # "HH:MM" by minute
_TRUTHY = ("yes",) * 88 + ("Yes",) * 5 + ("TRUE",) * 4 + ("1",) * 3   # as messy CRM exports are
_FALSY = ("no",) * 90 + ("0",) * 5 + ("FALSE",) * 3 + ("No",) * 2
_FLAG_REASONS = ("no budget", "no authority", "no need", "timing")
_REJECT_REASONS = ("no budget", "no need", "not reachable", "too small", "timing")
_LOST_REASONS = ("no budget", "timing", "competitor chosen", "competitor chosen", "price",
                 "no decision")


@attrs.frozen
class SampleFiles:
    """The two files `write_sample` wrote and how many data rows each holds."""

    leads_path: Path
    events_path: Path
    leads: int
    events: int
    outcomes_path: Path | None = None


def write_sample(out_dir: Path, leads: int, seed: int, end: datetime = DEFAULT_END,
                 outcomes: bool = False,
                 progress: Callable[[str, int, int], None] | None = None,
                 slices: int | None = None) -> SampleFiles:
    """Write leads.csv and events.csv for `leads` leads over the 365 days before `end`, and
    with `outcomes` outcomes.csv: whether each lead converts in the months after `end`.

    The bytes depend only on (leads, seed, end). `progress(step, done, total)`, if given, is
    told how far each step ('leads': leads made, 'events': event rows written) has come.
    The events are sorted on disk in `slices` slices of time (by default one per 2,500
    leads; any of more than 200,000 events is split), in a temporary folder in `out_dir`
    that holds 17 bytes an event: a million leads take some 250 MiB of memory and 350 MB there.
    Example: `write_sample(Path("sample"), 300, 1)`.
    """
    tell = progress or (lambda step, done, total: None)
    if isinstance(leads, bool) or not isinstance(leads, int) or leads < 1:
        raise ValueError(f"leads must be a whole number of at least 1, got {leads!r}")
    if end.utcoffset() is None:
        raise ValueError(f"end must carry a time zone, got {end.isoformat()}")
    slices = min(_MAX_SLICES, 1 + leads // 2500) if slices is None else slices
    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        raise ValueError(f"slices must be a whole number of at least 1, got {slices!r}")
    rng = random.Random(seed)
    cal = _Calendar.ending(end)
    anonymous = max(3, leads // 8)
    width = max(6, len(str(leads + anonymous)))
    lead_ids = [f"L{num + 1:0{width}d}" for num in range(leads + anonymous)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    leads_path, events_path = out_dir / "leads.csv", out_dir / "events.csv"
    people = _write_leads(rng, leads_path, lead_ids[:leads])
    with (tempfile.TemporaryDirectory(prefix=".sample-", dir=out_dir) as folder,
          Spill(Path(folder), cal.start_ms, cal.end_ms, slices) as events):
        engagement = _spill_events(rng, cal, people, events, tell)
        events.add(_anonymous(rng, cal, leads, anonymous))
        plan = _file_plan(rng, len(events))
        repeats = sum(len(rows) for rows in plan[1].values())
        rows = _counted(_event_rows(cal, events, lead_ids, plan), len(events) + repeats, tell)
        _write_csv(events_path, EVENT_COLUMNS, rows)
    outcomes_path = None
    if outcomes:
        outcomes_path = out_dir / "outcomes.csv"
        _write_csv(outcomes_path, ("lead_id", "converted"),
                   _outcome_rows(seed, people, engagement, lead_ids))
    return SampleFiles(leads_path, events_path, leads, len(events) + repeats, outcomes_path)


_MAX_SLICES = 1000       # each gathers up to 32 KiB before it is written
_UNKNOWN_OUTCOME = 0.03  # leads the outcome export says nothing about


def _write_leads(rng: random.Random, path: Path, lead_ids: list[str]) -> _Prospects:
    """Write leads.csv as the leads are made; return what their events will be drawn from."""
    people = _Prospects()

    def rows() -> Iterator[tuple]:
        for lead_id in lead_ids:
            cells, lead = _make_lead(rng)
            people.append(lead)
            yield lead_id, *cells

    _write_csv(path, LEAD_COLUMNS, rows())
    return people


def _spill_events(rng: random.Random, cal: _Calendar, people: _Prospects, events: Spill,
                  tell: Callable[[str, int, int], None]) -> array:
    """Make every lead's events into `events`, a thousand leads at a time; return the leads'
    engagement."""
    engagement = array("d")
    batch: list[tuple] = []
    for num in range(len(people)):
        engagement.append(_lead_events(rng, cal, num, people[num], batch))
        if num % 1000 == 999:
            events.add(batch)
            batch.clear()
            tell("leads", num + 1, len(people))
    events.add(batch)
    tell("leads", len(people), len(people))
    return engagement


def _outcome_rows(seed: int, people: _Prospects, engagement: array, lead_ids: list[str]):
    """(lead_id, 1, 0 or empty): whether a lead buys after the sample's year, drawn from the
    same hidden sales fit and engagement that drive its sales storyline, with its own random
    numbers so that leads.csv and events.csv stay what they are without outcomes."""
    rng = random.Random(f"outcomes:{seed}")
    for num, engaged in enumerate(engagement):
        if rng.random() < _UNKNOWN_OUTCOME:
            yield lead_ids[num], ""
            continue
        lead = people[num]
        chance = 0.003 if lead.rejection else 0.01 + 0.5 * lead.fit * engaged ** 1.5
        yield lead_ids[num], "1" if rng.random() < chance else "0"


def _counted(rows: Iterator[tuple], total: int, tell: Callable[[str, int, int], None]
             ) -> Iterator[tuple]:
    """The rows, telling `tell` every 10,000 of them and at the end."""
    done = 0
    while chunk := list(itertools.islice(rows, 10_000)):
        yield from chunk
        done += len(chunk)
        tell("events", done, total)


def _ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _summer_time(year: int) -> tuple[int, int]:
    """German summer time (+02:00): from the last Sunday of March to that of October, 01:00 UTC."""
    month_ends = (datetime(year, month, 31, 1, tzinfo=timezone.utc) for month in (3, 10))
    begin, finish = (_ms(d - timedelta(days=(d.weekday() + 1) % 7)) for d in month_ends)
    return begin, finish


def _offset(summers: tuple[tuple[int, int], ...], ts: int) -> int:
    return 7_200_000 if any(begin <= ts < end for begin, end in summers) else 3_600_000


def _campaign_sends(days: list[datetime]) -> tuple[tuple[int, tuple], ...]:
    """(day, props) of every campaign send, moved to a Tuesday to Thursday, in time order."""
    planned = [(6 + 28 * k, "newsletter") for k in range(13)]
    planned += [(int(share * 364), name) for name, share in _CAMPAIGNS]
    sends = []
    for day, name in planned:
        weekday = days[day].weekday()
        day += 0 if 1 <= weekday <= 3 else (8 - weekday) % 7
        sends.append((day, _props(campaign=name)))
    return tuple(sorted(sends))


def _trade_shows(start: datetime, end: datetime, day0: datetime) -> tuple[tuple[int, int], ...]:
    """(first day, days) of every trade show that lies wholly inside the window."""
    shows = []
    for year in range(start.year, end.year + 1):
        for month, day, length in _TRADE_SHOWS:
            opens = datetime(year, month, day, tzinfo=timezone.utc)
            if start <= opens and opens + timedelta(days=length) <= end:
                shows.append(((opens - day0).days, length))
    return tuple(sorted(shows))


@attrs.frozen
class _Calendar:
    """Day tables for the sample year; day 0 begins at UTC midnight before the window starts."""

    start_ms: int
    end_ms: int
    day0_ms: int
    last_day: int                            # the day of the last millisecond before end
    weekdays: tuple[int, ...]
    offsets: tuple[int, ...]                 # German UTC offset in ms at noon of each day
    dates: tuple[str, ...]
    summers: tuple[tuple[int, int], ...]
    sends: tuple[tuple[int, tuple], ...]     # (day, campaign props) of every email send, by day
    webinars: tuple[tuple[int, tuple], ...]  # the sends that invite to a webinar
    shows: tuple[tuple[int, int], ...]       # (first day, days) of trade shows in the window

    @classmethod
    def ending(cls, end: datetime) -> _Calendar:
        """The calendar of the 365 days before `end`."""
        end = end.astimezone(timezone.utc)
        start = end - timedelta(days=365)
        day0 = datetime(start.year, start.month, start.day, tzinfo=timezone.utc)
        last_day = (_ms(end) - 1 - _ms(day0)) // _DAY_MS
        days = [day0 + timedelta(days=k) for k in range(last_day + _STORY_DAYS)]
        summers = tuple(_summer_time(y) for y in range(start.year - 1, end.year + 2))
        sends = _campaign_sends(days)
        return cls(_ms(start), _ms(end), _ms(day0), last_day, tuple(d.weekday() for d in days),
                   tuple(_offset(summers, _ms(d) + _DAY_MS // 2) for d in days),
                   tuple(d.strftime("%Y-%m-%d") for d in days), summers, sends,
                   tuple(s for s in sends if s[1][2].startswith("webinar")),
                   _trade_shows(start, end, day0))

    def moment(self, rng: random.Random, day: int, shift: bool = True) -> int:
        """A time on `day`, mostly in German working hours; with `shift`, mostly not on weekends."""
        weekday = self.weekdays[day]
        if shift and weekday >= 5 and rng.random() < 0.85:
            day += 7 - weekday if day < 2 or rng.random() < 0.5 else 4 - weekday
        if rng.random() < 0.06:
            second = int(rng.random() * 86_400)
        else:
            second = rng.choice(_WORK_HOURS) * 3600 + int(rng.random() * 3600)
        millis = 1 + int(rng.random() * 999) if rng.random() < _FRACTION else 0
        return self.day0_ms + day * _DAY_MS + second * 1000 + millis - self.offsets[day]

    def workday(self, day: int) -> int:
        """`day`, or the Monday after it if it falls on a weekend."""
        weekday = self.weekdays[min(day, len(self.weekdays) - 1)]
        return day + 7 - weekday if weekday >= 5 else day

    def fold(self, ts: int) -> int:
        """Wrap a time that spilled over either edge of the window back into it."""
        return self.start_ms + (ts - self.start_ms) % (self.end_ms - self.start_ms)

    def text(self, ts: int, local: bool) -> str:
        """`ts` as ISO 8601: in UTC with a Z, or as German local time with its offset."""
        offset = _offset(self.summers, ts) if local else 0
        day, millis = divmod(ts + offset - self.day0_ms, _DAY_MS)
        minute, millis = divmod(millis, 60_000)
        seconds, millis = divmod(millis, 1000)
        fraction = f".{millis:03d}" if millis else ""
        zone = ("+02:00" if offset == 7_200_000 else "+01:00") if local else "Z"
        return f"{self.dates[day]}T{_CLOCK[minute]}:{seconds:02d}{fraction}{zone}"


@attrs.frozen(slots=True)
class _Lead:
    """How good a sales prospect a lead is: what its events and outcome are drawn from."""

    size: int                # employees, 200 if unknown: scales deal amounts
    young: bool              # students, applicants and interns: careers pages, freemail
    fit: float               # 0..1, from title and company size
    rejection: str           # why sales turns the lead away at once ("student", ...), or ""


_REJECTIONS = ("", "competitor", *_APPLICANTS.values())


class _Prospects:
    """Every lead's `_Lead` in flat arrays, 14 bytes a lead rather than about a hundred as
    objects: the events of all leads are made only after all their rows."""

    def __init__(self) -> None:
        self._size, self._fit = array("i"), array("d")
        self._young, self._rejection = bytearray(), bytearray()

    def append(self, lead: _Lead) -> None:
        self._size.append(lead.size)
        self._fit.append(lead.fit)
        self._young.append(lead.young)
        self._rejection.append(_REJECTIONS.index(lead.rejection))

    def __len__(self) -> int:
        return len(self._size)

    def __getitem__(self, num: int) -> _Lead:
        return _Lead(self._size[num], bool(self._young[num]), self._fit[num],
                     _REJECTIONS[self._rejection[num]])


def _slug(text: str, sep: str = "-") -> str:
    plain = text.lower().translate(_TRANSLIT)
    return sep.join("".join(c if c.isascii() and c.isalnum() else " " for c in plain).split())


def _make_lead(rng: random.Random) -> tuple[tuple[str, ...], _Lead]:
    """A lead's row (company, title, department, employees, industry, country, email)
    and its prospects."""
    country, _, tld, forms, german = rng.choices(_COUNTRIES, cum_weights=_COUNTRY_CUM)[0]
    industry = rng.choices(_INDUSTRIES, cum_weights=_INDUSTRY_CUM)[0]
    title, department, _, _, fit = rng.choices(_TITLES, cum_weights=_TITLE_CUM[german])[0]
    if department is None:
        department = rng.choice(_DEPARTMENTS)
    if rng.random() < 0.07:
        department = ""
    company, domain = _company(rng, industry, tld, forms, german)
    employees = _employees(rng)
    email, competitor = _email(rng, domain, title, german)
    size_fit = (0.8 if employees is None else 0.6 if employees < 20
                else 0.8 if employees > 20_000 else 1.0)
    industry_name = industry[0] if rng.random() >= 0.06 else ""
    cells = (company, title, department, "" if employees is None else str(employees),
             industry_name, country, email)
    rejection = "competitor" if competitor else _APPLICANTS.get(title, "")
    return cells, _Lead(employees or 200, title in _YOUNG, fit * size_fit, rejection)


def _company(rng: random.Random, industry: tuple, tld: str, forms: tuple, german: bool):
    """A company name such as "Müller Anlagenbau GmbH" and its web domain."""
    if german:
        prefix = rng.choice(_LAST_DE if rng.random() < 0.6 else _PLACES_DE)
        core = rng.choice(industry[2])
    else:
        prefix, core = rng.choice(_PREFIXES_EN), rng.choice(industry[3])
    with_core = rng.random() < 0.8
    name = f"{prefix} {core} {rng.choice(forms)}" if with_core else f"{prefix} {rng.choice(forms)}"
    host = _slug(prefix) + (f"-{_slug(core)}" if with_core and rng.random() < 0.5 else "")
    return name, f"{host}.{'com' if rng.random() < 0.2 else tld}"


def _employees(rng: random.Random) -> int | None:
    if rng.random() < 0.03:
        return None
    size = round(5 * 10_000 ** (rng.random() ** 2))     # log scale, skewed: many small firms
    if size >= 1000 and rng.random() < 0.5:
        size = round(size, -2)
    return min(50_000, max(5, size))


def _email(rng: random.Random, domain: str, title: str, german: bool) -> tuple[str, bool]:
    """An ASCII address: mostly at the company, some freemail, ~2% at the competitor."""
    first = _slug(rng.choice(_FIRST), "")
    last = _slug(rng.choice(_LAST_DE if german or rng.random() < 0.3 else _LAST_INTL), "")
    roll = rng.random()
    if roll < 0.02:
        return f"{first}.{last}@{_COMPETITOR}", True
    if roll < (0.57 if title in _YOUNG else 0.12):
        suffix = str(rng.randint(1, 99)) if rng.random() < 0.5 else ""
        return f"{first}.{last}{suffix}@{rng.choice(_FREEMAIL)}", False
    pattern = rng.choices(range(5), cum_weights=(55, 75, 85, 93, 100))[0]
    local = (f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}", last, first)[pattern]
    return f"{local}@{domain}", False


def _lead_events(rng: random.Random, cal: _Calendar, num: int, lead: _Lead, out: list) -> float:
    """Append one lead's marketing history and, if it gets that far, its sales storyline;
    return its engagement (0 to 1)."""
    if rng.random() < _SILENT_SHARE:
        return 0.0
    count = min(_MAX_EVENTS, 1 + int(rng.lognormvariate(_MU, _SIGMA)))
    first = 0 if rng.random() < 0.45 else rng.randrange(cal.last_day)
    marketing = _marketing(rng, cal, num, lead, count, first)
    out.extend(marketing)
    engagement = _engagement(marketing)
    out.extend(_storyline(rng, cal, num, lead, marketing, engagement))
    return engagement


def _engagement(marketing: list[tuple]) -> float:
    """0 to 1: many events, and downloads, webinars and trade shows most."""
    engaged = sum(1 for e in marketing if e[2] in (_CONTENT, _WEBINAR, _SHOW))
    return min(1.0, len(marketing) / 25 + engaged / 4)


def _marketing(rng: random.Random, cal: _Calendar, num: int, lead: _Lead, count: int,
               first: int) -> list[tuple]:
    """Page visits and downloads in bursts; email and webinar events follow campaign sends."""
    mix = rng.choices(_MIXES, cum_weights=_MIX_CUM)[0]
    topics = _CAREERS_TOPIC_CUM if lead.young else _TOPIC_CUM
    bursts = [rng.randint(first, cal.last_day) for _ in range(1 + int(math.sqrt(count) / 1.5))]
    events = []
    for kind in rng.choices(_MARKETING, cum_weights=mix, k=count):
        if kind in (_OPEN, _CLICK, _WEBINAR):
            ts, props = _campaign_moment(rng, cal, first, kind == _WEBINAR)
        else:
            day = rng.choice(bursts) + int(rng.expovariate(0.5))
            if day > cal.last_day or rng.random() < 0.15:
                day = rng.randint(first, cal.last_day)
            ts = cal.moment(rng, day)
            props = (rng.choices(_TOPICS, cum_weights=topics)[0] if kind == _PAGE
                     else rng.choice(_ASSETS))
        events.append((cal.fold(ts), num, kind, props))
    if cal.shows and rng.random() < 0.12:
        day, length = rng.choice(cal.shows)
        for _ in range(1 + (rng.random() < 0.3)):
            ts = cal.moment(rng, day + rng.randrange(length), shift=False)
            events.append((cal.fold(ts), num, _SHOW, _NO_PROPS))
    if rng.random() < 0.04:
        ts = cal.moment(rng, rng.randint(first, cal.last_day))
        events.append((cal.fold(ts), num, _UNSUB, _NO_PROPS))
    return events


def _campaign_moment(rng: random.Random, cal: _Calendar, first: int, webinar: bool):
    """When a lead reacted to a send on or after day `first`: often that day, else days later."""
    sends = cal.webinars if webinar else cal.sends
    i = bisect_left(sends, first, key=itemgetter(0))
    day, props = sends[rng.randrange(i, len(sends))] if i < len(sends) else sends[-1]
    lag = 0 if rng.random() < 0.55 else min(30, 1 + int(rng.expovariate(1 / 3)))
    sent = cal.day0_ms + day * _DAY_MS + 9 * 3_600_000 - cal.offsets[day]
    ts = cal.moment(rng, day + lag, shift=lag > 0)
    return (ts if ts > sent else sent + rng.randrange(60, 7200) * 1000), props


def _storyline(rng: random.Random, cal: _Calendar, num: int, lead: _Lead,
               marketing: list[tuple], engagement: float) -> list[tuple]:
    """Sales steps after the lead's marketing began, in time order, cut off at the window's end."""
    steps = _sales_steps(rng, lead, engagement)
    if not steps:
        return []
    times = sorted(e[0] for e in marketing)
    ts = times[rng.randrange((len(times) + 1) // 2)]
    events = []
    for kind, props, gap in steps:
        day = cal.workday((ts - cal.day0_ms) // _DAY_MS + gap)
        if day >= len(cal.weekdays):
            break
        later = cal.moment(rng, day, shift=False)
        ts = later if later > ts else ts + rng.randrange(5, 240) * 60_000
        if ts >= cal.end_ms:
            break
        events.append((ts, num, kind, props))
    return events


def _sales_steps(rng: random.Random, lead: _Lead, engagement: float) -> list[tuple]:
    """What sales will do with the lead: (event type, props, days after the previous step)."""
    if lead.rejection:
        if rng.random() >= 0.3 * engagement:
            return []
        return [(_REJECTED, _props(reason=lead.rejection), 1 + int(rng.expovariate(0.5)))]
    chance, roll = 0.9 * lead.fit * engagement, rng.random()
    if roll >= chance + 0.05 * engagement:
        return []
    if roll >= chance:
        reason = rng.choice(_REJECT_REASONS)
        return [(_REJECTED, _props(reason=reason), 1 + int(rng.expovariate(0.3)))]
    flags = [rng.random() < 0.6 + 0.38 * lead.fit for _ in range(4)]
    bant = tuple(rng.choice(_TRUTHY if flag else _FALSY) for flag in flags)
    steps = [(_QUAL, _props(bant=bant), 1 + int(rng.expovariate(0.3)))]
    if all(flags):
        return steps + _deal_steps(rng, lead)
    if rng.random() < 0.6:
        reason = _FLAG_REASONS[flags.index(False)]
        steps += [(_CONTACTED, _NO_PROPS, 1 + int(rng.expovariate(0.5))),
                  (_REJECTED, _props(reason=reason), 1 + int(rng.expovariate(0.2)))]
    return steps


def _deal_steps(rng: random.Random, lead: _Lead) -> list[tuple]:
    """After a clean qualification: contact within days, then perhaps an opportunity and a deal."""
    steps = [(_CONTACTED, _NO_PROPS, 1 + int(rng.expovariate(0.7)))]
    roll = rng.random()
    if roll < 0.12:
        return steps + [(_REJECTED, _props(reason="not reachable"), 7 + int(rng.expovariate(0.2)))]
    if roll >= 0.75:
        return steps
    scale = (lead.size / 200) ** 0.3
    amount = max(500, round(rng.lognormvariate(math.log(12_000), 0.7) * scale, -2))
    steps.append((_OPP, _props(amount=str(int(amount))), 5 + int(rng.expovariate(0.1))))
    close = 14 + int(rng.expovariate(1 / 30))
    if rng.random() < 0.5:
        final = max(500, round(amount * rng.uniform(0.8, 1.0), -2))
        return steps + [(_WON, _props(amount=str(int(final))), close)]
    return steps + [(_LOST, _props(reason=rng.choice(_LOST_REASONS)), close)]


def _anonymous(rng: random.Random, cal: _Calendar, first_num: int, ids: int) -> list[tuple]:
    """Events of people with no lead row: mostly page visits, some email opens."""
    events = []
    for num in range(first_num, first_num + ids):
        for _ in range(1 + int(rng.expovariate(1.0))):
            if rng.random() < 0.7:
                ts = cal.moment(rng, rng.randint(0, cal.last_day))
                kind, props = _PAGE, rng.choices(_TOPICS, cum_weights=_TOPIC_CUM)[0]
            else:
                (ts, props), kind = _campaign_moment(rng, cal, 0, False), _OPEN
            events.append((cal.fold(ts), num, kind, props))
    return events


def _file_plan(rng: random.Random, count: int) -> tuple[dict, dict, bytearray]:
    """Where rows leave timestamp order: swapped pairs, repeats placed later, local-time rows."""
    swapped: dict[int, int] = {}
    repeats: dict[int, list[int]] = {}
    local = bytearray(count)
    for i in range(count):
        local[i] = rng.random() < _LOCAL_TIME
        roll = rng.random()
        if roll < _MOVED / 2 + _REPEATED:
            later = min(count - 1, i + 2 + int(rng.lognormvariate(2.5, 1.5)))
            if roll >= _MOVED / 2:
                repeats.setdefault(later, []).append(i)   # row i stays at or before position i
            elif i not in swapped and later not in swapped:
                swapped[i], swapped[later] = later, i
    return swapped, repeats, local


def _event_rows(cal: _Calendar, events: Spill, lead_ids: list[str], plan: tuple):
    """Yield event rows in file order; an event's id is its rank by time."""
    swapped, repeats, local = plan
    event_id = f"E{{:0{max(7, len(str(len(events))))}d}}".format

    def row(i: int, event: tuple) -> tuple:
        ts, num, kind, props = event
        return (event_id(i + 1), lead_ids[num], EVENT_TYPES[kind], cal.text(ts, local[i]), *props)

    for position, event in enumerate(events):
        other = swapped.get(position)
        yield row(position, event) if other is None else row(other, events[other])
        if position in repeats:
            yield from (row(i, events[i]) for i in repeats[position])


def _write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
