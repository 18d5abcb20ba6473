"""What a statement means, in a sentence or two a marketer can read: the text of a hover."""

from __future__ import annotations

from typing import Callable

from leadrules.dsl import ast
from leadrules.dsl.format import write


def _points(points: int) -> str:
    return f"**{points:+d}** point{'' if abs(points) == 1 else 's'}"


ACTIONS = {"assign": 'assigns the lead to "{}"', "enroll": 'enrolls the lead in "{}"',
           "alert": 'raises the alert "{}"'}


def _actions(actions) -> str:
    return " and ".join(ACTIONS[a.kind.lower()].format(a.text) for a in actions)


def _limit(limit) -> str:
    """One limit of a scoring rule, as a clause."""
    return LIMITS[type(limit)](limit)


LIMITS: dict[type, Callable] = {
    ast.Once: lambda l: ("once per lead, ever" if l.per is None
                         else f"at most once in any {write(l.per)}"),
    ast.AtMost: lambda l: (f"at most {l.times} times"
                           + (f" in any {write(l.per)}" if l.per else " per lead, ever")),
    ast.Within: lambda l: (f"the points count only while the event is younger than "
                           f"{write(l.window)}; then they are taken off again"),
    ast.Decay: lambda l: (f"the points shrink by {l.percent}% for every {write(l.every)} "
                          "of the event's age"),
}


def _score_rule(rule: ast.ScoreRule) -> str:
    where = f" where `{write(rule.where)}`" if rule.where is not None else ""
    parts = []
    if rule.points is not None:
        parts.append(f"gives {_points(rule.points)}")
    if rule.actions:
        parts.append(_actions(rule.actions))
    text = f"Each `{rule.event.text}` event{where} {' and '.join(parts)}."
    return text + "".join(f"\n- {_limit(limit)}" for limit in rule.limits)


def _inactivity(rule: ast.InactivityRule) -> str:
    does = _points(rule.points) if rule.points is not None else _actions(rule.actions)
    if rule.points is not None and rule.actions:
        does += ", and " + _actions(rule.actions)
    return (f"After **{write(rule.quiet)}** with no activity: {does}. Once per quiet spell; "
            "the next activity starts a new one.")


def _classify(rule: ast.Classify) -> str:
    if rule.cond is None:
        return (f"{rule.kind} **{rule.value}** for every lead that no earlier {rule.kind} line "
                "took.")
    return (f"{rule.kind} **{rule.value}** when `{write(rule.cond)}`, unless an earlier "
            f"{rule.kind} line holds (the first line that holds wins).")


def _move(move: ast.StageMove) -> str:
    source = f"in `{move.source.text}`" if move.source is not None else "in any stage"
    return f"A lead {source} moves to `{move.target.text}` {TRIGGERS[type(move.trigger)](move.trigger)}."


TRIGGERS: dict[type, Callable] = {
    ast.OnCondition: lambda t: f"as soon as `{write(t.cond)}` holds after an event",
    ast.OnEvent: lambda t: f"on each `{t.event.text}` event"
                           + (f" where `{write(t.where)}`" if t.where is not None else ""),
    ast.OnActivity: lambda t: "on any activity (an event that `activity excludes` does not list)",
}


def _entering(rule: ast.OnEntering) -> str:
    guard = (" when no earlier line for this stage applied" if rule.otherwise else
             f" if `{write(rule.cond)}`" if rule.cond is not None else "")
    return f"When a lead enters `{rule.stage.text}`, it {_actions([rule.action])}{guard}."


MEASURES: dict[type, Callable] = {
    ast.Entered: lambda m: f"leads that entered `{m.stage.text}`",
    ast.Conversion: lambda m: f"the conversion from `{m.source.text}` to `{m.target.text}`",
    ast.LeadsIn: lambda m: f"leads in `{m.stage.text}`",
}


def _goal(goal: ast.Goal) -> str:
    period = (f" between {goal.start} and {goal.end}" if goal.start and goal.end else
              f" by {goal.end}" if goal.end else "")
    target = f"{goal.target}{'%' if goal.percent else ''}"
    return (f"Goal \"{goal.name}\": {MEASURES[type(goal.measure)](goal.measure)} "
            f"{goal.op} {target}{period}; the reports track it.")


def _bant(decl: ast.BantDecl) -> str:
    resets = ", ".join(f"`{n.text}`" for n in decl.resets)
    return ("BANT (budget, authority, need, timeline) comes from the properties of the latest "
            f"`{decl.source.text}` event" + (f"; {resets} clears it." if resets else "."))


MEANINGS: dict[type, Callable] = {
    ast.RulesetName: lambda s: f"The ruleset \"{s.name}\": reports and stored runs name it so.",
    ast.EventsDecl: lambda s: f"The {len(s.names)} event types the rules may name.",
    ast.ActivityExcludes: lambda s: ("Events that do not count as activity, for `no activity "
                                     "for` and `on any activity`."),
    ast.FieldsDecl: lambda s: "Profile fields, read as their type: " + ", ".join(
        f"`{f.name.text}` ({f.type.text})" for f in s.fields) + ".",
    ast.ScoreRule: _score_rule,
    ast.InactivityRule: _inactivity,
    ast.ScoreBounds: lambda s: f"The score is kept between {s.low} and {s.high} after every change.",
    ast.FitRule: lambda s: f"Fit {_points(s.points)} for a lead whose profile has `{write(s.cond)}`.",
    ast.Classify: _classify,
    ast.Disqualify: lambda s: (f"A lead with `{write(s.cond)}` is disqualified (reason "
                               f"\"{s.reason}\") and goes to the stage `Disqualified`."),
    ast.BantDecl: _bant,
    ast.StagesDecl: lambda s: (f"The funnel in order, {len(s.names)} stages; a lead starts in "
                               f"`{s.names[0].text}`." if s.names else "The funnel."),
    ast.StageMove: _move,
    ast.OnEntering: _entering,
    ast.Sla: lambda s: (f"A lead that enters `{s.stage.text}` must get a `{s.event.text}` event "
                        f"within **{write(s.window)}**, or the SLA is overdue."),
    ast.Goal: _goal,
}


def meaning(statement) -> str:
    """What a statement does, as Markdown: one sentence, and a line per limit of a rule."""
    return MEANINGS[type(statement)](statement)
