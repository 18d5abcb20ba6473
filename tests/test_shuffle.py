"""Order does not matter: the same events, in any order and split into any batches, give the
same results, through `evaluate` and through a store and `run_rules` alike (rulesets/b2b.rules)."""

import csv
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadrules import dsl
from leadrules.engine.events import Event, format_timestamp, parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.run import detail_rows, result_row, run_rules
from leadrules.engine.store.ingest import ingest as ingest_file
from leadrules.engine.store.schema import DETAIL_COLUMNS
from leadrules.engine.store import runtables
from leadrules.engine.store.store import Store

RULES = compile_ruleset(dsl.load(Path(__file__).resolve().parent.parent / "rulesets" / "b2b.rules"))
DAY = 86_400_000_000
HOUR = 3_600_000_000
T0 = parse_timestamp("2026-01-01")

# The declared types, the ones that move leads along more often, and one the rules do not know.
TYPES = sorted(RULES.events)
WEIGHTED = TYPES + ["page_visit", "page_visit", "content_request", "content_request",
                    "webinar_signup", "webinar_signup", "trade_show_visit", "email_click",
                    "email_click", "sales_qualification", "sales_qualification",
                    "sales_contacted", "sales_contacted", "sales_rejected",
                    "opportunity_created", "email_click", "email_click", "fax_received"]

PROFILE_VALUES = {
    "title": ["CEO", "CMO", "Marketing-Manager", "Head of Department", "Werkstudent", "", None],
    "employees": ["12000", "6000", "50", "many", None],
    "industry": ["IT", "Anlagenbau", "Handel", None],
    "country": ["DE", "CH", "FR", None],
    "email": ["a@firma.de", "a@wettbewerber.de", None, None, None, None, None, None],
}
FLAG = st.sampled_from(["yes", "yes", "yes", "true", "1", "YES", "no", "0", "", "maybe", None])
# After an earlier event: at the same instant, or on either side of an SLA deadline (2 days) or
# of the end of a quiet spell (30 days), or a little later.
NEAR = [0, 0, 1, 12 * HOUR, 2 * DAY, 2 * DAY + 1, 30 * DAY, 30 * DAY + 1]


@st.composite
def profiles(draw):
    profile = {name: draw(st.sampled_from(values)) for name, values in PROFILE_VALUES.items()}
    return {name: value for name, value in profile.items() if value is not None}


@st.composite
def props_for(draw, kind):
    if kind == "page_visit":
        props = {"topic": draw(st.sampled_from(["product", "pricing", "careers", None]))}
    elif kind == "sales_qualification":
        if draw(st.booleans()):
            return {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "yes"}
        props = {flag: draw(FLAG) for flag in ("budget", "authority", "need", "timeline")}
    else:
        return {}
    return {name: value for name, value in props.items() if value is not None}


@st.composite
def scenarios(draw):
    """Leads with profiles; their events, with equal timestamps and repeated ids; an as-of time."""
    leads = [f"L{i}" for i in range(draw(st.integers(1, 3)))]
    profile = {lead: draw(profiles()) for lead in leads}
    events: list[Event] = []
    for n in range(draw(st.integers(0, 40))):
        lead = draw(st.sampled_from(leads))
        kind = draw(st.sampled_from(WEIGHTED))
        if events and draw(st.booleans()):
            ts = draw(st.sampled_from(events)).ts + draw(st.sampled_from(NEAR))
        else:
            ts = T0 + draw(st.integers(0, 120)) * DAY + draw(st.sampled_from([0, 12 * HOUR]))
        events.append(Event(f"e{n:03d}", lead, kind, ts, draw(props_for(kind))))
    repeats = draw(st.lists(st.sampled_from(events), max_size=4)) if events else []
    anchors = [e.ts for e in events] or [T0]
    # as-of often sits on an event, a quiet-spell end (30/60 days), an SLA deadline (2 days),
    # or one microsecond after one of those
    as_of = draw(st.one_of(
        st.integers(0, 150).map(lambda n: T0 + n * DAY),
        st.tuples(st.sampled_from(anchors),
                  st.sampled_from([0, 2 * DAY, 30 * DAY, 60 * DAY]),
                  st.sampled_from([0, 1])).map(sum)))
    return profile, events + repeats, as_of


def expected(profile, events, as_of, trace=False):
    return {lead: evaluate(RULES, lead, p, [e for e in events if e.lead_id == lead], as_of,
                           trace=trace)
            for lead, p in profile.items()}


FAST = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_evaluate_gives_the_same_result_for_any_order(scenario, rnd):
    profile, events, as_of = scenario
    base = expected(profile, events, as_of, trace=True)
    for _ in range(3):
        shuffled = list(events)
        rnd.shuffle(shuffled)
        assert expected(profile, shuffled, as_of, trace=True) == base


def _import_csv(store, events, rnd):
    """Events through `ingest` from a CSV file: the fast path, the staging table and its
    merges, in batches of 1 to 5 rows."""
    names = sorted({name for e in events for name in e.props})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["event_id", "lead_id", "type", "ts", *names])
            for e in events:
                writer.writerow([e.event_id, e.lead_id, e.type, format_timestamp(e.ts),
                                 *(e.props.get(name, "") for name in names)])
        ingest_file(store, events=path, batch_rows=rnd.randint(1, 5))


def ingest(store, profile, events, rnd):
    """Leads and events into a store: events in a random order and random batches, the leads
    before, between or after them; a batch is imported from a CSV file when a file can say
    it (a file has no empty property values)."""
    events = list(events)
    rnd.shuffle(events)
    cuts = sorted(rnd.sample(range(1, len(events)), min(len(events) - 1, rnd.randint(0, 4)))
                  if len(events) > 1 else [])
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)])]
    leads_at = rnd.randint(0, len(batches))
    for i, batch in enumerate(batches):
        if i == leads_at:
            store.upsert_leads(list(profile.items()))
        if rnd.random() < 0.5 and all(v for e in batch for v in e.props.values()):
            _import_csv(store, batch, rnd)
        else:
            store.add_events(batch, ingested_at=0)
    if leads_at >= len(batches):
        store.upsert_leads(list(profile.items()))


def stored(store):
    """The stored results and details, without what the store adds to what the replay gives
    (`entries` checks it): the entries into the first stage (move 0), and the time of a
    disqualification by the profile."""
    results = store.current_results(RULES.hash)
    details = {table: [tuple(None if c == "ts" and row["cause"] == "profile" else row[c]
                             for c in columns)
                       for row in store.details(table, RULES.hash)
                       if table != "stage_moves" or row["seq"] > 0]
               for table, columns in DETAIL_COLUMNS.items()}
    return results, details


def entries(store, profile, events, as_of):
    """Each lead's stored entry into its first stage is dated at its first event by as-of."""
    want = []
    for lead in sorted(set(profile) | {e.lead_id for e in events}):
        first = min(((e.ts, e.event_id) for e in events if e.lead_id == lead and e.ts <= as_of),
                    default=(None, "profile"))
        want.append((lead, first[0], None, RULES.first_stage, first[1]))
    assert [(m["lead_id"], m["ts"], m["from_stage"], m["to_stage"], m["cause"])
            for m in store.details("stage_moves", RULES.hash) if m["seq"] == 0] == want
    dated = {lead: ts for lead, ts, *_ in want}
    for m in store.details("stage_moves", RULES.hash):
        if m["seq"] > 0 and m["cause"] == "profile":
            assert m["ts"] == dated[m["lead_id"]]


def funnel_counted(store):
    """The leads per stage that each run stores, from the previous run's and what it changed,
    are those of the stored results."""
    counted = {}
    for row in store.current_results(RULES.hash).values():
        counted[row[6]] = counted.get(row[6], 0) + 1
    assert dict(store.funnel(RULES.hash)) == counted


def evaluated(results):
    rows = {lead: result_row(r) for lead, r in results.items()}
    details = {table: [] for table in DETAIL_COLUMNS}
    for lead in sorted(results):
        for table, row in detail_rows(results[lead]):
            details[table].append(row)
    return rows, details


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_a_store_run_gives_the_same_results_whatever_the_ingest_order(scenario, rnd):
    profile, events, as_of = scenario
    want = evaluated(expected(profile, events, as_of))
    found = []
    for _ in range(2):
        with Store.memory() as store:
            ingest(store, profile, events, rnd)
            run_rules(store, RULES, as_of)
            found.append(stored(store))
            entries(store, profile, events, as_of)
    assert found[0] == found[1]
    assert found[0][0] == want[0]
    assert found[0][1] == want[1]


@FAST
@given(scenarios(), st.randoms(use_true_random=False), st.integers(0, 60))
def test_an_incremental_run_after_more_events_equals_a_full_run(scenario, rnd, earlier_days):
    """Half the events, a run at an earlier as-of, the rest, a run at as-of: the results are
    those of evaluating everything at as-of (the second run replays only changed or due leads)."""
    profile, events, as_of = scenario
    events = list(events)
    rnd.shuffle(events)
    half = len(events) // 2
    with Store.memory() as store:
        store.upsert_leads(list(profile.items()))
        store.add_events(events[:half], ingested_at=0)
        run_rules(store, RULES, max(T0, as_of - earlier_days * DAY))
        store.add_events(events[half:], ingested_at=0)
        report = run_rules(store, RULES, as_of)
        assert report.mode == "incremental"
        assert stored(store) == evaluated(expected(profile, events, as_of))
        entries(store, profile, events, as_of)
        funnel_counted(store)


@FAST
@given(scenarios(), st.randoms(use_true_random=False), st.sampled_from([0.0, 0.5, 2.0]))
def test_incremental_runs_equal_a_full_run_however_often_they_fold(scenario, rnd, share):
    """Three imports, each followed by a run: the incremental runs write the leads they replay
    into the recent tables, which fold into the base ones once they hold `share` of the leads
    (0: after every run, 2: never). Whatever the layout, the results are a full run's."""
    profile, events, as_of = scenario
    events = list(events)
    rnd.shuffle(events)
    third = len(events) // 3
    before, runtables.FOLD_SHARE = runtables.FOLD_SHARE, share
    try:
        with Store.memory() as store:
            store.upsert_leads(list(profile.items()))
            for k, part in enumerate((events[:third], events[third:2 * third],
                                      events[2 * third:])):
                store.add_events(part, ingested_at=0)
                run_rules(store, RULES, as_of - (2 - k) * DAY)
            assert stored(store) == evaluated(expected(profile, events, as_of))
            entries(store, profile, events, as_of)
            funnel_counted(store)
            (recent,), = store.read("SELECT count(*) FROM results_recent")
            if share == 0.0:
                assert recent == 0
    finally:
        runtables.FOLD_SHARE = before
