"""The meaning of each construct, pinned with exact values worked out by hand.

Every ruleset here is small and written line by line, so the line numbers in the expected
histories can be read off the `rules(...)` call: the first string is line 1. Times are whole
days after T0 (2026-01-01T00:00:00Z) unless a microsecond matters.
"""

from decimal import Decimal

import pytest

from leadrules import dsl
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.results import Note, PointChange, Seen, StageChange

DAY = 86_400_000_000
T0 = parse_timestamp("2026-01-01")
T0_ISO = "2026-01-01T00:00:00Z"


def d(n: int) -> int:
    """T0 plus n whole days."""
    return T0 + n * DAY


def rules(*lines: str):
    return compile_ruleset(dsl.analyze("\n".join(lines) + "\n", "t.rules").raise_for_errors())


def ev(n: int, kind: str, ts: int, **props) -> Event:
    return Event(f"e{n:02d}", "L", kind, ts, props)


def run(compiled, events, as_of, profile=None, trace=True):
    return evaluate(compiled, "L", profile or {}, events, as_of, trace=trace)


def points(result):
    return [(p.ts, p.rule.line, p.cause, p.delta, p.score) for p in result.points]


def capped(result):
    return [(p.ts, p.cause, p.delta, p.score, p.capped_by) for p in result.points]


def moves(result):
    return [(m.ts, m.source, m.target, m.rule.line, m.cause) for m in result.moves]


def actions(result):
    return [(a.ts, a.kind, a.value, a.stage, a.rule.line, a.cause) for a in result.actions]


def slas(result):
    return [(s.stage, s.entered, s.due, s.outcome, s.ts, s.cause) for s in result.slas]


# --- Order of events ------------------------------------------------------------------------

ORDER = rules("events a, b",                            # 1
              "when a then +10",                        # 2
              "when b where score >= 10 then +1",       # 3
              "when no activity for 30 days then -3")   # 4


def test_events_at_one_instant_are_applied_in_event_id_order_whatever_order_given():
    # b (e01) comes before a (e02): it sees score 0 and earns nothing.
    first = run(ORDER, [ev(2, "a", d(1)), ev(1, "b", d(1))], d(2))
    assert (first.score, points(first)) == (10, [(d(1), 2, "e02", 10, 10)])
    # a (e01) before b (e02): b sees 10 and earns 1.
    second = run(ORDER, [ev(2, "b", d(1)), ev(1, "a", d(1))], d(2))
    assert (second.score, points(second)) == (11, [(d(1), 2, "e01", 10, 10),
                                                   (d(1), 3, "e02", 1, 11)])


def test_a_repeated_event_id_counts_once():
    result = run(ORDER, [ev(1, "a", d(1)), ev(1, "a", d(1)), ev(1, "a", d(1))], d(2))
    assert (result.score, result.events) == (10, 1)


def test_events_after_as_of_are_not_applied_and_the_first_of_them_is_next_due():
    result = run(ORDER, [ev(1, "a", d(1)), ev(2, "a", d(5))], d(3))
    assert (result.score, result.events, result.next_due) == (10, 1, d(5))
    # An event exactly at as-of is applied.
    at = run(ORDER, [ev(1, "a", d(1)), ev(2, "a", d(3))], d(3))
    assert (at.score, at.events) == (20, 2)


def test_undeclared_event_types_are_ignored_entirely():
    # fax is not declared: not counted, not seen, and it does not re-arm the quiet spell,
    # so the spell from day 0 ends at day 30: 10 - 3 = 7.
    result = run(ORDER, [ev(1, "a", d(0)), ev(2, "fax", d(20))], d(45))
    assert (result.score, result.events) == (7, 1)
    assert points(result) == [(d(0), 2, "e01", 10, 10),
                              (d(30), 4, f"no activity since {T0_ISO}", -3, 7)]


def test_undeclared_events_are_not_in_the_history():
    result = run(ORDER, [ev(1, "a", d(0)), ev(2, "fax", d(20))], d(45))
    assert [h.event.event_id for h in result.history if isinstance(h, Seen)] == ["e01"]


# --- within ---------------------------------------------------------------------------------

WITHIN = rules("events a, b",                              # 1
               "when a then +10 within 30 days",           # 2
               "when b where score >= 10 then +1",         # 3
               "stages Warm, Cold",                        # 4
               "stage Warm -> Cold if score < 5",          # 5
               'on entering Cold enroll "Re-engage"')      # 6

EXPIRED = "e01 older than 30 days"


def test_within_points_count_while_the_event_is_younger_than_the_window():
    # One microsecond before day 30 the event is younger than 30 days: its points count.
    young = run(WITHIN, [ev(1, "a", d(0))], d(30) - 1)
    assert (young.score, young.stage, young.next_due) == (10, "Warm", d(30))
    assert points(young) == [(d(0), 2, "e01", 10, 10)]
    # Exactly 30 days old: no longer younger than 30 days; the points are removed at d(30).
    old = run(WITHIN, [ev(1, "a", d(0))], d(30))
    assert (old.score, old.stage, old.next_due) == (0, "Cold", None)
    assert points(old) == [(d(0), 2, "e01", 10, 10), (d(30), 2, EXPIRED, -10, 0)]
    # The expiry is a step: the `if` move and the entering action happen in it.
    assert moves(old) == [(d(30), "Warm", "Cold", 5, EXPIRED)]
    assert actions(old) == [(d(30), "enroll", "Re-engage", "Cold", 6, EXPIRED)]


def test_an_event_at_the_expiry_instant_sees_the_points_gone():
    # b at d(30): the expiry (due at d(30)) fires first, so b sees score 0 and earns nothing.
    at = run(WITHIN, [ev(1, "a", d(0)), ev(2, "b", d(30))], d(40))
    assert points(at) == [(d(0), 2, "e01", 10, 10), (d(30), 2, EXPIRED, -10, 0)]
    assert moves(at) == [(d(30), "Warm", "Cold", 5, EXPIRED)]
    assert (at.score, at.events) == (0, 2)
    # b one microsecond earlier still sees 10 and earns 1; then 11 - 10 = 1 < 5 moves to Cold.
    before = run(WITHIN, [ev(1, "a", d(0)), ev(2, "b", d(30) - 1)], d(40))
    assert points(before) == [(d(0), 2, "e01", 10, 10), (d(30) - 1, 3, "e02", 1, 11),
                              (d(30), 2, EXPIRED, -10, 1)]
    assert before.score == 1


def test_within_hours_names_the_window_in_hours():
    compiled = rules("events a", "when a then +10 within 12 hours")
    result = run(compiled, [ev(1, "a", d(0))], d(1))
    assert points(result) == [(d(0), 2, "e01", 10, 10),
                              (d(0) + DAY // 2, 2, "e01 older than 12 hours", -10, 0)]


def test_timers_due_before_an_event_fire_in_key_order():
    compiled = rules("events a",                                # 1
                     "when a then +10 within 20 days",          # 2
                     "when no activity for 10 days then -1")    # 3
    result = run(compiled, [ev(1, "a", d(0))], d(50))
    # quiet spell at d(10), then the window closes at d(20): 10 - 1 - 10 = -1 (no bounds)
    assert points(result) == [(d(0), 2, "e01", 10, 10),
                              (d(10), 3, f"no activity since {T0_ISO}", -1, 9),
                              (d(20), 2, "e01 older than 20 days", -10, -1)]
    assert result.score == -1


# --- count limits ---------------------------------------------------------------------------

def test_a_capped_match_earns_nothing_takes_no_action_and_is_in_the_history():
    compiled = rules("events a", 'when a then +5 at most 2 times per 7 days and enroll "C"')
    days = [0, 1, 2, 7, 8, 9]
    result = run(compiled, [ev(i, "a", d(n)) for i, n in enumerate(days, start=1)], d(10))
    limit = "at most 2 times per 7 days"
    # day 2: (d-5, d2] holds days 0 and 1 -> capped; day 7: (d0, d7] holds day 1 only (day 0
    # is exactly 7 days back, outside) -> earns; day 8: (d1, d8] holds day 7 only (day 2 was
    # capped, so it does not count) -> earns; day 9: (d2, d9] holds days 7 and 8 -> capped.
    assert capped(result) == [(d(0), "e01", 5, 5, None), (d(1), "e02", 5, 10, None),
                              (d(2), "e03", 0, 10, limit), (d(7), "e04", 5, 15, None),
                              (d(8), "e05", 5, 20, None), (d(9), "e06", 0, 20, limit)]
    assert result.score == 20
    assert actions(result) == [(d(n), "enroll", "C", None, 2, f"e{i:02d}")
                               for i, n in [(1, 0), (2, 1), (4, 7), (5, 8)]]


def test_once_and_once_per():
    compiled = rules("events a, b",                        # 1
                     "when a then +5 once",                # 2
                     "when b then +3 once per 10 days")    # 3
    events = [ev(1, "a", d(0)), ev(2, "a", d(1)), ev(3, "b", d(0)), ev(4, "b", d(5)),
              ev(5, "b", d(10)), ev(6, "b", d(15)), ev(7, "b", d(20))]
    result = run(compiled, events, d(30))
    # b: day 5 is within (d-5, d5] of day 0; day 10's window (d0, d10] leaves day 0 out;
    # day 15's window (d5, d15] holds day 10; day 20's (d10, d20] leaves day 10 out.
    assert capped(result) == [(d(0), "e01", 5, 5, None), (d(0), "e03", 3, 8, None),
                              (d(1), "e02", 0, 8, "once"),
                              (d(5), "e04", 0, 8, "once per 10 days"),
                              (d(10), "e05", 3, 11, None),
                              (d(15), "e06", 0, 11, "once per 10 days"),
                              (d(20), "e07", 3, 14, None)]
    assert result.score == 14


# --- score between --------------------------------------------------------------------------

def test_the_score_is_clamped_after_every_change():
    compiled = rules("events u, w",              # 1
                     "when u then -20",          # 2
                     "when w then +25",          # 3
                     "score between 0 and 40")   # 4
    result = run(compiled, [ev(1, "u", d(1)), ev(2, "w", d(2)), ev(3, "w", d(3))], d(4))
    # -20 clamps to 0 (not -20), so the webinars give 25 and then 50 -> 40.
    assert points(result) == [(d(1), 2, "e01", -20, 0), (d(2), 3, "e02", 25, 25),
                              (d(3), 3, "e03", 25, 40)]
    assert result.score == 40


# --- quiet spells ---------------------------------------------------------------------------

QUIET = rules("events a, b",                            # 1
              "when a then +10",                        # 2
              "when no activity for 30 days then -3")   # 3


def test_a_quiet_spell_fires_strictly_after_it_ends():
    at_end = run(QUIET, [ev(1, "a", d(0))], d(30))
    assert (at_end.score, at_end.next_due) == (10, d(30) + 1)
    assert points(at_end) == [(d(0), 2, "e01", 10, 10)]
    after = run(QUIET, [ev(1, "a", d(0))], d(30) + 1)
    assert (after.score, after.next_due) == (7, None)  # once per spell: nothing more is due
    assert points(after) == [(d(0), 2, "e01", 10, 10),
                             (d(30), 3, f"no activity since {T0_ISO}", -3, 7)]


def test_an_event_exactly_at_the_end_of_the_spell_re_arms_it_without_firing():
    events = [ev(1, "a", d(0)), ev(2, "b", d(30))]
    at_end = run(QUIET, events, d(60))
    assert (at_end.score, at_end.next_due) == (10, d(60) + 1)
    after = run(QUIET, events, d(60) + 1)
    # the new spell runs from d(30) (2026-01-31) to d(60)
    assert points(after) == [(d(0), 2, "e01", 10, 10),
                             (d(60), 3, "no activity since 2026-01-31T00:00:00Z", -3, 7)]


def test_the_quiet_timer_fires_before_a_later_event_and_is_recorded_at_the_spell_end():
    result = run(QUIET, [ev(1, "a", d(0)), ev(2, "a", d(40))], d(50))
    steps = [(h.event.event_id,) if isinstance(h, Seen) else (h.ts, h.cause, h.delta, h.score)
             for h in result.history if isinstance(h, (Seen, PointChange))]
    assert steps == [("e01",), (d(0), "e01", 10, 10),
                     (d(30), f"no activity since {T0_ISO}", -3, 7),
                     ("e02",), (d(40), "e02", 10, 17)]
    assert (result.score, result.next_due) == (17, d(70) + 1)


def test_two_quiet_rules_each_fire_once_per_spell_and_activity_re_arms_both():
    compiled = rules("events a, b",                                        # 1
                     "when a then +10",                                    # 2
                     'when no activity for 60 days then enroll "Wake-up"',  # 3
                     "when no activity for 30 days then -3")               # 4
    one = run(compiled, [ev(1, "a", d(0))], d(200))
    quiet = f"no activity since {T0_ISO}"
    assert points(one) == [(d(0), 2, "e01", 10, 10), (d(30), 4, quiet, -3, 7)]
    assert actions(one) == [(d(60), "enroll", "Wake-up", None, 3, quiet)]
    assert (one.score, one.next_due) == (7, None)
    # b at d(70) (2026-03-12) re-arms both: -3 at d(100), the enrollment at d(130).
    two = run(compiled, [ev(1, "a", d(0)), ev(2, "b", d(70))], d(200))
    quiet2 = "no activity since 2026-03-12T00:00:00Z"
    assert points(two) == [(d(0), 2, "e01", 10, 10), (d(30), 4, quiet, -3, 7),
                           (d(100), 4, quiet2, -3, 4)]
    assert actions(two) == [(d(60), "enroll", "Wake-up", None, 3, quiet),
                            (d(130), "enroll", "Wake-up", None, 3, quiet2)]
    assert two.score == 4


EXCLUDES = rules("events a, o",                              # 1
                 "activity excludes o",                      # 2
                 "when a then +10",                          # 3
                 "when o then +1",                           # 4
                 "when no activity for 30 days then -3",     # 5
                 "stages S1, S2",                            # 6
                 "stage S1 -> S2 on any activity")           # 7


def test_excluded_events_are_not_activity():
    only = run(EXCLUDES, [ev(1, "o", d(0))], d(100))
    # scored, counted, but no spell starts and `on any activity` does not hold
    assert (only.score, only.stage, only.moves, only.events, only.next_due) == (
        1, "S1", (), 1, None)


def test_excluded_events_do_not_re_arm_the_quiet_spell():
    result = run(EXCLUDES, [ev(1, "a", d(0)), ev(2, "o", d(20))], d(45))
    assert points(result) == [(d(0), 3, "e01", 10, 10), (d(20), 4, "e02", 1, 11),
                              (d(30), 5, f"no activity since {T0_ISO}", -3, 8)]
    assert moves(result) == [(d(0), "S1", "S2", 7, "e01")]


def test_a_quiet_spell_step_moves_on_conditions_and_acts():
    compiled = rules("events a",                                                    # 1
                     'when no activity for 30 days then alert "quiet"',              # 2
                     "stages Active, Dormant",                                      # 3
                     "stage Active -> Dormant if days since last activity >= 30",   # 4
                     "stage Dormant -> Active on any activity",                     # 5
                     'on entering Dormant enroll "Wake-up"')                        # 6
    result = run(compiled, [ev(1, "a", d(0)), ev(2, "a", d(40))], d(50))
    quiet = f"no activity since {T0_ISO}"
    assert moves(result) == [(d(30), "Active", "Dormant", 4, quiet),
                             (d(40), "Dormant", "Active", 5, "e02")]
    # the rule's own action first, then those of the stage entered
    assert actions(result) == [(d(30), "alert", "quiet", None, 2, quiet),
                               (d(30), "enroll", "Wake-up", "Dormant", 6, quiet)]


# --- stages ---------------------------------------------------------------------------------

def test_a_backward_move_is_an_ordinary_move():
    compiled = rules("events qualify, sales_rejected",           # 1
                     "stages Lead, SalesLead",                   # 2
                     "stage Lead -> SalesLead on qualify",       # 3
                     "stage SalesLead -> Lead on sales_rejected")  # 4
    result = run(compiled, [ev(1, "qualify", d(1)), ev(2, "sales_rejected", d(2)),
                            ev(3, "qualify", d(3))], d(4))
    assert moves(result) == [(d(1), "Lead", "SalesLead", 3, "e01"),
                             (d(2), "SalesLead", "Lead", 4, "e02"),
                             (d(3), "Lead", "SalesLead", 3, "e03")]
    assert result.stage == "SalesLead"


CASCADE = rules("events visit",                                               # 1
                "fields title: text",                                         # 2
                "when visit then +60",                                        # 3
                'fit +30 if title = "CEO"',                                   # 4
                "grade A if fit >= 30",                                       # 5
                "grade D otherwise",                                          # 6
                "stages Name, Interaction, TargetCustomer, Lead, SalesLead",  # 7
                "stage Name -> Interaction on any activity",                  # 8
                "stage Interaction -> TargetCustomer if grade in [A, B, C]",  # 9
                "stage TargetCustomer -> Lead if score >= 51",                # 10
                "stage Lead -> SalesLead if score >= 100")                    # 11


def test_one_event_cascades_through_several_stages():
    result = run(CASCADE, [ev(1, "visit", d(1))], d(2), profile={"title": "CEO"})
    assert moves(result) == [(d(1), "Name", "Interaction", 8, "e01"),
                             (d(1), "Interaction", "TargetCustomer", 9, "e01"),
                             (d(1), "TargetCustomer", "Lead", 10, "e01")]
    assert (result.stage, result.score, result.grade) == ("Lead", 60, "A")
    # the second visit: 120 >= 100 moves on
    again = run(CASCADE, [ev(1, "visit", d(1)), ev(2, "visit", d(2))], d(3),
                profile={"title": "CEO"})
    assert moves(again)[3:] == [(d(2), "Lead", "SalesLead", 11, "e02")]


def test_a_cascade_stops_where_no_move_holds():
    result = run(CASCADE, [ev(1, "visit", d(1)), ev(2, "visit", d(2))], d(3),
                 profile={"title": "Intern"})
    assert moves(result) == [(d(1), "Name", "Interaction", 8, "e01")]
    assert (result.stage, result.grade) == ("Interaction", "D")


def test_no_stage_is_entered_twice_in_one_step():
    cycle = rules("events a", "stages A, B", "stage A -> B on a", "stage B -> A on a")
    once = run(cycle, [ev(1, "a", d(1))], d(5))
    assert moves(once) == [(d(1), "A", "B", 3, "e01")]  # B -> A is not taken: A was visited
    twice = run(cycle, [ev(1, "a", d(1)), ev(2, "a", d(2))], d(5))
    assert moves(twice) == [(d(1), "A", "B", 3, "e01"), (d(2), "B", "A", 4, "e02")]
    assert twice.stage == "A"


def test_a_move_into_a_visited_stage_is_skipped_and_the_next_move_is_tried():
    compiled = rules("events a", "stages A, B, C",
                     "stage A -> B on a",      # 3
                     "stage B -> A on a",      # 4
                     "stage B -> C on a")      # 5
    result = run(compiled, [ev(1, "a", d(1))], d(5))
    assert moves(result) == [(d(1), "A", "B", 3, "e01"), (d(1), "B", "C", 5, "e01")]


def test_a_move_skipped_only_because_its_target_was_visited_holds_at_the_next_event():
    compiled = rules("events a, b",                      # 1
                     "when a then +10",                  # 2
                     "stages A, B",                      # 3
                     "stage A -> B on a",                # 4
                     "stage B -> A if score >= 10",      # 5
                     "sla A: b within 2 days")           # 6 (b is used: it can meet an SLA)
    result = run(compiled, [ev(1, "a", d(1)), ev(2, "b", d(2))], d(3))
    assert moves(result) == [(d(1), "A", "B", 4, "e01"), (d(2), "B", "A", 5, "e02")]


STAR = rules("events a, won",                      # 1
             "stages S1, S2, S3, Customer",        # 2
             "stage S1 -> S2 on a",                # 3
             "stage * -> Customer on won",         # 4
             "stage S2 -> S3 on won")              # 5


def test_a_star_move_leaves_any_stage_and_stands_in_file_order():
    result = run(STAR, [ev(1, "a", d(1)), ev(2, "won", d(2)), ev(3, "won", d(3))], d(4))
    # from S2 the `*` move (line 4) comes before S2 -> S3 (line 5); from Customer the `*` move
    # would enter the stage the step started in, so nothing happens on the second won
    assert moves(result) == [(d(1), "S1", "S2", 3, "e01"), (d(2), "S2", "Customer", 4, "e02")]
    direct = run(STAR, [ev(1, "won", d(1))], d(4))
    assert moves(direct) == [(d(1), "S1", "Customer", 4, "e01")]


# --- disqualification -----------------------------------------------------------------------

DISQ = rules("events a, b",                            # 1
             "when a then +10",                        # 2
             "when b then +1",                         # 3
             'disqualify "too hot" if score >= 20',    # 4
             "stages S1, S2",                          # 5
             "stage S1 -> S2 on any activity",         # 6
             'on entering S2 enroll "X"',              # 7
             "when no activity for 30 days then -3")   # 8


def test_disqualified_after_points_keeps_them_and_is_scored_no_further():
    events = [ev(1, "a", d(1)), ev(2, "a", d(2)), ev(3, "a", d(3)), ev(4, "b", d(4))]
    result = run(DISQ, events, d(100))
    assert (result.score, result.stage, result.disqualified, result.events) == (
        20, "Disqualified", "too hot", 2)
    assert points(result) == [(d(1), 2, "e01", 10, 10), (d(2), 2, "e02", 10, 20)]
    assert moves(result) == [(d(1), "S1", "S2", 6, "e01"),
                             (d(2), "S2", "Disqualified", 4, "e02")]
    assert actions(result) == [(d(1), "enroll", "X", "S2", 7, "e01")]
    # no quiet spell, no later event: nothing can change it
    assert result.next_due is None
    # a traced replay lists the later events, under a note, and scores none of them
    assert [h.event.event_id if isinstance(h, Seen) else h.text for h in result.history
            if isinstance(h, (Seen, Note))] == [
        "e01", "e02", "e03", "not scored, nor are the events after it: the lead is disqualified",
        "e04"]


def test_disqualified_by_profile_before_any_event():
    compiled = rules("events a",                                               # 1
                     "fields email: text",                                     # 2
                     "when a then +10",                                        # 3
                     'disqualify "competitor" if email ends with "@rival.de"',  # 4
                     "stages S1, S2",                                          # 5
                     "stage S1 -> S2 on any activity")                         # 6
    result = run(compiled, [ev(1, "a", d(1))], d(10), profile={"email": "x@rival.de"})
    assert (result.score, result.events, result.stage, result.disqualified) == (
        0, 0, "Disqualified", "competitor")
    assert moves(result) == [(None, "S1", "Disqualified", 4, "profile")]
    assert isinstance(result.moves[0], StageChange)
    assert (result.points, result.actions, result.next_due) == ((), (), None)


DISQ_QUIET = rules("events a",                                                 # 1
                   "when a then +10",                                          # 2
                   "when no activity for 30 days then -3",                     # 3
                   'disqualify "gone quiet" if days since last activity >= 30')  # 4


def test_disqualified_in_a_timer_step():
    result = run(DISQ_QUIET, [ev(1, "a", d(0))], d(100))
    quiet = f"no activity since {T0_ISO}"
    assert points(result) == [(d(0), 2, "e01", 10, 10), (d(30), 3, quiet, -3, 7)]
    assert moves(result) == [(d(30), "Name", "Disqualified", 4, quiet)]
    assert (result.score, result.disqualified, result.events, result.next_due) == (
        7, "gone quiet", 1, None)


def test_an_event_after_a_timer_disqualified_the_lead_is_not_counted():
    result = run(DISQ_QUIET, [ev(1, "a", d(0)), ev(2, "a", d(40))], d(100))
    assert [h.event.event_id for h in result.history if isinstance(h, Seen)] == ["e01", "e02"]
    assert result.history[-2:] == (
        Seen(ev(2, "a", d(40)), scored=False),
        Note(d(40), "not scored, nor are the events after it: the lead is disqualified"))
    assert (result.score, result.disqualified) == (7, "gone quiet")
    assert result.events == 1


# --- decay ----------------------------------------------------------------------------------

DECAY = rules("events a",                                    # 1
              "when a then +25 decay 50% every 30 days",     # 2
              "band 1 if score >= 13",                       # 3
              "band 2 if score >= 12",                       # 4
              "band 3 otherwise")                            # 5


def test_decay_halves_the_points_each_period_and_the_score_shown_is_rounded_down():
    before = run(DECAY, [ev(1, "a", d(0))], d(30) - 1)
    assert (before.score, before.band, before.next_due) == (25, 1, d(30))
    at = run(DECAY, [ev(1, "a", d(0))], d(30))
    # 25 * 0.5 = 12.5 exactly; shown and compared as 12 (band 2, not band 1)
    assert (at.score, at.band, at.next_due) == (12, 2, d(60))
    assert points(at) == [(d(0), 2, "e01", 25, 25),
                          (d(30), 2, "decay 50% every 30 days: e01 is 30 days old",
                           Decimal("-12.5"), Decimal("12.5"))]
    assert run(DECAY, [ev(1, "a", d(0))], d(60)).score == 6  # 6.25


def test_two_decaying_events_decay_each_from_its_own_time():
    events = [ev(1, "a", d(0)), ev(2, "a", d(10))]
    assert run(DECAY, events, d(40) - 1).score == 37  # 12.5 + 25 = 37.5
    at = run(DECAY, events, d(40))
    assert at.score == 25  # 12.5 + 12.5
    assert points(at)[2:] == [
        (d(30), 2, "decay 50% every 30 days: e01 is 30 days old", Decimal("-12.5"),
         Decimal("37.5")),
        (d(40), 2, "decay 50% every 30 days: e02 is 30 days old", Decimal("-12.5"),
         Decimal("25"))]


def test_decay_under_a_clamp_takes_away_the_event_s_own_share():
    compiled = rules("events a", "when a then +25 decay 50% every 30 days",
                     "score between 0 and 30")
    result = run(compiled, [ev(1, "a", d(0)), ev(2, "a", d(1))], d(31))
    # 25, then 50 clamped to 30; each event then loses 12.5 of its own: 17.5, then 5
    assert [(p.ts, p.delta, p.score) for p in result.points] == [
        (d(0), 25, 25), (d(1), 25, 30), (d(30), Decimal("-12.5"), Decimal("17.5")),
        (d(31), Decimal("-12.5"), Decimal("5"))]
    assert result.score == 5


def test_decay_stops_once_the_points_are_negligible():
    compiled = rules("events a", "when a then +25 decay 50% every 1 day")
    result = run(compiled, [ev(1, "a", d(0))], d(100))
    decays = result.points[1:]
    # 25 / 2**34 = 1.46e-9 is kept; 25 / 2**35 = 7.3e-10 < 1e-9 drops to 0 at day 35
    assert len(decays) == 35
    assert (decays[-1].ts, decays[-1].delta, decays[-1].score) == (
        d(35), -(Decimal(25) / 2 ** 34), 0)
    assert decays[-1].cause == "decay 50% every 1 day: e01 is 35 days old"
    assert (result.score, result.next_due) == (0, None)


# --- BANT -----------------------------------------------------------------------------------

BANT = rules("events q, r, x",                          # 1
             "bant from q, reset on r, x",              # 2
             "when q where bant.all then +10",          # 3
             "stages Lead, SalesLead",                  # 4
             "stage Lead -> SalesLead if bant.all",     # 5
             "stage SalesLead -> Lead if not bant.all",  # 6
             "label qualified if bant.all",             # 7
             "label partial if bant.any")               # 8

ALL_TRUE = {"budget": "Yes", "authority": "true", "need": "1", "timeline": "YES"}
BANT_EVENTS = [ev(1, "q", d(1), budget="yes", authority="TRUE", need="1", timeline="no"),
               ev(2, "q", d(2), **ALL_TRUE),
               ev(3, "q", d(3), **ALL_TRUE),
               ev(4, "r", d(4)),
               ev(5, "q", d(5), budget="yes", authority="yes", need="yes"),
               ev(6, "x", d(6))]
THREE = {"budget": True, "authority": True, "need": True, "timeline": False}


def test_bant_comes_from_the_latest_source_event_and_resets():
    def at(n):
        return run(BANT, BANT_EVENTS, d(n))
    assert (at(1).bant, at(1).label, at(1).stage) == (THREE, "partial", "Lead")
    # e02's `where` still sees e01's BANT (points come before BANT), so only e03 earns
    assert (at(3).bant, at(3).label, at(3).stage, at(3).score) == (
        dict.fromkeys(THREE, True), "qualified", "SalesLead", 10)
    assert points(at(3)) == [(d(3), 3, "e03", 10, 10)]
    assert (at(4).bant, at(4).label, at(4).stage) == ({}, None, "Lead")
    assert at(5).bant == THREE  # a missing timeline is false
    assert (at(6).bant, at(6).label) == ({}, None)
    assert moves(at(6)) == [(d(2), "Lead", "SalesLead", 5, "e02"),
                            (d(4), "SalesLead", "Lead", 6, "e04")]


# --- fit, grade, band, priority, label ------------------------------------------------------

CLASSES = rules("events a",                                 # 1
                "fields title: text",                       # 2
                "when a then +10",                          # 3
                'fit +30 if title = "CEO"',                 # 4
                'fit +5 if title is set',                   # 5
                "grade A if fit >= 30",                     # 6
                "grade C otherwise",                        # 7
                "band 1 if score >= 20",                    # 8
                "band 2 if score >= 10",                    # 9
                'label hot if priority in ["A1", "A2"]',    # 10
                "label warm if score >= 10",                # 11
                "label cold otherwise")                     # 12


@pytest.mark.parametrize("title, n, expected", [
    # fit 35 -> A; score 0 -> no band, so no priority; neither hot nor warm -> cold (line 12)
    ("CEO", 0, (35, "A", None, None, "cold", 12)),
    ("CEO", 1, (35, "A", 2, "A2", "hot", 10)),
    # 20 >= 20: band 1, the first line that holds, though band 2's holds too
    ("CEO", 2, (35, "A", 1, "A1", "hot", 10)),
    ("Intern", 2, (5, "C", 1, "C1", "warm", 11)),
    (None, 1, (0, "C", 2, "C2", "warm", 11)),
])
def test_fit_sums_and_grade_band_label_take_the_first_line_that_holds(title, n, expected):
    profile = {} if title is None else {"title": title}
    result = run(CLASSES, [ev(i, "a", d(i)) for i in range(1, n + 1)], d(10), profile=profile)
    assert (result.fit, result.grade, result.band, result.priority, result.label,
            result.because["label"].rule.line) == expected


# --- actions --------------------------------------------------------------------------------

ACTS = rules("events q, r",                                                        # 1
             "fields country: text",                                               # 2
             'when q then +5 and enroll "C" and alert "qualified"',                # 3
             "stages Lead, SalesLead",                                             # 4
             "stage Lead -> SalesLead on q",                                       # 5
             "stage SalesLead -> Lead on r",                                       # 6
             'on entering SalesLead assign "DACH" if country in ["DE", "AT", "CH"]',  # 7
             'on entering SalesLead assign "International" otherwise',             # 8
             'on entering SalesLead enroll "Sales intro"',                         # 9
             'on entering SalesLead enroll "Fallback" otherwise',                  # 10
             'on entering SalesLead alert "New sales lead" otherwise',             # 11
             'on entering Lead assign "Marketing"')                                # 12


@pytest.mark.parametrize("country, owner, line", [("DE", "DACH", 7), ("FR", "International", 8),
                                                  (None, "International", 8)])
def test_rule_actions_then_entering_actions_and_otherwise_per_action_kind(country, owner, line):
    profile = {} if country is None else {"country": country}
    result = run(ACTS, [ev(1, "q", d(1))], d(2), profile=profile)
    # Fallback (line 10) does not fire: an enroll (line 9) fired before it; the alert `otherwise`
    # (line 11) does: no earlier alert for SalesLead
    assert actions(result) == [(d(1), "enroll", "C", None, 3, "e01"),
                               (d(1), "alert", "qualified", None, 3, "e01"),
                               (d(1), "assign", owner, "SalesLead", line, "e01"),
                               (d(1), "enroll", "Sales intro", "SalesLead", 9, "e01"),
                               (d(1), "alert", "New sales lead", "SalesLead", 11, "e01")]
    assert result.owner == owner


def test_the_owner_is_the_last_assignment():
    events = [ev(1, "q", d(1)), ev(2, "r", d(2)), ev(3, "q", d(3))]
    profile = {"country": "AT"}
    assert run(ACTS, events, d(1), profile=profile).owner == "DACH"
    back = run(ACTS, events, d(2), profile=profile)
    assert (back.owner, actions(back)[-1]) == (
        "Marketing", (d(2), "assign", "Marketing", "Lead", 12, "e02"))
    assert run(ACTS, events, d(3), profile=profile).owner == "DACH"
    assert run(ACTS, [], d(3), profile=profile).owner is None
