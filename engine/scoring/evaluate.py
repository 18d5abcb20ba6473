"""One lead's replay: a pure function of (compiled rules, profile, events, as-of time).

A replay is a sequence of steps, each at one moment: an event, or a timer that fell due (a quiet
spell ending, an SLA deadline passing, a `within` window closing on an event's points, a `decay`
period ending). Timers due before an event fire first, in time order; the rest fire at the as-of
time. docs/language.md ("How a lead is evaluated") states the order inside a step.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
from bisect import bisect_right
from decimal import Decimal
from typing import Iterable, Mapping, Sequence

from leadrules.engine.events import Event, format_timestamp
from leadrules.engine.scoring.compiler import (
    DISQUALIFIED,
    ActionSpec,
    CompiledRuleset,
    CountLimit,
    Guarded,
    RuleRef,
    ScoringRule,
)
from leadrules.engine.scoring.results import (
    BANT_FLAGS,
    PROFILE,
    TIMER_DECAY,
    TIMER_EXPIRE,
    TIMER_SLA,
    ActionTaken,
    LeadResult,
    Note,
    PointChange,
    Seen,
    SlaOutcome,
    StageChange,
)
from leadrules.engine.scoring.steps import steps
from leadrules.engine.scoring.whynot import closer, missed
from leadrules.engine.values import to_bool, to_date, to_number

DAY = 86_400_000_000
NEVER = 1 << 62
# A decaying event's points below this are dropped, so that decay ends (50% halves to it in
# about 35 periods); the score moves by less than this, far below the whole point it shows.
NEGLIGIBLE = Decimal("1e-9")
_DECLARED = {to_number: "number", to_bool: "boolean", to_date: "date"}
_PARSE = json.JSONDecoder().scan_once  # stored props are one compact JSON object
# Props texts already parsed, for `LeadState.prop`: the events rules read props of tend to
# repeat a few texts ({"topic":"pricing"}), and a lookup is a twentieth of parsing one. The
# dicts are shared, so nothing may change them. Emptied when full, so it stays small.
_PARSED: dict[str, dict] = {}
_PARSED_MAX = 4096


class LeadState:
    """The mutable state of one replay; conditions read it through the compiled getters."""

    __slots__ = ("rules", "profile", "props", "score", "fit", "stage", "bant", "earned", "now",
                 "entered_at", "last_activity", "quiet_next", "timers", "seq", "next_key",
                 "counts", "owner", "moves", "actions", "slas", "open_slas", "history", "notes",
                 "noted", "disqualified", "_grade", "_band", "version", "checked", "applied",
                 "last_row", "earlier", "misses")

    def __init__(self, rules: CompiledRuleset, profile: Mapping[str, object], trace: bool = False):
        self.rules = rules
        self.notes: set[str] | None = set() if trace else None
        self.noted: set[str] | None = set() if trace else None
        self.history: list | None = [] if trace else None
        self.misses: dict | None = {} if trace else None
        if rules.missing:  # `fields ... missing "Select"`: such values are absent
            profile = {k: v for k, v in profile.items() if v not in rules.missing}
        self.profile = rules.read_profile(profile)
        if trace:
            for name, read in rules.fields.items():
                raw = profile.get(name)
                if raw not in (None, "") and self.profile[name] is None:
                    self.notes.add(f"{name}: {raw!r} cannot be read as declared "
                                   f"({_DECLARED.get(read, 'text')}), so conditions on it are false")
        self.props: Mapping[str, str] = {}
        self.score: int | Decimal = 0
        self.stage = rules.first_stage
        self.bant: dict[str, bool] = {}
        self.earned: dict[int, list[int]] = {}  # rule index -> times its points were earned
        self.now: int | None = None
        self.entered_at: int | None = None
        self.last_activity: int | None = None
        self.quiet_next = 0  # index into rules.quiet of the next quiet rule of this spell
        self.timers: list[tuple] = []  # heap of (key, seq, kind, payload)
        self.seq = 0
        self.next_key = NEVER  # the earliest time a timer fires
        self.counts: dict[str, list[int]] = {event: [] for event in rules.counted}
        self.owner: str | None = None
        self.moves: list[StageChange] = []
        self.actions: list[ActionTaken] = []
        self.slas: list[list] = []  # [rule, entered, due, outcome, ts, cause], in entry order
        self.open_slas: list[list] = []
        self.disqualified: str | None = None
        self._grade: object = self  # not computed yet
        self._band: object = self  # computed at each read, until `finish` fixes it at as-of
        self.version = 0  # grows whenever points or BANT change what conditions read
        self.checked: tuple | None = None  # (stage, version) at which no move out held
        self.applied = 0  # event rows applied
        self.last_row: tuple | None = None  # the last of them
        self.earlier = (0, 0)  # moves and actions before the saved state this one resumed
        self.fit = fit = 0
        for line in rules.fit:
            if line.pred(self):
                fit += line.value
        self.fit = fit
        if trace:
            self._flush_notes(None)

    # What conditions read --------------------------------------------------------------------

    def grade(self) -> str | None:
        line = self.grade_line()
        return None if line is None else line.value

    def grade_line(self) -> Guarded | None:
        """The grade line that holds; worked out once when grades read only the profile."""
        if not self.rules.static_grade:
            return _first_line(self.rules.grades, self)
        if self._grade is self:
            self._grade = _first_line(self.rules.grades, self)
        return self._grade

    def band(self) -> int | None:
        line = _first_line(self.rules.bands, self) if self._band is self else self._band
        return None if line is None else line.value

    def priority(self) -> str | None:
        return _priority(self.grade(), self.band())

    def bant_count(self) -> int:
        return sum(1 for flag in BANT_FLAGS if self.bant.get(flag))

    def prop(self, name: str):
        """An event property; the JSON text of a stored event is parsed on first use."""
        props = self.props
        if props.__class__ is str:
            parsed = _PARSED.get(props)
            if parsed is None:
                if len(_PARSED) >= _PARSED_MAX:
                    _PARSED.clear()
                parsed = _PARSED[props] = read_stored(props)
            props = self.props = parsed
        value = props.get(name)
        if value is not None and self.rules.missing and value in self.rules.missing:
            return None
        return value

    def days_in_stage(self) -> int | None:
        return None if self.entered_at is None else (self.now - self.entered_at) // DAY

    def days_since_activity(self) -> int | None:
        return None if self.last_activity is None else (self.now - self.last_activity) // DAY

    def count_within(self, event: str, window: int) -> int:
        """Events of a type in (now - window, now]; none before the first event (a disqualify
        line reading a count is tried on the profile alone, when there is no now yet)."""
        times = self.counts[event]
        if self.now is None:
            return 0
        return len(times) - bisect_right(times, self.now - window)

    # Points ------------------------------------------------------------------------------------

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
            earned = self.earned.setdefault(rule.index, [])
            earned.append(ts)
            if rule.horizon is not None and earned[0] <= ts - rule.horizon:  # out of every window
                del earned[:bisect_right(earned, ts - rule.horizon)]

    def add_points(self, points: int | Decimal, rule: RuleRef, cause: str,
                   basis: str | None = None) -> None:
        """Add points and clamp the score into `score between`."""
        low, high = self.rules.bounds
        score = self.score + points
        if low is not None and score < low:
            score = low
        if high is not None and score > high:
            score = high
        if score != self.score:
            self.score = score
            self.version += 1
        if self.history is not None:
            self.history.append(PointChange(self.now, rule, str(cause), points, score,
                                            basis=basis))

    # Steps ---------------------------------------------------------------------------------------

    def on_event(self, row: tuple) -> None:
        """One event row (lead_id, ts, event_id, type, props as a dict or JSON text), after the
        timers due by then: points, BANT, disqualification, moves and actions."""
        lead_id, ts, event_id, kind, props = row  # replay() fired the timers due by ts
        rules = self.rules
        self.now, self.props = ts, props
        if self.entered_at is None:
            self.entered_at = ts  # the first stage counts from the lead's first event
        if self.history is not None:
            self.history.append(Seen(Event(event_id, lead_id, kind, ts, self._all_props())))
        if kind in self.counts:
            times = self.counts[kind]
            times.append(ts)
            horizon = rules.counted[kind][-1]  # the longest window read
            if times[0] <= ts - horizon:
                del times[:bisect_right(times, ts - horizon)]
        if kind in rules.activity:
            self.last_activity, self.quiet_next = ts, 0
            if rules.quiet:  # the first quiet rule of the new spell, or an earlier timer
                key = ts + rules.quiet[0].quiet + 1
                self.next_key = min(key, self.timers[0][0]) if self.timers else key
        if self.open_slas:
            self._meet_slas(kind, event_id)
        acting: list[ActionSpec] = []
        for rule in rules.scoring.get(kind, ()):
            if rule.where is None or rule.where(self):
                if rule.limits and (limit := self.cap(rule, ts)) is not None:
                    if self.history is not None:
                        self.history.append(PointChange(ts, rule.rule, event_id, 0,
                                                        self.score, limit.text))
                    continue
                self.earn(rule, ts)
                if rule.per is not None:
                    points, basis = rule.per.points_and_basis(self)
                    self.add_points(points, rule.rule, event_id, basis)
                elif rule.points is not None:
                    self.add_points(rule.points, rule.rule, event_id)
                    if rule.within is not None:
                        self._push(ts + rule.within, TIMER_EXPIRE, (rule, event_id))
                    elif rule.decay is not None:
                        self._push(ts + rule.decay.every, TIMER_DECAY,
                                   (rule, event_id, ts, 1, Decimal(rule.points)))
                acting.extend(rule.actions)
            elif self.misses is not None:
                self._missed(rule, event_id)
        if kind == rules.bant_source:
            self.bant = {f: self._flag(f) for f in BANT_FLAGS}
            self.version += 1
        elif kind in rules.bant_resets and (rules.bant_reset_where is None
                                            or rules.bant_reset_where(self)):
            self.bant = {}
            self.version += 1
        moving = self._may_move(kind)
        if moving or acting or not rules.static_disqualify:
            self._settle(kind, event_id, acting, moving)
        elif self.notes:
            self._flush_notes(ts)

    def _missed(self, rule, event_id: str) -> None:
        """In a traced replay: keep this event as the closest miss of a `when` rule or an
        `on EVENT where` move (either has `rule` and `parts`), if it is one."""
        miss = missed(rule.parts, self, event_id)
        if closer(miss, self.misses.get(rule.rule)):
            self.misses[rule.rule] = miss

    def _may_move(self, kind: str | None) -> bool:
        """Whether a move out of the current stage can hold after this step (see StageMoves)."""
        out = self.rules.moves.get(self.stage)
        if out is None:
            return False
        if kind in out.triggers or out.volatile:
            return True
        checked = self.checked  # compared in place: this runs at nearly every step
        return (checked is None or checked[0] != self.stage
                or checked[1] != (self.version if out.dynamic else 0))

    def _all_props(self) -> Mapping[str, str]:
        self.props = _props(self.props)
        return self.props

    def _flag(self, name: str) -> bool:
        raw = self.prop(name)
        value = to_bool(raw)
        if value is None and raw not in (None, "") and self.notes is not None:
            self.notes.add(f"bant.{name}: {raw!r} is not true or false, so it counts as false")
        return value is True

    def _settle(self, kind: str | None, cause: str | QuietCause, acting: Sequence[ActionSpec],
                moving: bool | None = None) -> None:
        """The end of a step: disqualification, stage moves, then the actions. `moving`: what
        `_may_move` said before this step's end, when the caller asked it (None: not asked)."""
        if not self.rules.static_disqualify and self.disqualify(cause):
            if self.notes:
                self._flush_notes(self.now)
            return
        entered = self._move_stages(kind, cause, moving) if moving is not False else ()
        for action in acting:
            self._act(action, None, cause)
        for stage in entered:
            self._enter(stage, cause)
        if self.notes:
            self._flush_notes(self.now)

    def disqualify(self, cause: str | QuietCause) -> bool:
        """Move the lead to Disqualified when a disqualify rule holds."""
        for found in self.rules.disqualify:
            if found.pred(self):
                break
        else:
            return False
        self.moves.append(StageChange(self.now, self.stage, DISQUALIFIED, found.rule,
                                      _text(cause)))
        if self.history is not None:
            self.history.append(self.moves[-1])
        self._leave_stage(cause)
        self.stage, self.disqualified = DISQUALIFIED, found.value
        return True

    def _move_stages(self, kind: str | None, cause: str | QuietCause,
                     may: bool | None = None) -> Sequence[str]:
        """Take the first move out of the current stage that holds, then again from the new
        stage; no stage is entered twice in one step. Returns the stages entered. `may`: True
        when `_may_move` held for the current stage already."""
        entered: list[str] = []  # with `first`, the stages this step has been in
        first = self.stage
        by_stage = self.rules.moves
        while True:
            out = by_stage.get(self.stage)
            if out is None:
                return entered
            # Nothing can hold when no move reacts to this event and what the conditions read
            # has not changed since they last failed in this stage.
            if may:
                may = False  # only for the first stage
            elif not self._may_move(kind):
                return entered
            move, blocked = None, False
            for m in out.moves:
                if m.target == first or m.target in entered:
                    blocked = True  # may hold at a later step, so nothing is cached
                elif m.trigger(self, kind):
                    move = m
                    break
                elif m.parts and m.event == kind and self.misses is not None:  # where failed
                    self._missed(m, cause)
            if move is None:
                if not blocked:
                    self.checked = (self.stage, self.version if out.dynamic else 0)
                return entered
            self.moves.append(StageChange(self.now, self.stage, move.target, move.rule,
                                          _text(cause)))
            if self.history is not None:
                self.history.append(self.moves[-1])
            self._leave_stage(cause)
            self.stage, self.entered_at = move.target, self.now
            entered.append(move.target)

    def _enter(self, stage: str, cause: str | QuietCause) -> None:
        """The actions of entering a stage, and the SLAs it starts."""
        done: set[str] = set()  # action kinds that fired, for `otherwise`
        for entry in self.rules.entering.get(stage, ()):
            kind = entry.action.kind
            if (entry.otherwise and kind not in done) or (
                    not entry.otherwise and (entry.pred is None or entry.pred(self))):
                done.add(kind)
                self._act(entry.action, stage, cause)
        for rule in self.rules.slas.get(stage, ()):
            sla = [rule, self.now, self.now + rule.window, "pending", None, None]
            self.slas.append(sla)
            self.open_slas.append(sla)
            self._push(self.now + rule.window + 1, TIMER_SLA, sla)  # overdue once the deadline passed

    def _act(self, action: ActionSpec, stage: str | None, cause: str | QuietCause) -> None:
        taken = ActionTaken(self.now, action.kind, action.value, stage, action.rule,
                            _text(cause))
        self.actions.append(taken)
        if self.history is not None:
            self.history.append(taken)
        if action.kind == "assign":
            self.owner = action.value

    def _meet_slas(self, kind: str, cause: str) -> None:
        for sla in [s for s in self.open_slas if s[0].event == kind]:
            self._close_sla(sla, "met", cause)

    def _leave_stage(self, cause: str | QuietCause) -> None:
        for sla in self.open_slas[:]:  # (usually none)
            self._close_sla(sla, "left", _text(cause))

    def _close_sla(self, sla: list, outcome: str, cause: str | None) -> None:
        sla[3:6] = [outcome, self.now, cause]
        self.open_slas.remove(sla)
        if self.history is not None:
            self.history.append(_sla_outcome(sla))

    # Timers ------------------------------------------------------------------------------------

    def _push(self, key: int, kind: str, payload) -> None:
        self.seq += 1
        heapq.heappush(self.timers, (key, self.seq, kind, payload))
        if key < self.next_key:
            self.next_key = key

    def _quiet_key(self) -> int:
        """When the next quiet rule of this spell fires: strictly after the spell's end."""
        quiet = self.rules.quiet
        if self.last_activity is None or self.quiet_next >= len(quiet):
            return NEVER
        return self.last_activity + quiet[self.quiet_next].quiet + 1

    def fire_timers(self, until: int) -> None:
        """Fire, in time order, every timer due at or before `until`."""
        while True:
            quiet_key = self._quiet_key()
            timers = self.timers
            heap_key = timers[0][0] if timers else NEVER
            if self.disqualified is not None or (quiet_key > until and heap_key > until):
                self.next_key = quiet_key if quiet_key < heap_key else heap_key
                return
            if quiet_key <= heap_key:
                self._quiet_spell()
            else:
                key, _, kind, payload = heapq.heappop(timers)
                if kind == TIMER_SLA:
                    self._sla_due(payload)
                elif kind == TIMER_EXPIRE:
                    self._expire(key, *payload)
                else:
                    self._decay(key, *payload)

    def _quiet_spell(self) -> None:
        rule = self.rules.quiet[self.quiet_next]
        self.quiet_next += 1
        self.now = self.last_activity + rule.quiet
        self.props = {}
        cause = QuietCause(self.last_activity)
        if rule.points is not None:
            self.add_points(rule.points, rule.rule, cause)
        moving = self._may_move(None)
        if moving or rule.actions or not self.rules.static_disqualify:
            self._settle(None, cause, rule.actions, moving)

    def _sla_due(self, sla: list) -> None:
        if sla[3] == "pending":
            self.now = sla[2]
            sla[3:5] = ["overdue", sla[2]]
            self.open_slas.remove(sla)
            if self.history is not None:
                self.history.append(_sla_outcome(sla))

    def _expire(self, key: int, rule: ScoringRule, event_id: str) -> None:
        """A `within` window closed: the event is no longer younger than the window."""
        self.now, self.props = key, {}
        cause = f"{event_id} older than {_duration(rule.within)}"
        self.add_points(-rule.points, rule.rule, cause)
        self._settle(None, cause, [])

    def _decay(self, key: int, rule: ScoringRule, event_id: str, ts: int, k: int,
               value: Decimal) -> None:
        """The k-th period of a decaying event's points ended: they shrink to points * f ** k."""
        decay = rule.decay
        self.now, self.props = key, {}
        new = rule.points * decay.factor ** k
        if abs(new) < NEGLIGIBLE:
            new = Decimal(0)
        cause = f"{decay.text}: {event_id} is {k * decay.every // DAY} days old"
        self.add_points(new - value, rule.rule, cause)
        if new:
            self._push(ts + (k + 1) * decay.every, TIMER_DECAY, (rule, event_id, ts, k + 1, new))
        self._settle(None, cause, [])

    def _flush_notes(self, ts: int | None) -> None:
        """Move the notes of this step into the history, each text once per replay."""
        if self.notes:
            for text in sorted(self.notes - self.noted):
                self.history.append(Note(ts, text))
            self.noted |= self.notes
            self.notes.clear()


def _text(cause) -> str:
    """A cause as recorded: an event id, or the text of a timer (a QuietCause is written out
    only here, when something records it: formatting its time for every quiet spell was 5%
    of a run)."""
    return cause if cause.__class__ is str else str(cause)


def _props(props) -> Mapping[str, str]:
    return read_stored(props) if props.__class__ is str else props


def read_stored(text: str) -> dict:
    """A JSON object as the store keeps it (a profile, props): compact, as the store wrote it,
    so the scanner alone reads it, at half the time of json.loads (which takes any other)."""
    try:
        return _PARSE(text, 0)[0]
    except StopIteration:  # leading white space, say, from another writer
        return json.loads(text)


class QuietCause:
    """The cause of a quiet-spell timer, written out only when something records it."""

    __slots__ = ("since",)

    def __init__(self, since: int):
        self.since = since

    def __str__(self) -> str:
        return f"no activity since {format_timestamp(self.since)}"


def _sla_outcome(sla: list) -> SlaOutcome:
    rule, entered, due, outcome, ts, cause = sla
    return SlaOutcome(rule.rule, rule.stage, entered, due, outcome, ts, cause)


def _duration(micros: int) -> str:
    days, rest = divmod(micros, DAY)
    if rest == 0:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{micros // 3_600_000_000} hours"


def _priority(grade: str | None, band: int | None) -> str | None:
    """The lead-scoring matrix: grade and band together, "A1" ... "D4"."""
    return None if grade is None or band is None else f"{grade}{band}"


def _first_line(lines: tuple[Guarded, ...], state: LeadState) -> Guarded | None:
    for line in lines:
        if line.pred is None or line.pred(state):
            return line
    return None


def evaluate(rules: CompiledRuleset, lead_id: str, profile: Mapping[str, object],
             events: Iterable[Event], as_of: int, trace: bool = False) -> LeadResult:
    """Replay a lead's events against the rules, in (ts, event id) order whatever order they
    come in, each event id once; the wall clock is never read."""
    return replay(rules, lead_id, profile, event_rows(events), as_of, trace)


def event_rows(events: Iterable[Event]) -> list[tuple]:
    """Events as `replay` takes them: rows in (ts, event id) order, each id once."""
    seen: set[str] = set()
    rows = []
    for e in sorted(events, key=lambda e: (e.ts, e.event_id)):
        if e.event_id not in seen:
            seen.add(e.event_id)
            rows.append((e.lead_id, e.ts, e.event_id, e.type, e.props))
    return rows


def replay(rules: CompiledRuleset, lead_id: str, profile: Mapping[str, object],
           rows: Iterable[tuple], as_of: int, trace: bool = False) -> LeadResult:
    """`evaluate` for event rows (lead_id, ts, event_id, type, props) already in replay order
    with unique ids, as the store's ordered scan gives them; rows after as-of are not applied."""
    state = start(rules, profile, trace)
    return finish(state, lead_id, as_of, advance(state, rows, as_of))


def start(rules: CompiledRuleset, profile: Mapping[str, object], trace: bool = False
          ) -> LeadState:
    """The state of a replay before any event: the profile read, and perhaps disqualified."""
    state = LeadState(rules, profile, trace)
    state.disqualify(PROFILE)
    if trace:
        state._flush_notes(None)
    return state


def advance(state: LeadState, rows: Iterable[tuple], as_of: int) -> int | None:
    """Apply event rows in replay order, each after the timers due by its time, up to as-of;
    returns the time of the first row after as-of, if any. The timers due by as-of itself are
    left to `finish`, so that a saved state (`checkpoint`) can take later rows."""
    rules, trace = state.rules, state.history is not None
    rows = iter(rows)
    if state.disqualified is not None:
        if trace:
            _show_unscored(state, rows, as_of)
        return None
    used = rules.used
    step = None if trace else steps(rules)  # a traced replay records as it goes: on_event
    applied = state.applied
    try:
        for row in rows:
            if row[3] not in used:
                if trace and row[1] <= as_of and row[3] in rules.events:  # shown, changing nothing
                    if row[1] >= state.next_key:  # the timers due before it, shown before it
                        state.fire_timers(row[1])
                        if state.disqualified is not None:
                            _show_unscored(state, itertools.chain((row,), rows), as_of)
                            return None
                    state.history.append(_seen(row))
                continue
            if row[1] > as_of:
                return row[1]
            if row[1] >= state.next_key:
                state.fire_timers(row[1])
                if state.disqualified is not None:  # a timer step, before this event
                    if trace:
                        _show_unscored(state, itertools.chain((row,), rows), as_of)
                    return None
            applied += 1
            state.last_row = row
            if step is None:
                state.on_event(row)
            else:
                step[row[3]](state, row)
            if state.disqualified is not None:  # scored no further
                if trace:
                    _show_unscored(state, rows, as_of)
                return None
        return None
    finally:
        state.applied = applied


def _seen(row: tuple, scored: bool = True) -> Seen:
    return Seen(Event(row[2], row[0], row[3], row[1], _props(row[4])), scored)


def _show_unscored(state: LeadState, rows: Iterable[tuple], as_of: int) -> None:
    """In a traced replay of a disqualified lead: its later events, listed but not scored."""
    first = True
    for row in rows:
        if row[1] > as_of:
            return
        if row[3] in state.rules.events:
            state.history.append(_seen(row, scored=False))
            if first:
                state.history.append(Note(row[1], "not scored, nor are the events after it: "
                                                  "the lead is disqualified"))
                first = False


def finish(state: LeadState, lead_id: str, as_of: int, later: int | None) -> LeadResult:
    """Fire the timers due by as-of and read off the lead's results at as-of."""
    rules = state.rules
    if state.disqualified is None:
        state.fire_timers(as_of)
    state.now = as_of
    state.props = {}
    grade_line, band_line = state.grade_line(), _first_line(rules.bands, state)
    state._band = band_line  # label lines reading `priority` need it once more
    label_line = _first_line(rules.labels, state)
    grade = None if grade_line is None else grade_line.value
    band = None if band_line is None else band_line.value
    label = None if label_line is None else label_line.value
    if state.history is not None:
        state._flush_notes(as_of)
    next_due = later if state.disqualified is None else None
    if state.disqualified is None:
        timer = state.next_key if state.next_key < NEVER else None
        if rules.timed_classes:
            timer = as_of + 1
        if timer is not None and (next_due is None or timer < next_due):
            next_due = timer
    latest_sla = state.slas[-1][3] if state.slas else None
    return LeadResult(
        lead_id=lead_id, score=math.floor(state.score), fit=state.fit, grade=grade, band=band,
        priority=_priority(grade, band), label=label,
        stage=state.stage, disqualified=state.disqualified, owner=state.owner, sla=latest_sla,
        bant=dict(state.bant), events=state.applied, moves=tuple(state.moves),
        actions=tuple(state.actions),
        slas=tuple(map(_sla_outcome, state.slas)) if state.slas else (),
        next_due=next_due, earlier=state.earlier, history=tuple(state.history or ()),
        because={name: line for name, line in (
            ("grade", grade_line), ("band", band_line), ("label", label_line))
            if line is not None}, misses=state.misses or {})
