"""The rules language as data: frozen attrs nodes whose source span equality ignores."""

from __future__ import annotations

import functools
from datetime import date
from decimal import Decimal
from typing import Union

import attrs

from leadrules.dsl.errors import Span, source_lines


@functools.lru_cache(maxsize=4)
def _lines(source: str) -> tuple[str, ...]:
    """The lines of a ruleset's text, split once: the compiler asks for the text of every rule,
    and splitting the whole file each time made compiling quadratic in its length."""
    return tuple(source_lines(source))


def _span():
    return attrs.field(default=None, eq=False, repr=False, kw_only=True)


def node(cls):
    """A frozen AST node with a keyword-only `span` that equality and repr ignore."""
    cls.__annotations__["span"] = "Span | None"
    cls.span = _span()
    return attrs.frozen(cls)


# --- names and values --------------------------------------------------------------------

@node
class Name:
    """A declared or referenced name: an event, a field, a stage."""
    text: str


@node
class Ref:
    """A name inside a condition: a lead field, an event property or a built-in (`bant.all`)."""
    path: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@node
class Literal:
    """A written value: a string, an int, a Decimal, a boolean or a date."""
    value: Union[str, int, Decimal, bool, date]


MICROS_PER = {"hours": 3_600_000_000, "days": 86_400_000_000, "weeks": 604_800_000_000}


@node
class Duration:
    """`30 days`, `2 weeks`, `12 hours`; the unit is always stored in the plural."""
    amount: int
    unit: str

    @property
    def micros(self) -> int:
        return self.amount * MICROS_PER[self.unit]


@node
class DaysInStage:
    """The built-in `days in stage`: whole days since the lead entered its current stage."""


@node
class DaysSinceActivity:
    """The built-in `days since last activity`."""


@node
class CountWithin:
    """`count EVENT within D`: how many such events in the window ending at the current moment."""
    event: Name
    window: Duration


Operand = Union[Ref, DaysInStage, DaysSinceActivity, CountWithin]


@node
class Symbol:
    """A bare word used as a value, such as the grade letter in `grade in [A, B]`."""
    name: str


Value = Union[Literal, Symbol]


# --- conditions ----------------------------------------------------------------------------

@node
class Compare:
    """`left OP right` with OP one of = != < <= > >=."""
    left: object
    op: str
    right: Value
    ignore_case: bool = False  # `... ignoring case` (for = and != with text)


@node
class InList:
    """`left in [...]`, or `left not in [...]` when negated."""
    left: Ref
    values: tuple[Value, ...]
    negated: bool = False
    ignore_case: bool = False


@node
class TextMatch:
    """`left contains / starts with / ends with VALUE` (or `[V, ...]`: any of them)."""
    left: Ref
    op: str
    value: Union[Value, tuple]
    ignore_case: bool = False


@node
class IsMissing:
    """`left is missing`, or `left is set` when negated."""
    left: Ref
    negated: bool = False


@node
class Truthy:
    """A name used alone as a condition, such as `bant.all`."""
    ref: Ref


@node
class And:
    """All of the items hold."""
    items: tuple


@node
class Or:
    """Any of the items holds."""
    items: tuple


@node
class Not:
    """The item does not hold."""
    item: object


Condition = Union[Compare, InList, TextMatch, IsMissing, Truthy, And, Or, Not]


# --- statements ----------------------------------------------------------------------------

@node
class RulesetName:
    """`ruleset "NAME"`."""
    name: str


@node
class EventsDecl:
    """`events a, b, c`: the event types the rules may refer to."""
    names: tuple[Name, ...]


@node
class ActivityExcludes:
    """`activity excludes a, b`: declared events that do not count as activity."""
    names: tuple[Name, ...]


@node
class FieldDecl:
    """`name: type` inside `fields`."""
    name: Name
    type: Name


@node
class FieldsDecl:
    """`fields title: text, employees: number [missing "Select", "NaN"]`."""
    fields: tuple[FieldDecl, ...]
    missing: tuple[str, ...] = ()  # cell texts that mean "no value", in profiles and events


@node
class Once:
    """Limit `once` (per lead, ever) or `once per D`."""
    per: Duration | None = None


@node
class AtMost:
    """Limit `at most N times [per D]`, counted over the events that earned points."""
    times: int
    per: Duration | None = None


@node
class Within:
    """`within D`: the points count only while the event is younger than D."""
    window: Duration


@node
class Decay:
    """`decay P% every D`: the points shrink stepwise with the event's age."""
    percent: Union[int, Decimal]
    every: Duration


Limit = Union[Once, AtMost, Within, Decay]


@node
class PerValue:
    """`+N per M PROPERTY [up to CAP]`: N points for every whole M of the event's number."""
    per: Union[int, Decimal]
    prop: Name
    cap: int | None = None


@node
class Action:
    """`assign "OWNER"`, `enroll "CAMPAIGN"` or `alert "TEXT"`."""
    kind: str
    text: str


@node
class ScoreRule:
    """`when EVENT [where COND] then ±N [limits] [and ACTION ...]`, or `then ACTION`."""
    event: Name
    where: Condition | None
    points: int | None
    limits: tuple = ()
    actions: tuple[Action, ...] = ()
    per: PerValue | None = None


@node
class InactivityRule:
    """`when no activity for D then ±N | ACTION`: once per quiet spell."""
    quiet: Duration
    points: int | None
    actions: tuple[Action, ...] = ()


@node
class ScoreBounds:
    """`score between LOW and HIGH`: the score is clamped after every change."""
    low: int
    high: int


@node
class FitRule:
    """`fit ±N if COND` over profile fields."""
    points: int
    cond: Condition


@node
class Classify:
    """`grade A if COND`, `band 1 otherwise`, `label hot if COND`: the first line that holds
    gives the class."""
    kind: str
    value: str
    cond: Condition | None


@node
class OnEntering:
    """`on entering STAGE ACTION [if COND | otherwise]`."""
    stage: Name
    action: Action
    cond: Condition | None = None
    otherwise: bool = False


@node
class Sla:
    """`sla STAGE: EVENT within D`."""
    stage: Name
    event: Name
    window: Duration


@node
class Entered:
    """Goal measure `entered STAGE`: how many leads entered it."""
    stage: Name


@node
class Conversion:
    """Goal measure `conversion FROM -> TO`, a percentage."""
    source: Name
    target: Name


@node
class LeadsIn:
    """Goal measure `leads in STAGE`."""
    stage: Name


@node
class MedianDays:
    """Goal measure `median days FROM -> TO`: the median of the days leads took from entering
    FROM to entering TO."""
    source: Name
    target: Name


@node
class Goal:
    """`goal "NAME": MEASURE OP VALUE [where COND] [between DATE and DATE | by DATE]`; `where`
    counts only the leads for which COND holds."""
    name: str
    measure: Union[Entered, Conversion, LeadsIn, MedianDays]
    op: str
    target: Union[int, Decimal]
    percent: bool = False
    start: date | None = None
    end: date | None = None
    where: Condition | None = None


@node
class Disqualify:
    """`disqualify "REASON" if COND`."""
    reason: str
    cond: Condition


@node
class BantDecl:
    """`bant from EVENT, reset on EVENT, ... [where COND]`."""
    source: Name
    resets: tuple[Name, ...]
    reset_where: object = None  # a Condition: the resets count only while it holds


@node
class StagesDecl:
    """`stages A, B, C`: the funnel in order; a lead starts in the first."""
    names: tuple[Name, ...]


@node
class OnCondition:
    """Trigger `if COND`: the move is taken when COND holds after an event."""
    cond: Condition


@node
class OnEvent:
    """Trigger `on EVENT [where COND]`."""
    event: Name
    where: Condition | None


@node
class OnActivity:
    """Trigger `on any activity`."""


@node
class StageMove:
    """`stage FROM -> TO trigger`; FROM is None for `*` (any stage)."""
    source: Name | None
    target: Name
    trigger: Union[OnCondition, OnEvent, OnActivity]


Statement = Union[RulesetName, EventsDecl, ActivityExcludes, FieldsDecl, ScoreRule,
                  InactivityRule, ScoreBounds, FitRule, Classify, Disqualify, BantDecl, StagesDecl,
                  StageMove, OnEntering, Sla, Goal]


@attrs.frozen
class Ruleset:
    """A parsed rule file: its statements in file order, and the text they came from."""

    statements: tuple
    path: str = attrs.field(default="<rules>", eq=False)
    source: str = attrs.field(default="", eq=False, repr=False)

    def of(self, *kinds: type) -> list:
        """The statements of the given node classes, in file order."""
        return [s for s in self.statements if isinstance(s, kinds)]

    @property
    def name(self) -> str | None:
        found = self.of(RulesetName)
        return found[0].name if found else None

    def text_of(self, span: Span | None) -> str:
        """The source text a span covers, continuation lines joined with single spaces."""
        if span is None:
            return ""
        lines = list(_lines(self.source)[span.line - 1:span.end_line])
        if not lines:
            return ""
        lines[-1] = lines[-1][:span.end_col - 1]
        lines[0] = lines[0][span.col - 1:]
        return " ".join(line.strip() for line in lines if line.strip())
