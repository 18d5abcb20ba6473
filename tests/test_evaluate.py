"""Evaluation: exact scores, stages and histories for hand-built leads."""

import random

import pytest

from leadrules import dsl
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate

RULES = """
events visit, webinar, unsubscribe, qualify, rejected, won, open
activity excludes open
fields title: text, employees: number, email: text
when visit where topic in ["pricing", "product"] then +10
when visit where minutes >= 5 then +5
when webinar then +25
when unsubscribe then -20
score between 0 and 60
fit +30 if title = "CEO"
fit +20 if employees > 1000
grade A if fit >= 50
grade B if fit >= 30
grade D otherwise
band 1 if score >= 50
band 2 if score >= 25
band 4 otherwise
disqualify "competitor" if email ends with "@rival.de"
disqualify "spam" if score >= 60 and employees is missing
bant from qualify, reset on rejected
stages Name, Interaction, Target, Lead, SalesLead, Customer
stage Name -> Interaction on any activity
stage Interaction -> Target if grade in [A, B]
stage Target -> Lead if score >= 25
stage Lead -> SalesLead if bant.all
stage SalesLead -> Lead on rejected
stage * -> Customer on won
"""

CEO = {"title": "CEO", "employees": "5000", "email": "ceo@firma.de"}
AS_OF = parse_timestamp("2027-01-01")


@pytest.fixture(scope="module")
def rules():
    return compile_ruleset(dsl.analyze(RULES, "t.rules").raise_for_errors())


def ev(n, kind, day, **props):
    return Event(f"e{n:02d}", "L1", kind, parse_timestamp(f"2026-01-{day:02d}"), props)


def run(rules, events, profile=CEO, as_of=AS_OF, trace=False):
    return evaluate(rules, "L1", profile, events, as_of, trace=trace)


def stages(result):
    return [(m.source, m.target, m.cause) for m in result.moves]


def test_points_fit_grade_band_and_priority(rules):
    result = run(rules, [ev(1, "webinar", 1), ev(2, "visit", 2, topic="pricing", minutes="7")])
    assert (result.score, result.fit, result.grade, result.band, result.priority) == (40, 50, "A", 2, "A2")


def test_score_is_clamped_after_every_change(rules):
    events = [ev(1, "unsubscribe", 1), ev(2, "webinar", 2), ev(3, "webinar", 3), ev(4, "webinar", 4)]
    result = run(rules, events, profile={"employees": "5"}, trace=True)
    assert [(p.delta, p.score) for p in result.points] == [(-20, 0), (25, 25), (25, 50), (25, 60)]


def test_property_that_is_not_a_number_makes_the_comparison_false(rules):
    result = run(rules, [ev(1, "visit", 1, minutes="lots"), ev(2, "visit", 2, minutes=" 5 ")])
    assert result.score == 5


def test_a_missing_property_makes_the_comparison_false(rules):
    assert run(rules, [ev(1, "visit", 1)]).score == 0


def test_one_event_cascades_through_several_stages(rules):
    result = run(rules, [ev(1, "webinar", 1)])
    assert stages(result) == [("Name", "Interaction", "e01"), ("Interaction", "Target", "e01"),
                              ("Target", "Lead", "e01")]
    assert result.stage == "Lead"


def test_an_event_that_is_not_activity_moves_nothing(rules):
    # `open` is declared, but no rule reacts to it, so it is not even applied (nor counted)
    result = run(rules, [ev(1, "open", 1)])
    assert (result.stage, result.moves, result.events) == ("Name", (), 0)


def test_undeclared_event_types_are_ignored(rules):
    result = run(rules, [ev(1, "fax_received", 1)])
    assert (result.stage, result.score, result.events) == ("Name", 0, 0)


def test_bant_qualifies_then_a_rejection_moves_back_and_clears_it(rules):
    qualify = dict(budget="yes", authority="Yes", need="1", timeline="TRUE")
    result = run(rules, [ev(1, "webinar", 1), ev(2, "qualify", 2, **qualify), ev(3, "rejected", 3)])
    assert stages(result)[3:] == [("Lead", "SalesLead", "e02"), ("SalesLead", "Lead", "e03")]
    assert result.bant == {}
    assert result.stage == "Lead"


def test_partial_bant_does_not_qualify(rules):
    qualify = dict(budget="yes", authority="no", need="yes", timeline="yes")
    result = run(rules, [ev(1, "webinar", 1), ev(2, "qualify", 2, **qualify)])
    assert result.stage == "Lead"
    assert result.bant == {"budget": True, "authority": False, "need": True, "timeline": True}


def test_move_from_any_stage(rules):
    result = run(rules, [ev(1, "won", 1)])
    assert stages(result) == [("Name", "Interaction", "e01"), ("Interaction", "Target", "e01"),
                              ("Target", "Customer", "e01")]


def test_disqualified_by_profile_before_any_event_earns_nothing(rules):
    profile = {**CEO, "email": "spy@rival.de"}
    result = run(rules, [ev(1, "webinar", 1)], profile=profile)
    assert (result.score, result.stage, result.disqualified, result.events) == (0, "Disqualified", "competitor", 0)
    assert stages(result) == [("Name", "Disqualified", "profile")]


def test_disqualified_after_points_keeps_them_and_stops_scoring(rules):
    profile = {"title": "CEO"}
    events = [ev(1, "webinar", 1), ev(2, "webinar", 2), ev(3, "webinar", 3), ev(4, "webinar", 4)]
    result = run(rules, events, profile=profile)
    assert (result.score, result.disqualified, result.events) == (60, "spam", 3)
    assert stages(result)[-1] == ("Lead", "Disqualified", "e03")


def test_events_after_as_of_are_not_seen(rules):
    result = run(rules, [ev(1, "webinar", 1), ev(2, "webinar", 20)], as_of=parse_timestamp("2026-01-10"))
    assert (result.score, result.events) == (25, 1)


def test_event_on_the_as_of_instant_counts(rules):
    assert run(rules, [ev(1, "webinar", 10)], as_of=parse_timestamp("2026-01-10")).score == 25


def test_order_and_duplicates_do_not_change_results(rules):
    events = [ev(i, kind, day) for i, (kind, day) in enumerate(
        [("webinar", 1), ("unsubscribe", 2), ("visit", 2), ("webinar", 5), ("rejected", 6),
         ("qualify", 7), ("won", 9)])]
    expected = run(rules, events)
    shuffled = events + events[:3]
    for seed in range(20):
        random.Random(seed).shuffle(shuffled)
        assert run(rules, shuffled) == expected


def test_no_stage_is_entered_twice_in_one_step():
    rules = compile_ruleset(dsl.analyze(
        "events a\nstages A, B\nstage A -> B on a\nstage B -> A on a\n").raise_for_errors())
    once = evaluate(rules, "L", {}, [Event("e1", "L", "a", 1)], AS_OF)
    twice = evaluate(rules, "L", {}, [Event("e1", "L", "a", 1), Event("e2", "L", "a", 2)], AS_OF)
    assert (once.stage, [m.target for m in once.moves]) == ("B", ["B"])
    assert (twice.stage, [m.target for m in twice.moves]) == ("A", ["B", "A"])


def test_number_fields_that_are_not_numbers_match_nothing(rules):
    result = run(rules, [], profile={"title": "CEO", "employees": "viele"})
    assert (result.fit, result.grade) == (30, "B")


def test_history_names_rule_line_and_text(rules):
    result = run(rules, [ev(1, "webinar", 1)], trace=True)
    change = result.points[0]
    assert (change.rule.id, change.rule.text, change.cause, change.delta, change.score) == (
        "t.rules:7", "when webinar then +25", "e01", 25, 25)


DAY = 86_400_000_000


def scores_with(limit, days, same_instant=()):
    """The score after each event of type `a` at the given days, under `when a then +5 LIMIT`."""
    rules = compile_ruleset(dsl.analyze(f"events a\nwhen a then +5 {limit}\n",
                                        "t.rules").raise_for_errors())
    events = [Event(f"e{i:02d}", "L", "a", d * DAY) for i, d in enumerate(days)]
    return [evaluate(rules, "L", {}, events, d * DAY).score for d in days]


@pytest.mark.parametrize("limit, days, scores", [
    ("once", [0, 1, 400], [5, 5, 5]),
    ("at most 3 times", [0, 0, 1, 2, 3], [10, 10, 15, 15, 15]),
    # Rolling windows are half-open, (t - 30 days, t]: day 30 is outside day 0's window.
    ("once per 30 days", [0, 29, 30, 31, 59, 60], [5, 5, 10, 10, 10, 15]),
    ("at most 2 times per 30 days", [0, 10, 20, 29, 30, 40, 41],
     [5, 10, 10, 10, 15, 20, 20]),
])
def test_count_limits_at_their_window_edges(limit, days, scores):
    assert scores_with(limit, days) == scores


def test_capped_events_do_not_count_towards_the_window():
    # "counted over the events that earned points": the capped event on day 20 does not
    # keep day 35's event out, though day 35 is within 30 days of it.
    assert scores_with("at most 1 times per 30 days", [0, 20, 35]) == [5, 5, 10]


def test_a_capped_match_is_in_the_trace_with_its_limit():
    rules = compile_ruleset(dsl.analyze(
        "events a\nwhen a then +5 at most 2 times per 30 days\n", "t.rules").raise_for_errors())
    events = [Event(f"e{i}", "L", "a", d * DAY) for i, d in enumerate([0, 1, 2])]
    result = evaluate(rules, "L", {}, events, 2 * DAY, trace=True)
    assert [(p.cause, p.delta, p.score, p.capped_by) for p in result.points] == [
        ("e0", 5, 5, None), ("e1", 5, 10, None),
        ("e2", 0, 10, "at most 2 times per 30 days")]


def test_date_fields_compare_with_dates():
    rules = compile_ruleset(dsl.analyze(
        "fields signup: date\nfit +5 if signup < 2026-06-01\n").raise_for_errors())
    fits = [evaluate(rules, "L", {"signup": value}, [], AS_OF).fit
            for value in ("2026-05-31", "2026-06-01", "2026-05-31T23:00:00Z", "soon", None)]
    assert fits == [5, 0, 5, 0, 0]


@pytest.mark.parametrize("condition, props, holds", [
    ('topic in ["pricing"]', {"topic": "pricing"}, True),
    ('topic in ["pricing"]', {"topic": "Pricing"}, False),  # text compares case and all
    ('topic in ["pricing"]', {"topic": ""}, False),  # empty is missing
    ('topic in ["pricing"]', {}, False),
    ('topic not in ["pricing"]', {"topic": "blog"}, True),
    ('topic not in ["pricing"]', {"topic": ""}, False),  # missing is in no list, nor out of one
    ('topic not in ["pricing"]', {}, False),
    ('code in ["7", "x"]', {"code": 7}, True),  # a JSON number, read as its text
    # title is a field: read from the profile (here "Werkstudent"), not from the event
    ('title contains "student"', {"title": "x"}, True),
    ('title contains "Student"', {}, False),  # text compares case and all
    ('title ends with "student"', {}, True),
])
def test_text_lists_and_matches_on_properties_and_fields(condition, props, holds):
    rules = compile_ruleset(dsl.analyze(
        "events visit\nfields title: text\n"
        f"when visit where {condition} then +10\n", "t.rules").raise_for_errors())
    event = Event("e1", "L1", "visit", parse_timestamp("2026-01-01"), props)
    profile = {"title": "Werkstudent"}
    assert evaluate(rules, "L1", profile, [event], AS_OF).score == (10 if holds else 0)


def test_a_disqualify_line_reading_a_count_is_tried_on_the_profile_before_any_event():
    """It used to stop the replay with a TypeError: there is no `now` before the first event,
    and no event in any window either."""
    rules = compile_ruleset(dsl.analyze(
        "events visit\nwhen visit then +5\n"
        'disqualify "bot" if count visit within 1 days >= 2\n', "t.rules").raise_for_errors())

    def visit(n, when):
        return Event(f"e{n}", "L1", "visit", parse_timestamp(when))
    assert run(rules, []).disqualified is None
    apart = run(rules, [visit(1, "2026-01-01T12:00:00Z"), visit(2, "2026-01-03T12:00:00Z")])
    assert (apart.score, apart.disqualified) == (10, None)
    close = run(rules, [visit(1, "2026-01-01T12:00:00Z"), visit(2, "2026-01-01T13:00:00Z")])
    assert (close.stage, close.disqualified) == ("Disqualified", "bot")
