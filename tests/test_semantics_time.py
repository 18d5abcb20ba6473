"""The meaning of the constructs that time drives (SLAs, days and counts, next_due) and of values
that cannot be read, pinned with exact values worked out by hand (see test_semantics.py)."""

from test_semantics import DISQ, QUIET, d, ev, moves, points, rules, run, slas

from leadrules.engine.scoring.results import Note

# --- SLA ------------------------------------------------------------------------------------

SLA = rules("events q, c, r",                       # 1
            "stages Lead, SalesLead",               # 2
            "stage Lead -> SalesLead on q",         # 3
            "stage SalesLead -> Lead on r",         # 4
            "sla SalesLead: c within 2 days")       # 5


def test_sla_met_by_an_event_exactly_at_the_deadline():
    result = run(SLA, [ev(1, "q", d(1)), ev(2, "c", d(3))], d(10))
    assert slas(result) == [("SalesLead", d(1), d(3), "met", d(3), "e02")]
    assert (result.sla, result.slas[0].rule.line, result.next_due) == ("met", 5, None)


def test_sla_pending_at_the_deadline_and_overdue_after_it():
    at = run(SLA, [ev(1, "q", d(1))], d(3))
    assert slas(at) == [("SalesLead", d(1), d(3), "pending", None, None)]
    assert (at.sla, at.next_due) == ("pending", d(3) + 1)
    after = run(SLA, [ev(1, "q", d(1))], d(3) + 1)
    assert slas(after) == [("SalesLead", d(1), d(3), "overdue", d(3), None)]
    assert (after.sla, after.next_due) == ("overdue", None)


def test_an_sla_event_after_the_deadline_does_not_meet_it():
    result = run(SLA, [ev(1, "q", d(1)), ev(2, "c", d(3) + 1)], d(10))
    assert slas(result) == [("SalesLead", d(1), d(3), "overdue", d(3), None)]


def test_sla_left_when_the_lead_leaves_the_stage_first_and_the_latest_entry_counts():
    left = run(SLA, [ev(1, "q", d(1)), ev(2, "r", d(2))], d(10))
    assert slas(left) == [("SalesLead", d(1), d(3), "left", d(2), "e02")]
    assert left.sla == "left"
    again = run(SLA, [ev(1, "q", d(1)), ev(2, "r", d(2)), ev(3, "q", d(4))], d(5))
    assert slas(again) == [("SalesLead", d(1), d(3), "left", d(2), "e02"),
                           ("SalesLead", d(4), d(6), "pending", None, None)]
    assert (again.sla, again.next_due) == ("pending", d(6) + 1)


def test_an_sla_is_met_only_by_an_event_after_the_entry_in_replay_order():
    # same instant: c (e01) comes before the entering q (e02), so it does not meet the SLA
    before = run(SLA, [ev(1, "c", d(1)), ev(2, "q", d(1))], d(2))
    assert slas(before) == [("SalesLead", d(1), d(3), "pending", None, None)]
    after = run(SLA, [ev(1, "q", d(1)), ev(2, "c", d(1))], d(2))
    assert slas(after) == [("SalesLead", d(1), d(3), "met", d(1), "e02")]
    assert run(SLA, [], d(2)).sla is None


def test_the_event_that_enters_the_stage_does_not_meet_its_sla():
    compiled = rules("events c", "stages Lead, SalesLead", "stage Lead -> SalesLead on c",
                     "sla SalesLead: c within 2 days")
    one = run(compiled, [ev(1, "c", d(1))], d(2))
    assert slas(one) == [("SalesLead", d(1), d(3), "pending", None, None)]
    two = run(compiled, [ev(1, "c", d(1)), ev(2, "c", d(2))], d(5))
    assert slas(two) == [("SalesLead", d(1), d(3), "met", d(2), "e02")]


def test_an_sla_deadline_step_only_records_the_outcome():
    compiled = rules("events q",                                       # 1
                     "stages Lead, SalesLead, Stale",                  # 2
                     "stage Lead -> SalesLead on q",                   # 3
                     "stage SalesLead -> Stale if days in stage >= 1",  # 4
                     "sla SalesLead: q within 2 days")                 # 5
    result = run(compiled, [ev(1, "q", d(1))], d(10))
    # no move at the deadline step, though `days in stage >= 1` would hold there
    assert (result.stage, result.sla) == ("SalesLead", "overdue")
    assert moves(result) == [(d(1), "Lead", "SalesLead", 3, "e01")]


# --- days and counts ------------------------------------------------------------------------

DAYS = rules("events a, o",                                          # 1
             "activity excludes o",                                  # 2
             "stages S1, S2, S3",                                    # 3
             "stage S1 -> S2 if days in stage >= 10",                # 4
             "stage S2 -> S3 if days in stage >= 5",                 # 5
             "label dormant if days since last activity >= 30",      # 6
             "label active if days since last activity < 30")        # 7


def test_days_in_stage_counts_whole_days_from_the_first_event_then_from_each_entry():
    events = [ev(1, "a", d(5)), ev(2, "a", d(15) - 1), ev(3, "a", d(15)), ev(4, "a", d(19)),
              ev(5, "a", d(20))]
    result = run(DAYS, events, d(25))
    # e02: 9.99 days since d(5) -> 9; e03: 10 -> S2 (and 0 days in S2, so no further);
    # e04: 4 days in S2; e05: 5 -> S3
    assert moves(result) == [(d(15), "S1", "S2", 4, "e03"), (d(20), "S2", "S3", 5, "e05")]


def test_clock_moves_are_tried_at_every_declared_event():
    events = [ev(1, "a", d(5)), ev(2, "o", d(15) - 1), ev(3, "o", d(15)), ev(4, "o", d(19)),
              ev(5, "o", d(20))]
    result = run(DAYS, events, d(25))
    assert moves(result) == [(d(15), "S1", "S2", 4, "e03"), (d(20), "S2", "S3", 5, "e05")]


def test_the_first_stage_counts_from_the_first_event_of_any_declared_type():
    events = [ev(1, "o", d(0)), ev(2, "a", d(5)), ev(3, "a", d(10))]
    result = run(DAYS, events, d(11))
    assert moves(result) == [(d(10), "S1", "S2", 4, "e03")]


def test_events_counts_every_declared_event_applied():
    result = run(DAYS, [ev(1, "a", d(1)), ev(2, "o", d(2)), ev(3, "a", d(3))], d(4))
    assert result.events == 3


def test_events_counts_only_events_some_rule_reacts_to():
    # docs/language.md: declared types no rule reacts to are not applied (nor counted) unless a
    # condition reads the clock; undeclared types are ignored entirely
    compiled = rules("events a, o", "when a then +10")
    result = run(compiled, [ev(1, "a", d(1)), ev(2, "o", d(2)), ev(3, "fax", d(3))], d(4))
    assert (result.score, result.events) == (10, 1)


def test_days_since_last_activity_ignores_excluded_events():
    events = [ev(1, "a", d(5)), ev(2, "o", d(20))]
    young = run(DAYS, events, d(35) - 1)  # 29.99 days since d(5)
    assert (young.label, young.next_due) == ("active", d(35))  # a clock label: as-of + 1 µs
    old = run(DAYS, events, d(35))
    assert old.label == "dormant"
    # before any activity both comparisons are false
    assert run(DAYS, [], d(35)).label is None
    assert run(DAYS, [ev(1, "o", d(1))], d(35)).label is None


COUNT = rules("events a, b",                                          # 1
              "when a where count a within 7 days >= 3 then +10",     # 2
              "label busy if count b within 7 days >= 2",             # 3
              "label calm otherwise")                                 # 4


def test_count_within_counts_the_current_event_in_a_half_open_window():
    days = [0, 3, 6, 7, 13, 14]
    result = run(COUNT, [ev(i, "a", d(n)) for i, n in enumerate(days, start=1)], d(20))
    # d6: (d-1, d6] = {0, 3, 6}; d7: (d0, d7] = {3, 6, 7}; d13: (d6, d13] = {7, 13};
    # d14: (d7, d14] = {13, 14}
    assert points(result) == [(d(6), 2, "e03", 10, 10), (d(7), 2, "e04", 10, 20)]


def test_count_within_at_the_as_of_time():
    events = [ev(1, "b", d(21)), ev(2, "b", d(27))]
    assert run(COUNT, events, d(27)).label == "busy"
    assert run(COUNT, events, d(28) - 1).label == "busy"
    assert run(COUNT, events, d(28)).label == "calm"  # (d21, d28] leaves d21 out


# --- values that cannot be read -------------------------------------------------------------

READ = rules("events a, q",                              # 1
             "fields employees: number",                 # 2
             "when a where minutes >= 5 then +5",        # 3
             "fit +10 if employees > 100",               # 4
             "bant from q")                              # 5


def test_unreadable_event_properties_make_comparisons_false_and_are_noted():
    events = [ev(1, "a", d(1), minutes="lots"), ev(2, "a", d(2), minutes="7"),
              ev(3, "q", d(3), budget="maybe", authority="yes", need="yes", timeline="yes")]
    result = run(READ, events, d(5), profile={"employees": "250"})
    assert (result.score, result.fit) == (5, 10)
    assert result.bant == {"budget": False, "authority": True, "need": True, "timeline": True}
    assert [h for h in result.history if isinstance(h, Note)] == [
        Note(d(1), "'lots' is not a number, so 'minutes >= 5' is false"),
        Note(d(3), "bant.budget: 'maybe' is not true or false, so it counts as false")]


def test_an_unreadable_profile_number_makes_the_comparison_false():
    assert run(READ, [], d(5), profile={"employees": "many"}).fit == 0


def test_an_unreadable_profile_number_is_noted():
    result = run(READ, [], d(5), profile={"employees": "many"})
    notes = [h for h in result.history if isinstance(h, Note)]
    assert [n.ts for n in notes] == [None]  # noted once, before any event
    assert "'many'" in notes[0].text and "employees" in notes[0].text


# --- next_due -------------------------------------------------------------------------------

def test_next_due_is_the_earliest_of_the_quiet_timer_and_the_next_event():
    assert run(QUIET, [ev(1, "a", d(0))], d(10)).next_due == d(30) + 1
    assert run(QUIET, [ev(1, "a", d(0)), ev(2, "a", d(20))], d(10)).next_due == d(20)
    assert run(QUIET, [ev(1, "a", d(0)), ev(2, "a", d(40))], d(10)).next_due == d(30) + 1
    assert run(QUIET, [], d(10)).next_due is None


def test_next_due_of_a_disqualified_lead_is_none_even_with_later_events():
    result = run(DISQ, [ev(1, "a", d(1)), ev(2, "a", d(2)), ev(3, "a", d(50))], d(10))
    assert (result.disqualified, result.next_due) == ("too hot", None)


def test_a_result_at_next_due_differs_and_one_just_before_does_not():
    events = [ev(1, "a", d(0))]
    first = run(QUIET, events, d(5), trace=False)
    assert run(QUIET, events, first.next_due - 1, trace=False).score == first.score
    assert run(QUIET, events, first.next_due, trace=False).score == first.score - 3
