"""Report figures that must hold whatever the history: balances per stage and period, a funnel
that never grows down the stages; and the flow figures computed again, independently, with
plain SQL over the stored stage history of a generated sample."""

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadrules import dsl
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.report.scope import make_scope
from leadrules.engine.report.views import build
from leadrules.engine.sample.generator import write_sample
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.schema import RESULT_COLUMNS
from leadrules.engine.store.store import Store
from leadrules.engine import bundled

DAY = 86_400_000_000
T0 = parse_timestamp("2026-01-01")
STAGES = ("Name", "Lead", "Sales", "Customer")
TEXT = ("events visit\nstages Name, Lead, Sales, Customer\nstage Name -> Lead on visit\n"
        "stage Lead -> Sales on visit\nstage Sales -> Customer on visit\n"
        "stage Sales -> Lead on visit\n")
RULESET = dsl.analyze(TEXT, "props.rules").raise_for_errors()
RULES = compile_ruleset(RULESET)


@st.composite
def histories(draw):
    """Leads, each with a first event (or none) and a walk of stage moves forward, backward or
    out of the funnel, at times that never go back."""
    leads = []
    for n in range(draw(st.integers(1, 8))):
        if draw(st.booleans()) and n:
            leads.append((f"L{n}", None, []))  # no event: an undated entry
            continue
        t = first = T0 + draw(st.integers(0, 80)) * DAY // 2
        stage, moves = "Name", []
        for _ in range(draw(st.integers(0, 5))):
            t += draw(st.integers(0, 40)) * DAY // 4
            target = draw(st.sampled_from([*STAGES, "Disqualified"]))
            if target == stage:
                continue
            moves.append((t, stage, target))
            stage = target
            if target == "Disqualified":
                break
        leads.append((f"L{n}", first, moves))
    return leads


def store_of(leads, as_of):
    """A store whose one run of RULES has exactly these stage histories."""
    store = Store.memory()
    store.add_events([Event(f"e{lead}", lead, "visit", first, {})
                      for lead, first, _ in leads if first is not None], ingested_at=0)
    store.upsert_leads([(lead, {}) for lead, _, _ in leads])
    results, moves = [], []
    for lead, _, walk in leads:
        stage = walk[-1][2] if walk else "Name"
        row = dict.fromkeys(RESULT_COLUMNS) | dict(lead_id=lead, stage=stage, events=0)
        results.append(tuple(row[c] for c in RESULT_COLUMNS))
        moves += [(lead, i, ts, a, b, "line 1: x", "e") for i, (ts, a, b) in enumerate(walk, 1)]
    store.save_run(dict(ruleset_name="p", ruleset_path="props.rules", ruleset_hash=RULES.hash,
                        as_of=as_of, data_version=0, mode="full"),
                   results, {"stage_moves": moves}, None)
    return store


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.integers(0, 60), st.integers(0, 60),
       st.sampled_from([None, "week", "month"]))
def test_balances_hold_and_the_funnel_never_grows_down(leads, a, b, period):
    as_of = T0 + 70 * DAY
    start, end = sorted((a, b))
    with store_of(leads, as_of) as store:
        scope = make_scope(store, RULES, RULESET, start=dt.date(2026, 1, 1) + dt.timedelta(start),
                           end=dt.date(2026, 1, 1) + dt.timedelta(end), period=period)
        figures = {f.view: f.rows for f in build(scope, "all")}
    flows = figures["flow"]
    for r in flows:
        assert r["start"] + r["in"] - r["out"] == r["end"]
        assert r["out"] == r["out_forward"] + r["out_backward"] + r["out_funnel"]
    periods = list(dict.fromkeys(r["period"] for r in flows))
    for before, after in zip(periods, periods[1:]):  # one period ends where the next starts
        ends = {r["stage"]: r["end"] for r in flows if r["period"] == before}
        assert ends == {r["stage"]: r["start"] for r in flows if r["period"] == after}
    funnel = [r for r in figures["funnel"] if r["stage"] != "Disqualified"]
    for upper, lower in zip(funnel, funnel[1:]):
        assert upper["reached"] >= lower["reached"]
        assert upper["in_order"] >= lower["in_order"]
        assert lower["reached"] >= lower["in_order"]


# --- the flow figures again, with plain SQL ---------------------------------------------------

INDEPENDENT = """
WITH moves AS (SELECT lead_id, seq, ts, to_stage FROM stage_moves WHERE ruleset = :key),
stays AS (
    SELECT m.lead_id, m.to_stage AS stage, m.ts AS entered,
        (SELECT n.ts FROM moves n WHERE n.lead_id = m.lead_id AND n.seq > m.seq
         ORDER BY n.seq LIMIT 1) AS left_at
    FROM moves m WHERE m.ts IS NOT NULL)
SELECT stage,
    (SELECT count(*) FROM stays s WHERE s.stage = x.stage AND s.entered < :a
        AND (s.left_at IS NULL OR s.left_at >= :a)),
    (SELECT count(*) FROM stays s WHERE s.stage = x.stage AND s.entered >= :a
        AND s.entered < :b),
    (SELECT count(*) FROM stays s WHERE s.stage = x.stage AND s.left_at >= :a
        AND s.left_at < :b),
    (SELECT count(*) FROM stays s WHERE s.stage = x.stage AND s.entered < :b
        AND (s.left_at IS NULL OR s.left_at >= :b))
FROM (SELECT DISTINCT stage FROM stays) x ORDER BY stage
"""


@pytest.fixture(scope="module")
def sample_store(tmp_path_factory):
    """A generated sample of 600 leads, scored by the bundled rules."""
    out = tmp_path_factory.mktemp("sample")
    files = write_sample(out, 600, 5)
    store = Store(out / "sample.db")
    ingest(store, str(files.leads_path), str(files.events_path))
    ruleset = dsl.load(bundled.ruleset_path())
    rules = compile_ruleset(ruleset)
    run_rules(store, rules, parse_timestamp("2026-11-01"), workers=1)
    yield store, rules, ruleset
    store.close()


@pytest.mark.parametrize("start, end", [(None, None), (dt.date(2026, 3, 1), dt.date(2026, 5, 31)),
                                        (dt.date(2026, 10, 1), None)])
def test_flow_figures_equal_an_independent_sql_count(sample_store, start, end):
    store, rules, ruleset = sample_store
    scope = make_scope(store, rules, ruleset, start=start, end=end)
    (figure,) = build(scope, "flow")
    found = {r["stage"]: (r["start"], r["in"], r["out"], r["end"])
             for r in figure.rows if r["in"] or r["start"]}
    a = -(1 << 62) if scope.start is None else scope.start
    expected = {stage: tuple(counts) for stage, *counts in store.read(
        INDEPENDENT.replace(":key", str(scope.key)).replace(":a", str(a))
        .replace(":b", str(scope.end)))}
    assert found == {s: c for s, c in expected.items() if c[0] or c[1]}
    assert sum(c[1] for c in found.values()) > 50  # the sample moves leads around
