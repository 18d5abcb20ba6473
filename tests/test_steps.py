"""An untraced replay applies each event with a step function written for its type and the
rules (engine.evaluate._step); a traced one with LeadState.on_event. Both must give the same
result for every lead, whatever the rules use: limits, windows, decay, counts, SLAs, BANT,
actions, disqualification by score."""

from pathlib import Path

import attrs
import pytest

from leadrules import dsl
from leadrules.engine.events import parse_timestamp
from leadrules.engine.sample.generator import write_sample
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import replay
from leadrules.engine.scoring.steps import steps
from leadrules.engine.store.ingest import read_events, read_leads

B2B = (Path(__file__).parent.parent / "rulesets" / "b2b.rules").read_text()
# Every construct a step decides on, in one funnel: points that expire, decay, a limit with
# and without a window, a count read by a condition, a `then` action, a move on an event with
# a condition on its props, a disqualification that reads the score, no upper bound
EVERYTHING = (
    B2B.replace("when content_request then +20",
                "when content_request then +20 decay 50% every 30 days")
    .replace("when webinar_signup then +25",
             "when webinar_signup then +25 within 60 days and alert \"webinar\"")
    .replace("when trade_show_visit then +30", "when trade_show_visit then +30 once")
    .replace("score between 0 and 150", "score between 0 and 1000")
    .replace('disqualify "applicant" if title contains "Bewerber"',
             'disqualify "applicant" if title contains "Bewerber"\n'
             'disqualify "bot" if count page_visit within 1 days >= 4')
    .replace("stage SalesLead -> Lead on sales_rejected",
             'stage SalesLead -> Lead on sales_rejected where reason != "timing"'))
# ... and what real data needs: points from a value, text matched ignoring case and against
# lists, a reset that holds only in some stages, missing-value tokens, quoted names
REAL_DATA = (
    EVERYTHING.replace('when page_visit where topic in ["product", "pricing"] then +10',
                       'when "page_visit" where topic in ["PRODUCT", "Pricing"] ignoring case '
                       'then +10\nwhen page_visit where topic starts with ["car", "job"] then -1')
    .replace("when trade_show_visit then +30 once",
             "when trade_show_visit then +30 once\n"
             "when opportunity_created then +1 per 1000 amount up to 40\n"
             "when deal_won then -1 per 5000 amount up to 3 at most 1 times")
    .replace('disqualify "student" if title contains "Student"',
             'disqualify "student" if title contains ["student", "praktikant"] ignoring case')
    .replace("bant from sales_qualification, reset on deal_lost, sales_rejected",
             "bant from sales_qualification, reset on deal_lost, sales_rejected "
             "where stage in [SalesLead, Opportunity]")
    .replace("email: text", 'email: text missing "DE", "IT"'))
AS_OFS = [parse_timestamp("2026-06-01"), parse_timestamp("2026-11-01")]


@pytest.fixture(scope="module")
def leads(tmp_path_factory):
    sample = write_sample(tmp_path_factory.mktemp("sample"), 300, seed=5)
    by_lead: dict[str, list] = {}
    events = {e.event_id: e for e in read_events(str(sample.events_path))}
    for e in sorted(events.values(), key=lambda e: (e.ts, e.event_id)):
        by_lead.setdefault(e.lead_id, []).append((e.lead_id, e.ts, e.event_id, e.type, e.props))
    # and one lead whose SLA is met: sales contacts it a day after it became a SalesLead
    met = [("M1", parse_timestamp(f"2026-03-0{day}T10:00:00Z"), f"m{n}", kind, props)
           for n, (day, kind, props) in enumerate([
               (1, "webinar_signup", {}), (2, "trade_show_visit", {}),
               (3, "content_request", {}), (3, "email_click", {}),
               (4, "sales_qualification", dict.fromkeys(["budget", "authority", "need",
                                                         "timeline"], "yes")),
               (5, "sales_contacted", {})])]
    return [(lead_id, profile, by_lead.get(lead_id, []))
            for lead_id, profile in read_leads(str(sample.leads_path))] + [
        ("M1", {"title": "CEO", "employees": "20000", "country": "DE"}, met)]


def test_the_real_data_ruleset_uses_every_new_construct():
    changed = [line for line in REAL_DATA.splitlines() if line not in EVERYTHING.splitlines()]
    assert len(changed) == 7, changed


@pytest.mark.parametrize("text", [B2B, EVERYTHING, REAL_DATA],
                         ids=["b2b", "everything", "real-data"])
def test_step_functions_give_what_on_event_gives(leads, text):
    rules = compile_ruleset(dsl.analyze(text, "b2b.rules").raise_for_errors())
    assert set(steps(rules)) == rules.used
    seen = {"moves": 0, "actions": 0, "slas met": 0, "slas overdue": 0, "disqualified": 0}
    for as_of in AS_OFS:
        for lead_id, profile, rows in leads:
            fast = replay(rules, lead_id, profile, rows, as_of)
            traced = replay(rules, lead_id, profile, rows, as_of, trace=True)
            assert fast == attrs.evolve(traced, history=()), lead_id
            seen["moves"] += bool(fast.moves)
            seen["actions"] += bool(fast.actions)
            for sla in fast.slas:
                seen[f"slas {sla.outcome}"] = seen.get(f"slas {sla.outcome}", 0) + 1
            seen["disqualified"] += fast.disqualified is not None
    assert all(seen.values()), seen  # the sample reached every kind of outcome
