"""The constructs real data needs, pinned with exact values: quoted names, `ignoring case`,
lists after `starts with` / `ends with`, points from a value, `reset on ... where`, `missing`
tokens, and the order of timer lines in a traced history (docs/language.md)."""

import pytest

from leadrules import dsl
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.results import Note, PointChange, Seen

DAY = 86_400_000_000
T0 = parse_timestamp("2026-01-01")


def d(n: int) -> int:
    return T0 + n * DAY


def rules(*lines: str):
    return compile_ruleset(dsl.analyze("\n".join(lines) + "\n", "t.rules").raise_for_errors())


def ev(n: int, kind: str, ts: int, **props) -> Event:
    return Event(f"e{n:02d}", "L", kind, ts, {k.replace("_", " ") if k.startswith("q_") else k: v
                                               for k, v in props.items()})


def run(compiled, events, as_of=None, profile=None, trace=True):
    as_of = as_of if as_of is not None else d(100)
    return evaluate(compiled, "L", profile or {}, events, as_of, trace=trace)


def both(compiled, events, profile=None, as_of=None):
    """The traced result, after checking that the untraced replay agrees with it."""
    traced = run(compiled, events, as_of, profile)
    fast = run(compiled, events, as_of, profile, trace=False)
    assert (fast.score, fast.fit, fast.stage, fast.bant) == (
        traced.score, traced.fit, traced.stage, traced.bant)
    return traced


def points(result):
    return [(p.ts, p.rule.line, p.cause, p.delta, p.score, p.basis) for p in result.points]


# --- quoted names ---------------------------------------------------------------------------

def test_quoted_event_and_field_names():
    r = rules('events "Page Visit", "Webinar Signup"',          # 1
              'fields "Lead Origin": text, "Total Visits": number',  # 2
              'when "Page Visit" where "time on site" >= 30 then +3',  # 3
              'when "Webinar Signup" then +10',                 # 4
              'fit +10 if "Lead Origin" = "Google"',            # 5
              'fit +5 if "Total Visits" > 3')                   # 6
    events = [Event("e1", "L", "Page Visit", d(1), {"time on site": "45"}),
              Event("e2", "L", "Page Visit", d(2), {"time on site": "12"}),
              Event("e3", "L", "Webinar Signup", d(3))]
    result = both(r, events, {"Lead Origin": "Google", "Total Visits": "4"})
    assert (result.score, result.fit) == (13, 15)


# --- ignoring case, lists after starts with / ends with ---------------------------------------

@pytest.mark.parametrize("condition, title, holds", [
    ('title contains "leiter"', "Marketingleiter", True),
    ('title contains "leiter"', "LEITER Vertrieb", False),
    ('title contains "leiter" ignoring case', "LEITER Vertrieb", True),
    ('title = "ceo" ignoring case', "CEO", True),
    ('title = "ceo"', "CEO", False),
    ('title != "ceo" ignoring case', "Ceo", False),
    ('title != "ceo" ignoring case', "CTO", True),
    ('title in ["ceo", "cmo"] ignoring case', "CMO", True),
    ('title not in ["ceo", "cmo"] ignoring case', "CMO", False),
    ('title not in ["ceo", "cmo"] ignoring case', "CFO", True),
    ('title starts with ["Dr.", "Prof."]', "Prof. Weber", True),
    ('title starts with ["Dr.", "Prof."]', "prof. Weber", False),
    ('title starts with ["dr.", "prof."] ignoring case', "PROF. Weber", True),
    ('title ends with ["leiter", "leitung"]', "Marketing-Leitung", False),
    ('title ends with ["leiter", "leitung"] ignoring case', "Marketing-Leitung", True),
    ('title contains ["Student", "Praktikant"]', "Werkstudent", False),
    ('title contains ["student", "Praktikant"]', "Werkstudent", True),
    ('title contains "straße" ignoring case', "STRASSE", True),  # casefold: ß is ss
    ('title = "x" ignoring case', None, False),  # missing: false, as always
    ('title != "x" ignoring case', None, False),
])
def test_text_matching_ignoring_case_and_lists(condition, title, holds):
    r = rules("events a", "fields title: text", f"fit +10 if {condition}")
    assert run(r, [], profile={} if title is None else {"title": title}).fit == (
        10 if holds else 0)


def test_ignoring_case_on_an_event_property():
    r = rules("events visit", 'when visit where source = "google" ignoring case then +5',
              'when visit where page ends with ["/pricing", "/demo"] then +1')
    events = [ev(1, "visit", d(1), source="Google", page="/pricing"),
              ev(2, "visit", d(2), source="GOOGLE", page="/DEMO"),
              ev(3, "visit", d(3), source="bing", page="/demo")]
    assert both(r, events).score == 12


# --- points from a value ------------------------------------------------------------------

WEB = rules("events web_summary",                                     # 1
            "when web_summary then +1 per 60 seconds up to 25")       # 2


@pytest.mark.parametrize("seconds, score", [
    ("1532", 25), ("1499", 24), ("1500", 25), ("59", 0), ("60", 1), ("119.9", 1),
    ("0", 0), ("100000", 25), ("-300", 0), ("abc", 0), (None, 0), ("1e400", 0),
    ("1e20", 25)])
def test_points_per_value_round_down_and_are_capped(seconds, score):
    props = {} if seconds is None else {"seconds": seconds}
    result = both(WEB, [Event("e1", "L", "web_summary", d(1), props)])
    assert result.score == score
    assert isinstance(result.score, int)


def test_points_from_values_are_shown_with_the_value_used():
    events = [ev(1, "web_summary", d(1), seconds="1532"),
              ev(2, "web_summary", d(2), seconds="600"),
              ev(3, "web_summary", d(3), seconds="lots")]
    result = both(WEB, events)
    assert points(result) == [
        (d(1), 2, "e01", 25, 25, "seconds=1532: 25 x +1"),
        (d(2), 2, "e02", 10, 35, "seconds=600: 10 x +1"),
        (d(3), 2, "e03", 0, 35, "seconds 'lots': no points")]
    assert Note(d(3), "seconds: 'lots' is not a number of 0 or more, so 'when web_summary then "
                      "+1 per 60 seconds up to 25' gives no points") in result.history


def test_points_per_value_negative_decimal_and_with_limits_and_bounds():
    r = rules('events web_summary, webinar',                                     # 1
              'when webinar then +2 per 1.5 "minutes watched" once',             # 2
              'when web_summary then -1 per 10 bounces up to 5',                 # 3
              'score between 0 and 20')                                          # 4
    events = [Event("e1", "L", "webinar", d(1), {"minutes watched": "4.6"}),   # +6 -> 6
              Event("e2", "L", "webinar", d(2), {"minutes watched": "60"}),    # once: capped
              Event("e3", "L", "web_summary", d(3), {"bounces": "73"}),        # -7 -> -5 -> 1
              Event("e4", "L", "web_summary", d(4), {"bounces": "30"})]        # -3 -> 0
    result = both(r, events)
    assert [(p.cause, p.delta, p.score, p.capped_by, p.basis) for p in result.points] == [
        ("e1", 6, 6, None, "minutes watched=4.6: 3 x +2"),
        ("e2", 0, 6, "once", None),
        ("e3", -5, 1, None, "bounces=73: 7 x -1, capped at 5"),
        ("e4", -3, 0, None, "bounces=30: 3 x -1")]
    assert result.score == 0


# --- reset on EVENT where CONDITION -----------------------------------------------------------

RESET = rules("events q, deal_lost, visit",                                          # 1
              "stages Name, SalesLead, Opportunity, Nurture",                        # 2
              "stage Name -> SalesLead if bant.all",                                 # 3
              "stage SalesLead -> Opportunity on visit",                             # 4
              "stage * -> Nurture on deal_lost",                                     # 5
              "bant from q, reset on deal_lost where stage in [SalesLead, Opportunity]")  # 6
ALL = {"budget": "yes", "authority": "yes", "need": "yes", "timeline": "yes"}


def test_reset_where_is_read_before_the_event_moves_the_stage():
    # deal_lost moves the lead from Opportunity to Nurture; the reset reads the stage before
    result = both(RESET, [ev(1, "q", d(1), **ALL), ev(2, "visit", d(2)),
                          ev(3, "deal_lost", d(3))])
    assert (result.stage, result.bant) == ("Nurture", {})


def test_reset_where_that_does_not_hold_keeps_bant():
    result = both(RESET, [ev(1, "q", d(1), budget="yes", need="yes"), ev(2, "deal_lost", d(2))])
    assert (result.stage, result.bant) == ("Nurture", {"budget": True, "authority": False,
                                                       "need": True, "timeline": False})


def test_reset_where_may_read_the_event():
    r = rules("events q, deal_lost", 'bant from q, reset on deal_lost where reason != "timing"')
    kept = both(r, [ev(1, "q", d(1), **ALL), ev(2, "deal_lost", d(2), reason="timing")])
    reset = both(r, [ev(1, "q", d(1), **ALL), ev(2, "deal_lost", d(2), reason="price")])
    assert (kept.bant["budget"], reset.bant) == (True, {})


# --- missing tokens ---------------------------------------------------------------------------

def test_missing_tokens_are_missing_everywhere():
    r = rules("events visit, q",                                           # 1
              'fields title: text, city: text missing "Select", "NaN"',    # 2
              "fit +1 if title is missing",                                # 3
              "fit +10 if city is set",                                    # 4
              'fit +100 if title = "Select"',                              # 5
              "when visit where topic is missing then +1",                 # 6
              "when visit where topic is set then +10",                    # 7
              "bant from q")                                               # 8
    events = [ev(1, "visit", d(1), topic="NaN"), ev(2, "visit", d(2), topic="pricing"),
              ev(3, "q", d(3), budget="Select", need="yes")]
    result = both(r, events, profile={"title": "Select", "city": "NaN"})
    assert (result.fit, result.score) == (1, 11)
    assert result.bant == {"budget": False, "authority": False, "need": True, "timeline": False}


def test_without_missing_tokens_placeholders_are_values():
    r = rules("events visit", "fields title: text", "fit +1 if title is set")
    assert run(r, [], profile={"title": "Select"}).fit == 1


# --- timer lines in time order ----------------------------------------------------------------

def test_a_quiet_spell_is_listed_before_a_later_event_that_is_not_activity():
    r = rules("events visit, email_open",              # 1
              "activity excludes email_open",           # 2
              "when visit then +10",                    # 3
              "when no activity for 10 days then -5")   # 4
    result = run(r, [ev(1, "visit", d(0)), ev(2, "email_open", d(20))])
    order = [("seen", h.event.event_id) if isinstance(h, Seen) else ("points", h.cause)
             for h in result.history if isinstance(h, (Seen, PointChange))]
    assert order == [("seen", "e01"), ("points", "e01"),
                     ("points", "no activity since 2026-01-01T00:00:00Z"), ("seen", "e02")]
    assert result.score == 5
