"""One lead's replay: a pure function of (compiled rules, profile, events, as-of time)."""

from __future__ import annotations

from bisect import bisect_right
from typing import Iterable, Mapping

import attrs

from engine.compiler import (DISQUALIFIED, CompiledRuleset, CountLimit, Guarded, RuleRef,
                             ScoringRule)
from engine.events import Event
from engine.values import to_bool

BANT_FLAGS = ("budget", "authority", "need", "timeline")
PROFILE = "profile"


@attrs.frozen
class StageChange:
    """A stage move: when, from where to where, by which rule, caused by which event."""

    ts: int | None
    source: str | None
    target: str
    rule: RuleRef | None
    cause: str


@attrs.frozen
class PointChange:
    """Points a rule added or took away, and the score after clamping; a rule that matched
    but was capped is recorded with delta 0 and the limit that capped it."""

    ts: int
    rule: RuleRef
    cause: str
    delta: int
    score: int
    capped_by: str | None = None


@attrs.frozen
class LeadResult:
    """Everything evaluation says about one lead at the as-of time."""

    lead_id: str
    score: int
    fit: int
    grade: str | None
    band: int | None
    priority: str | None
    stage: str
    disqualified: str | None
    bant: Mapping[str, bool]
    events: int
    moves: tuple[StageChange, ...]
    points: tuple[PointChange, ...] = ()


class LeadState:
    """The mutable state of one replay; conditions read it through the compiled getters."""

    __slots__ = ("rules", "profile", "props", "score", "fit", "stage", "bant", "earned")

    def __init__(self, rules: CompiledRuleset, profile: Mapping[str, object]):
        self.rules = rules
        self.profile = {name: read(profile.get(name)) for name, read in rules.fields.items()}
        self.props: Mapping[str, str] = {}
        self.score = 0
        self.stage = rules.first_stage
        self.bant: dict[str, bool] = {}
        self.earned: dict[int, list[int]] = {}  # rule index -> times its points were earned
        self.fit = 0
        self.fit = sum(g.value for g in rules.fit if g.pred(self))

    def grade(self) -> str | None:
        return _first(self.rules.grades, self)

    def band(self) -> int | None:
        return _first(self.rules.bands, self)

    def priority(self) -> str | None:
        grade, band = self.grade(), self.band()
        return None if grade is None or band is None else f"{grade}{band}"

    def bant_count(self) -> int:
        return sum(1 for flag in BANT_FLAGS if self.bant.get(flag))

    def cap(self, rule: ScoringRule, ts: int) -> CountLimit | None:
        """The limit that keeps `rule` from earning points at `ts`, or None."""
        earned = self.earned.get(rule.index, ())
        for limit in rule.limits:
            start = 0 if limit.window is None else bisect_right(earned, ts - limit.window)
            if len(earned) - start >= limit.times:
                return limit
        return None

    def earn(self, rule: ScoringRule, ts: int) -> None:
        if rule.limits:  # times are appended in replay order, so each list stays sorted
            self.earned.setdefault(rule.index, []).append(ts)

    def add_points(self, points: int) -> None:
        low, high = self.rules.bounds
        score = self.score + points
        if low is not None and score < low:
            score = low
        if high is not None and score > high:
            score = high
        self.score = score


def _first(lines: tuple[Guarded, ...], state: LeadState):
    """The value of the first line whose condition holds, top to bottom; `otherwise` always does."""
    for line in lines:
        if line.pred is None or line.pred(state):
            return line.value
    return None


def _move_stages(rules: CompiledRuleset, state: LeadState, event: Event) -> list[StageChange]:
    """Take the first move out of the current stage that holds, then again from the new stage;
    no stage is entered twice in one step."""
    entered, changes = {state.stage}, []
    while True:
        move = next((m for m in rules.moves.get(state.stage, ())
                     if m.target not in entered and m.trigger(state, event.type)), None)
        if move is None:
            return changes
        changes.append(StageChange(event.ts, state.stage, move.target, move.rule, event.event_id))
        state.stage = move.target
        entered.add(move.target)


def _apply_bant(rules: CompiledRuleset, state: LeadState, event: Event) -> None:
    if event.type == rules.bant_source:
        state.bant = {f: to_bool(event.props.get(f)) is True for f in BANT_FLAGS}
    elif event.type in rules.bant_resets:
        state.bant = {}


def replay_order(events: Iterable[Event], as_of: int) -> list[Event]:
    """Events up to as-of in (timestamp, event id) order, each event id once."""
    seen: set[str] = set()
    ordered = []
    for event in sorted(events, key=lambda e: (e.ts, e.event_id)):
        if event.ts <= as_of and event.event_id not in seen:
            seen.add(event.event_id)
            ordered.append(event)
    return ordered


def evaluate(rules: CompiledRuleset, lead_id: str, profile: Mapping[str, object],
             events: Iterable[Event], as_of: int, trace: bool = False) -> LeadResult:
    """Replay a lead's events against the rules; the wall clock is never read."""
    state = LeadState(rules, profile)
    moves: list[StageChange] = []
    points: list[PointChange] = []
    reason = _disqualify(rules, state, None, moves)
    count = 0
    for event in replay_order(events, as_of):
        if reason is not None:
            break
        if event.type not in rules.events:
            continue
        count += 1
        state.props = event.props
        for rule in rules.scoring.get(event.type, ()):
            if rule.where is None or rule.where(state):
                if rule.limits and (limit := state.cap(rule, event.ts)) is not None:
                    if trace:
                        points.append(PointChange(event.ts, rule.rule, event.event_id, 0,
                                                  state.score, limit.text))
                    continue
                state.add_points(rule.points)
                state.earn(rule, event.ts)
                if trace:
                    points.append(PointChange(event.ts, rule.rule, event.event_id,
                                              rule.points, state.score))
        _apply_bant(rules, state, event)
        reason = _disqualify(rules, state, event, moves)
        if reason is None:
            moves.extend(_move_stages(rules, state, event))
    return LeadResult(lead_id, state.score, state.fit, state.grade(), state.band(),
                      state.priority(), state.stage, reason, dict(state.bant), count,
                      tuple(moves), tuple(points))


def _disqualify(rules: CompiledRuleset, state: LeadState, event: Event | None, moves: list) -> str | None:
    """Move the lead to Disqualified when a disqualify rule holds; its reason, or None."""
    found = next((g for g in rules.disqualify if g.pred(state)), None)
    if found is None:
        return None
    ts, cause = (event.ts, event.event_id) if event else (None, PROFILE)
    moves.append(StageChange(ts, state.stage, DISQUALIFIED, found.rule, cause))
    state.stage = DISQUALIFIED
    return found.value
