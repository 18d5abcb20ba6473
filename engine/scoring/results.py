"""What a replay produces: a lead's result and the history behind it (point changes, stage
moves, actions, SLA outcomes, what was seen and noted), and the names they share."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

import attrs

from leadrules.engine.events import Event
from leadrules.engine.scoring.compiler import Guarded, RuleRef

BANT_FLAGS = ("budget", "authority", "need", "timeline")
PROFILE = "profile"  # the cause of what a lead's profile did, before any event
TIMER_SLA, TIMER_EXPIRE, TIMER_DECAY = "sla", "expire", "decay"  # timer kinds, besides quiet spells


@attrs.define  # not frozen, for speed, as LeadResult
class StageChange:
    """A stage move: when, from where to where, by which rule, caused by which event or timer."""

    ts: int | None
    source: str | None
    target: str
    rule: RuleRef | None
    cause: str


@attrs.frozen
class PointChange:
    """Points a rule added or took away, and the exact score after clamping. A rule that matched
    but was capped is recorded with delta 0 and the limit that capped it."""

    ts: int
    rule: RuleRef
    cause: str
    delta: int | Decimal
    score: int | Decimal
    capped_by: str | None = None
    basis: str | None = None  # `+N per M PROPERTY`: the value the points came from


@attrs.define  # not frozen, for speed, as LeadResult
class ActionTaken:
    """An action a rule asked for: assign an owner, enroll in a campaign, or alert."""

    ts: int
    kind: str
    value: str
    stage: str | None  # the stage entered, for `on entering`; None for `when ... then`
    rule: RuleRef
    cause: str


@attrs.frozen
class SlaOutcome:
    """One entry into an SLA's stage and what became of it: `met` (the event came in time),
    `overdue` (the deadline passed), `left` (the lead left the stage first) or `pending`."""

    rule: RuleRef
    stage: str
    entered: int
    due: int
    outcome: str
    ts: int | None = None  # when the outcome was decided
    cause: str | None = None  # the event that met it


@attrs.frozen
class Seen:
    """In a traced replay: an event of a declared type, in its place. `scored` is False for an
    event after the lead was disqualified, which is listed but changes nothing."""

    event: Event
    scored: bool = True


@attrs.frozen
class Note:
    """In a traced replay: something worth knowing, such as a value that could not be read."""

    ts: int | None
    text: str


@attrs.define  # not frozen, which took 4% of a replay; nothing changes a result once made
class LeadResult:
    """Everything evaluation says about one lead at the as-of time."""

    lead_id: str
    score: int
    fit: int
    grade: str | None
    band: int | None
    priority: str | None
    label: str | None
    stage: str
    disqualified: str | None
    owner: str | None
    sla: str | None  # the outcome of the latest SLA entry, if any
    bant: Mapping[str, bool]
    events: int  # the events applied: of types some rule reacts to, up to disqualification
    moves: tuple[StageChange, ...]
    actions: tuple[ActionTaken, ...] = ()
    slas: tuple[SlaOutcome, ...] = ()
    next_due: int | None = None  # the earliest as-of at which this result can change by itself
    # Resumed from a saved state (engine.run does that): the stage moves and actions made before
    # it, which `moves` and `actions` leave out, because the run that saved it stored them.
    earlier: tuple[int, int] = (0, 0)
    history: tuple = ()  # traced replays: Seen, PointChange, StageChange, ActionTaken, SlaOutcome,
    # Note in the order they happened, and at the end the lines that gave grade, band and label
    because: Mapping[str, Guarded] = attrs.field(factory=dict)
    # traced replays: per `when` rule (by its RuleRef) whose `where` failed at some event, the
    # closest miss (engine.scoring.whynot), for `explain --why-not`; not part of the result
    misses: Mapping = attrs.field(factory=dict, eq=False, repr=False)

    @property
    def points(self) -> tuple[PointChange, ...]:
        return tuple(h for h in self.history if isinstance(h, PointChange))
