"""Ruleset to CompiledRuleset: every rule becomes a closure; evaluation never sees the AST."""

from __future__ import annotations

import hashlib
import math
import operator
from datetime import date
from decimal import Decimal
from typing import Callable, Mapping

import attrs

from leadrules.dsl import ast
from leadrules.dsl.check import BUILTINS, Scope, walk
from leadrules.engine.scoring.amounts import PerValue
from leadrules.engine.scoring.whynot import Part
from leadrules.engine.values import READERS, to_bool, to_date, to_number, to_text

Predicate = Callable[[object], bool]
Getter = Callable[[object], object]

DISQUALIFIED = "Disqualified"
DEFAULT_STAGE = "Name"


@attrs.frozen
class RuleRef:
    """Where a rule came from, for history and explanations: `file:line` and its text."""

    path: str
    line: int
    text: str
    # `line N: TEXT`, as explanations show a rule and runs store it: made once, because a run
    # stores it with every stage move and action
    label: str = attrs.field(init=False, eq=False, repr=False,
                             default=attrs.Factory(lambda self: f"line {self.line}: {self.text}",
                                                   takes_self=True))

    @property
    def id(self) -> str:
        return f"{self.path}:{self.line}"


@attrs.frozen
class CountLimit:
    """`once`, `once per D`, `at most N times [per D]`: at most `times` earning events in any
    window (t - window, t], or ever when `window` is None."""

    times: int
    window: int | None
    text: str  # as written, for explanations


@attrs.frozen
class Decaying:
    """`decay P% every D`: after k whole periods an event's points are `points * factor ** k`."""

    factor: Decimal
    every: int
    text: str


@attrs.frozen
class ActionSpec:
    """`assign "OWNER"`, `enroll "CAMPAIGN"` or `alert "TEXT"`, and the rule that holds it."""

    kind: str
    value: str
    rule: RuleRef


@attrs.frozen
class ScoringRule:
    """`when EVENT [where] then ±N [limits] [and ACTION ...]`, ready to run; `index` keys its
    per-lead counts. `points` is None for a rule that only acts."""

    rule: RuleRef
    points: int | None
    where: Predicate | None
    limits: tuple[CountLimit, ...] = ()
    index: int = 0
    within: int | None = None
    decay: Decaying | None = None
    actions: tuple[ActionSpec, ...] = ()
    # How far back the limits look when they all have a window, so that older earnings can be
    # forgotten; None when one counts forever (`once`, `at most N times`) or there are none.
    horizon: int | None = None
    per: PerValue | None = None  # `+N per M PROPERTY`: the points come from the event's value
    parts: tuple[Part, ...] = ()  # the parts of `where`, for `explain --why-not`


@attrs.frozen
class QuietRule:
    """`when no activity for D then ...`: fires once per quiet spell, D after the last activity."""

    rule: RuleRef
    quiet: int
    points: int | None
    actions: tuple[ActionSpec, ...]


@attrs.frozen
class EntryAction:
    """`on entering STAGE ACTION [if COND | otherwise]`."""

    action: ActionSpec
    pred: Predicate | None
    otherwise: bool


@attrs.frozen
class SlaRule:
    """`sla STAGE: EVENT within D`."""

    rule: RuleRef
    stage: str
    event: str
    window: int


@attrs.frozen
class Guarded:
    """A value chosen when its predicate holds (None = otherwise): fit points, a grade, a reason."""

    rule: RuleRef
    value: object
    pred: Predicate | None


@attrs.frozen
class Move:
    """A stage move: to `target` when the trigger holds for the current event."""

    rule: RuleRef
    target: str
    trigger: Callable[[object, str], bool]
    # `on EVENT where COND`: the event and the parts of COND, for `explain --why-not`
    event: str | None = None
    parts: tuple[Part, ...] = ()


@attrs.frozen
class StageMoves:
    """The moves out of one stage, in file order, and what can make one of them hold: an event
    of a type in `triggers`, or a change of the state the conditions read. `dynamic`: some
    condition reads state that points or BANT change; `volatile`: some condition reads event
    properties or the clock, so every step must try the moves."""

    moves: tuple[Move, ...]
    triggers: frozenset[str]
    dynamic: bool
    volatile: bool


@attrs.frozen
class CompiledRuleset:
    """Everything evaluation needs, as plain data and closures."""

    name: str
    path: str
    hash: str
    fields: dict[str, Callable]
    scoring: dict[str, tuple[ScoringRule, ...]]
    bounds: tuple[int | None, int | None]
    fit: tuple[Guarded, ...]
    grades: tuple[Guarded, ...]
    bands: tuple[Guarded, ...]
    labels: tuple[Guarded, ...]
    disqualify: tuple[Guarded, ...]
    bant_source: str | None
    bant_resets: frozenset[str]
    stages: tuple[str, ...]
    moves: dict[str, StageMoves]
    events: frozenset[str]
    used: frozenset[str]  # event types some rule reacts to; the others need not be read
    activity: frozenset[str]
    quiet: tuple[QuietRule, ...]  # shortest spell first
    entering: dict[str, tuple[EntryAction, ...]]
    slas: dict[str, tuple[SlaRule, ...]]  # by stage
    counted: dict[str, tuple[int, ...]]  # event type -> windows `count TYPE within D` reads
    has_decay: bool
    refs: tuple[RuleRef, ...]  # every rule, so that saved replay state can name rules by number
    numbers: dict[RuleRef, int]  # the other way round
    by_ref: dict[RuleRef, object]  # the ScoringRule or SlaRule of a ref: timers and SLAs hold them
    bant_reset_where: Predicate | None  # `reset on ... where COND`: resets only while it holds
    missing: frozenset[str]  # `fields ... missing "Select"`: values that count as absent
    static_grade: bool  # grades read only profile fields and fit: one grade per lead
    static_disqualify: bool  # disqualify rules read only the profile: checked before events
    timed_classes: bool  # grade, band or label read the clock (`days ...`, `count ... within`)
    field_types: dict[str, str] = attrs.field(factory=dict)  # declared fields: name -> type
    properties: tuple[str, ...] = ()  # the event properties rules read, for the store's views
    # engine.evaluate's step function for each event type, written for these rules on first use
    steps: dict = attrs.field(init=False, factory=dict, eq=False, repr=False)
    # a profile's declared fields, each read as declared: {name: read(profile.get(name))}
    read_profile: Callable[[Mapping], dict] = attrs.field(
        init=False, eq=False, repr=False,
        default=attrs.Factory(lambda self: _profile_reader(self.fields), takes_self=True))

    @property
    def first_stage(self) -> str:
        return self.stages[0] if self.stages else DEFAULT_STAGE


def _profile_reader(fields: dict[str, Callable]) -> Callable[[Mapping], dict]:
    """One function reading every declared field of a profile as its type says, written out:
    text, the common case, is the value itself when it is a non-empty str."""
    names: dict[str, object] = {"_text": to_text}
    items = []
    for n, (field, read) in enumerate(fields.items()):
        if read is to_text:
            value = (f"((_v if _v else None) if (_v := p.get({field!r})).__class__ is str "
                     f"else _text(_v))")
        else:
            names[f"_r{n}"] = read
            value = f"_r{n}(p.get({field!r}))"
        items.append(f"{field!r}: {value}")
    return eval(f"lambda p: {{{', '.join(items)}}}", names)  # noqa: S307 (our own source)


# --- conditions ----------------------------------------------------------------------------

SOURCE_DEPTH = 40  # levels of and / or / not written out as source; deeper ones are closures

_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}

_BUILTINS: dict[str, Getter] = {
    "score": lambda s: s.score,  # replaced by the floor of the exact score when rules decay
    "fit": lambda s: s.fit,
    "stage": lambda s: s.stage,
    "grade": lambda s: s.grade(),
    "band": lambda s: s.band(),
    "priority": lambda s: s.priority(),
}

_BANT: dict[str, Getter] = {
    "all": lambda s: s.bant_count() == 4,
    "any": lambda s: s.bant_count() > 0,
    "count": lambda s: s.bant_count(),
    **{flag: (lambda s, f=flag: s.bant.get(f, False))
       for flag in ("budget", "authority", "need", "timeline")},
}


def _plain(value) -> object:
    """The Python value a written value compares as: symbols are their text."""
    return value.name if isinstance(value, ast.Symbol) else value.value


def _reader(values) -> Callable:
    """Numbers compare as numbers, booleans as booleans, everything else as text."""
    if all(isinstance(v, bool) for v in values):
        return to_bool
    if all(isinstance(v, date) for v in values):
        return to_date
    if all(isinstance(v, (int, Decimal)) and not isinstance(v, bool) for v in values):
        return to_number
    return to_text


_READ_AS = {to_number: "a number", to_bool: "true or false", to_date: "a date"}


def _floor_score(s) -> int:
    """The score conditions see: the exact score rounded down to a whole point."""
    return math.floor(s.score)


# Built-ins a condition can read without a call through a getter, as Python source over the
# state `s`; those that may be None (no grade line holds, say) are marked.
_INLINE_BUILTINS = {"fit": ("s.fit", False), "stage": ("s.stage", False),
                    "grade": ("s.grade()", True), "band": ("s.band()", True),
                    "priority": ("s.priority()", True)}
_NUMBER_BUILTINS = frozenset({"score", "fit", "band"})
_TEXT_BUILTINS = frozenset({"stage", "grade", "priority"})  # str or None, never ""
_SOURCE_OPS = {"=": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_BANT_SOURCE = {
    "all": "(_b := s.bant).get('budget') is True and _b.get('authority') is True "
           "and _b.get('need') is True and _b.get('timeline') is True",
    **{flag: f"s.bant.get({flag!r}) is True" for flag in ("budget", "authority", "need",
                                                          "timeline")},
}


class _ConditionCompiler:
    """A condition becomes one Python function, made once per rule. The common parts (the
    score, fit, grade, band, stage, BANT, profile fields read at the start) are written out as
    Python source, so that a test is one call, not one per node; the other parts (event
    properties, the clock, text read from a value) are closures, called from that source."""

    def __init__(self, scope: Scope, ruleset: ast.Ruleset, decays: bool, counted: dict):
        self.scope, self.ruleset, self.counted = scope, ruleset, counted
        self.decays = decays
        self.score = _floor_score if decays else _BUILTINS["score"]
        self.names: dict[str, object] = {}  # what the source refers to, by generated name

    def __call__(self, node, params: str = "s") -> Predicate:
        """The predicate of a condition, taking `params` (the state is `s`)."""
        source = self.source(node)
        if params == "s" and source == "_c0(s)":  # one closure: itself, not a call around it
            return self.names["_c0"]
        return eval(f"lambda {params}: {source}", self.names)  # noqa: S307 (our own source)

    def closure(self, node) -> Predicate:
        return getattr(self, type(node).__name__)(node)

    def name(self, value: object, prefix: str = "_c") -> str:
        """A generated name for a value the source refers to."""
        name = f"{prefix}{len(self.names)}"
        self.names[name] = value
        return name

    def source(self, node, depth: int = 0) -> str:
        """Python source for `node`, with the meaning of its closure, as a bool. Past
        SOURCE_DEPTH levels the rest is one closure: Python's parser refuses source nested
        some 200 parentheses deep (`check` stops conditions well before, at MAX_DEPTH)."""
        if depth > SOURCE_DEPTH:
            return f"{self.name(self.closure(node))}(s)"
        if isinstance(node, (ast.And, ast.Or)):
            joiner = " and " if isinstance(node, ast.And) else " or "
            return "(" + joiner.join(self.source(item, depth + 1) for item in node.items) + ")"
        if isinstance(node, ast.Not):
            return f"(not {self.source(node.item, depth + 1)})"
        written = self.written(node)
        return written if written is not None else f"{self.name(self.closure(node))}(s)"

    def written(self, node) -> str | None:
        """Source for the leaves that read a built-in or a profile field; None for the rest."""
        if isinstance(node, ast.Truthy):
            path = node.ref.path
            if len(path) == 2 and path[0] == "bant" and path[1] in _BANT_SOURCE:
                return f"({_BANT_SOURCE[path[1]]})"
            return None
        if not isinstance(node, (ast.Compare, ast.InList)) or node.ignore_case:
            return None
        left = node.left
        if not isinstance(left, ast.Ref) or len(left.path) != 1:
            return None
        head = left.path[0]
        values = [_plain(node.right)] if isinstance(node, ast.Compare) else \
            [_plain(v) for v in node.values]
        read = _reader(values)
        field = self.read_already(left, read)
        if field:
            value, maybe_none = f"s.profile[{head!r}]", True
        elif head == "score" and head not in self.scope.fields:
            value = "_floor(s.score)" if self.decays else "s.score"
            maybe_none = False
            self.names["_floor"] = math.floor
        elif head in _INLINE_BUILTINS and head not in self.scope.fields:
            value, maybe_none = _INLINE_BUILTINS[head]
        else:
            return None
        if not field and head in _NUMBER_BUILTINS and read is not to_number:
            return None  # `band = "2"`: text against a number, left to the closure
        if not field and head in _TEXT_BUILTINS and read is not to_text:
            return None
        if isinstance(node, ast.Compare):
            rhs = str(values[0]) if read is to_text else values[0]
            test = f"{{}} {_SOURCE_OPS[node.op]} {self.name(rhs)}"
        else:
            allowed = frozenset(str(v) if read is to_text else v for v in values)
            test = f"{{}} {'not in' if node.negated else 'in'} {self.name(allowed, '_a')}"
        if not maybe_none:
            return f"({test.format(value)})"
        var = self.name(None, "_v")  # a local of the lambda (its entry in names is unused)
        return f"(({var} := {value}) is not None and {test.format(var)})"

    def getter(self, ref) -> Getter:
        if isinstance(ref, ast.DaysInStage):
            return lambda s: s.days_in_stage()
        if isinstance(ref, ast.DaysSinceActivity):
            return lambda s: s.days_since_activity()
        if isinstance(ref, ast.CountWithin):
            event, window = ref.event.text, ref.window.micros
            self.counted.setdefault(event, set()).add(window)
            return lambda s: s.count_within(event, window)
        head = ref.path[0]
        if head == "bant" and len(ref.path) == 2:
            return _BANT[ref.path[1]]
        if head == "score":
            return self.score
        if head in _BUILTINS:
            return _BUILTINS[head]
        if head in self.scope.fields:
            return lambda s: s.profile.get(head)
        return lambda s: s.prop(head)

    def read_already(self, left, read) -> bool:
        """Whether `left` is a profile field declared of the type `read` reads: LeadState holds
        it read that way already (and noted at the start if it could not be), so a condition
        can take the value as it is."""
        return (isinstance(left, ast.Ref) and len(left.path) == 1
                and left.path[0] in self.scope.fields
                and READERS[self.scope.fields[left.path[0]]] is read)

    def noting(self, node, read) -> Callable:
        """`read`, noting in a traced replay each value it cannot read (the comparison is false)."""
        if read is to_text:
            return lambda s, raw: to_text(raw)
        condition, wanted = self.ruleset.text_of(node.span), _READ_AS[read]

        def careful(s, raw):
            value = read(raw)
            if value is None and raw is not None and raw != "" and s.notes is not None:
                s.notes.add(f"{raw!r} is not {wanted}, so '{condition}' is false")
            return value
        return careful

    def Compare(self, node: ast.Compare) -> Predicate:
        get, op, rhs = self.getter(node.left), _OPS[node.op], _plain(node.right)
        if node.ignore_case:
            folded = str(rhs).casefold()
            return lambda s: (value := to_text(get(s))) is not None and op(value.casefold(),
                                                                            folded)
        read = _reader([rhs])
        rhs = str(rhs) if read is to_text else rhs
        if self.read_already(node.left, read):
            field = node.left.path[0]

            def compare_field(s):
                value = s.profile[field]
                return value is not None and op(value, rhs)
            return compare_field
        if _is_value(node.left):
            careful = self.noting(node, read)

            def compare_value(s):
                value = careful(s, get(s))
                return value is not None and op(value, rhs)
            return compare_value
        if read is to_number:  # score, fit, band, days, counts: numbers already, or None

            def compare_number(s):
                value = get(s)
                return value is not None and op(value, rhs)
            return compare_number

        def compare(s):
            value = read(get(s))
            return value is not None and op(value, rhs)
        return compare

    def InList(self, node: ast.InList) -> Predicate:
        get, values = self.getter(node.left), [_plain(v) for v in node.values]
        negated = node.negated
        if node.ignore_case:
            folded = frozenset(str(v).casefold() for v in values)
            return lambda s: (value := to_text(get(s))) is not None and (
                (value.casefold() in folded) != negated)
        read = _reader(values)
        allowed = frozenset(str(v) if read is to_text else v for v in values)
        if self.read_already(node.left, read):
            field = node.left.path[0]
            if negated:
                return lambda s: (value := s.profile[field]) is not None and value not in allowed
            return lambda s: s.profile[field] in allowed  # None is in no list
        if not _is_value(node.left):  # a built-in: grade, band, priority, stage

            def member_builtin(s):
                value = get(s)
                return value is not None and ((value in allowed) != negated)
            return member_builtin
        if read is to_text:  # a property or an undeclared field: text as it is, mostly

            def member_text(s):
                value = get(s)
                if value.__class__ is not str:
                    value = to_text(value)
                return bool(value) and ((value in allowed) != negated)  # "" is missing
            return member_text
        careful = self.noting(node, read)

        def member(s):
            value = careful(s, get(s))
            return value is not None and ((value in allowed) != negated)
        return member

    def TextMatch(self, node: ast.TextMatch) -> Predicate:
        get = self.getter(node.left)
        if isinstance(node.value, tuple) or node.ignore_case:
            return self.text_match_any(node, get)
        text = str(_plain(node.value))
        test = {"contains": lambda v: text in v, "starts with": lambda v: v.startswith(text),
                "ends with": lambda v: v.endswith(text)}[node.op]
        if self.read_already(node.left, to_text):  # a text field: read as text at the start
            field = node.left.path[0]
            if node.op == "contains":  # disqualify lines on titles, without a call per test
                return lambda s: (value := s.profile[field]) is not None and text in value
            return lambda s: (value := s.profile[field]) is not None and test(value)

        def match(s):
            value = to_text(get(s))
            return value is not None and test(value)
        return match

    def text_match_any(self, node: ast.TextMatch, get: Getter) -> Predicate:
        """`contains / starts with / ends with` a list (any of its texts), or ignoring case."""
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        fold = str.casefold if node.ignore_case else str
        texts = tuple(fold(str(_plain(v))) for v in values)
        if node.op == "contains":
            test = lambda v: any(t in v for t in texts)  # noqa: E731
        else:  # str.startswith and endswith take a tuple: any of them
            test = (lambda v: v.startswith(texts)) if node.op == "starts with" else (
                lambda v: v.endswith(texts))
        return lambda s: (value := to_text(get(s))) is not None and test(fold(value))

    def IsMissing(self, node: ast.IsMissing) -> Predicate:
        get, negated = self.getter(node.left), node.negated
        return lambda s: (to_text(get(s)) is None) != negated

    def Truthy(self, node: ast.Truthy) -> Predicate:
        get = self.getter(node.ref)
        return lambda s: to_bool(get(s)) is True

    def And(self, node: ast.And) -> Predicate:
        parts = tuple(self.closure(item) for item in node.items)
        if len(parts) == 2:  # the common case, without a generator per test
            first, second = parts
            return lambda s: first(s) and second(s)
        return lambda s: all(p(s) for p in parts)

    def Or(self, node: ast.Or) -> Predicate:
        parts = tuple(self.closure(item) for item in node.items)
        if len(parts) == 2:
            first, second = parts
            return lambda s: first(s) or second(s)
        return lambda s: any(p(s) for p in parts)

    def Not(self, node: ast.Not) -> Predicate:
        inner = self.closure(node.item)
        return lambda s: not inner(s)


def _is_value(left) -> bool:
    """Whether a condition's left side is a field or property, read from text (not a built-in)."""
    return isinstance(left, ast.Ref) and left.path[0] not in _BUILTINS and left.path[0] != "bant"


def compile_condition(node, scope: Scope, ruleset: ast.Ruleset | None = None,
                      decays: bool = False, counted: dict | None = None,
                      params: str = "s") -> Predicate | None:
    """A predicate over the evaluation state, or None for a missing condition. `params`: the
    predicate's parameters, of which the state is `s` (a move trigger also takes the event)."""
    if node is None:
        return None
    ruleset = ruleset if ruleset is not None else ast.Ruleset(())
    compiler = _ConditionCompiler(scope, ruleset, decays, {} if counted is None else counted)
    return compiler(node, params)


_CLOCK = (ast.DaysInStage, ast.DaysSinceActivity, ast.CountWithin)


def _reads(conditions, scope: Scope) -> set[str]:
    """What conditions depend on: 'profile' (fields), 'fit', 'grade', 'clock', 'props' (event
    properties), or 'state' (score, band, priority, stage, BANT)."""
    found: set[str] = set()
    for cond in conditions:
        for node in walk(cond) if cond is not None else ():
            if isinstance(node, _CLOCK):
                found.add("clock")
            elif isinstance(node, ast.Ref):
                head = node.path[0]
                found.add("profile" if head in scope.fields else head if head in ("fit", "grade")
                          else "state" if head in _BUILTINS or head == "bant" else "props")
    return found


# --- statements ----------------------------------------------------------------------------

class _Compiler:
    """Compiles the statements of one ruleset, sharing its scope and condition compiler."""

    def __init__(self, ruleset: ast.Ruleset):
        self.ruleset, self.scope = ruleset, Scope.of(ruleset)
        self.decays = any(isinstance(limit, ast.Decay)
                          for rule in ruleset.of(ast.ScoreRule) for limit in rule.limits)
        self.counted: dict[str, set[int]] = {}
        excluded = {n.text for d in ruleset.of(ast.ActivityExcludes) for n in d.names}
        self.activity = frozenset(self.scope.events) - excluded
        self.refs: dict[RuleRef, None] = {}  # in the order compiled, each once

    def ref(self, node) -> RuleRef:
        ref = RuleRef(self.ruleset.path, node.span.line if node.span else 0,
                      self.ruleset.text_of(node.span))
        self.refs.setdefault(ref, None)
        return ref

    def cond(self, node, params: str = "s") -> Predicate | None:
        return compile_condition(node, self.scope, self.ruleset, self.decays, self.counted,
                                 params)

    def actions(self, node) -> tuple[ActionSpec, ...]:
        return tuple(ActionSpec(a.kind, a.text, self.ref(node)) for a in node.actions)

    def trigger(self, trigger) -> Callable[[object, str | None], bool]:
        """A move trigger as `f(state, event_type) -> bool`; event_type is None for a timer."""
        if isinstance(trigger, ast.OnCondition):  # the condition itself, taking the event too
            return self.cond(trigger.cond, params="s, event_type")
        if isinstance(trigger, ast.OnActivity):
            activity = self.activity
            return lambda s, event_type: event_type in activity
        event, where = trigger.event.text, self.cond(trigger.where)
        if where is None:
            return lambda s, event_type: event_type == event
        return lambda s, event_type: event_type == event and where(s)

    def on_event(self, trigger) -> tuple[str | None, tuple[Part, ...]]:
        """The event and the `where` parts of an `on EVENT where` trigger, else (None, ())."""
        if not isinstance(trigger, ast.OnEvent) or trigger.where is None:
            return None, ()
        return trigger.event.text, self.parts(trigger.where)

    def moves(self, static: set[str]) -> dict[str, StageMoves]:
        """For each stage, the moves out of it in file order, `*` moves included where they
        stand, with what can make them hold. `static`: what `_reads` categories never change
        during a replay."""
        compiled = []
        for m in self.ruleset.of(ast.StageMove):
            if isinstance(m.trigger, ast.OnCondition):
                triggers, reads = frozenset(), _reads([m.trigger.cond], self.scope)
            elif isinstance(m.trigger, ast.OnActivity):
                triggers, reads = self.activity, set()
            else:
                triggers, reads = frozenset({m.trigger.event.text}), set()
            compiled.append((m.source.text if m.source else None, triggers, reads,
                             Move(self.ref(m), m.target.text, self.trigger(m.trigger),
                                  *self.on_event(m.trigger))))
        out, out_of = {}, {}
        for number, c in enumerate(compiled):  # by source: thousands of stages stay linear
            out_of.setdefault(c[0], []).append(number)
        for stage in self.scope.stages:
            mine = [compiled[n] for n in sorted(out_of.get(stage, []) + out_of.get(None, []))]
            reads = set().union(*(c[2] for c in mine)) - static
            out[stage] = StageMoves(tuple(c[3] for c in mine),
                                    frozenset().union(*(c[1] for c in mine)),
                                    dynamic=bool(reads), volatile=bool(reads & {"clock", "props"}))
        return out

    def used(self, scoring, moves: dict[str, StageMoves], quiet, slas) -> frozenset[str]:
        """The event types whose events can change a result."""
        ruleset = self.ruleset
        used = set(scoring) | set(self.counted)
        used |= {n.text for b in ruleset.of(ast.BantDecl) for n in (b.source, *b.resets)}
        used |= {rule.event for rules in slas.values() for rule in rules}
        for stage_moves in moves.values():
            used |= stage_moves.triggers
        clock = any(isinstance(node, _CLOCK) for statement in ruleset.statements
                    for node in walk(statement))
        if clock:  # time passes at every event, and a move reading the clock may then hold
            return frozenset(self.scope.events)
        if quiet:
            used |= self.activity  # the last activity
        return frozenset(used)

    def scoring(self) -> dict[str, tuple[ScoringRule, ...]]:
        scoring: dict[str, list[ScoringRule]] = {}
        for index, rule in enumerate(self.ruleset.of(ast.ScoreRule)):
            counts = tuple(self.count_limit(limit) for limit in rule.limits
                           if isinstance(limit, (ast.Once, ast.AtMost)))
            within = next((lim.window.micros for lim in rule.limits
                           if isinstance(lim, ast.Within)), None)
            decay = next((Decaying(1 - Decimal(lim.percent) / 100, lim.every.micros,
                                   self.ruleset.text_of(lim.span))
                          for lim in rule.limits if isinstance(lim, ast.Decay)), None)
            windows = [limit.window for limit in counts]
            horizon = None if not windows or None in windows else max(windows)
            scoring.setdefault(rule.event.text, []).append(ScoringRule(
                self.ref(rule), rule.points, self.cond(rule.where), counts, index, within, decay,
                self.actions(rule), horizon, self.per_value(rule), self.parts(rule.where)))
        return {event: tuple(rules) for event, rules in scoring.items()}

    def per_value(self, rule: ast.ScoreRule) -> PerValue | None:
        per = rule.per
        if per is None:
            return None
        return PerValue(rule.points, per.per, per.prop.text, per.cap,
                        self.ruleset.text_of(rule.span))

    def parts(self, where) -> tuple[Part, ...]:
        """The parts of a `where` (the items of a top-level `and`), each with its test and
        the values it reads, for `explain --why-not`."""
        if where is None:
            return ()
        getters = _ConditionCompiler(self.scope, self.ruleset, self.decays, {})
        parts = []
        for item in where.items if isinstance(where, ast.And) else (where,):
            reads = {}
            for node in walk(item):
                if isinstance(node, ast.Ref) and node.path[0] != "bant" or isinstance(
                        node, _CLOCK):
                    reads.setdefault(self.ruleset.text_of(node.span), getters.getter(node))
            parts.append(Part(self.ruleset.text_of(item.span), self.cond(item),
                              tuple(reads.items())))
        return tuple(parts)

    def count_limit(self, limit: ast.Once | ast.AtMost) -> CountLimit:
        times = 1 if isinstance(limit, ast.Once) else limit.times
        window = limit.per.micros if limit.per is not None else None
        return CountLimit(times, window, self.ruleset.text_of(limit.span))

    def guarded(self, rules, value_of) -> tuple[Guarded, ...]:
        return tuple(Guarded(self.ref(r), value_of(r), self.cond(r.cond)) for r in rules)

    def entering(self) -> dict[str, tuple[EntryAction, ...]]:
        entering: dict[str, list[EntryAction]] = {}
        for rule in self.ruleset.of(ast.OnEntering):
            action = ActionSpec(rule.action.kind, rule.action.text, self.ref(rule))
            entering.setdefault(rule.stage.text, []).append(
                EntryAction(action, self.cond(rule.cond), rule.otherwise))
        return {stage: tuple(actions) for stage, actions in entering.items()}

    def slas(self) -> dict[str, tuple[SlaRule, ...]]:
        slas: dict[str, list[SlaRule]] = {}
        for rule in self.ruleset.of(ast.Sla):
            slas.setdefault(rule.stage.text, []).append(
                SlaRule(self.ref(rule), rule.stage.text, rule.event.text, rule.window.micros))
        return {stage: tuple(rules) for stage, rules in slas.items()}

    def quiet(self) -> tuple[QuietRule, ...]:
        rules = [QuietRule(self.ref(r), r.quiet.micros, r.points, self.actions(r))
                 for r in self.ruleset.of(ast.InactivityRule)]
        return tuple(sorted(rules, key=lambda r: r.quiet))  # stable: file order among equals

    def build(self) -> CompiledRuleset:
        ruleset, scope = self.ruleset, self.scope
        bant = next(iter(ruleset.of(ast.BantDecl)), None)
        classes = ruleset.of(ast.Classify)

        def of_kind(kind):
            return [c for c in classes if c.kind == kind]
        static_grade = _reads([c.cond for c in of_kind("grade")], scope) <= {"profile", "fit"}
        scoring = self.scoring()
        moves = self.moves({"profile", "fit", "grade"} if static_grade else {"profile", "fit"})
        grades = self.guarded(of_kind("grade"), lambda r: r.value)
        bands = self.guarded(of_kind("band"), lambda r: int(r.value))
        labels = self.guarded(of_kind("label"), lambda r: r.value)
        disqualify = self.guarded(ruleset.of(ast.Disqualify), lambda r: r.reason)
        entering, slas, quiet = self.entering(), self.slas(), self.quiet()
        class_reads = _reads([c.cond for c in classes], scope)
        return CompiledRuleset(
            name=ruleset.name or ruleset.path,
            path=ruleset.path,
            hash=hashlib.sha256(ruleset.source.encode("utf-8")).hexdigest(),
            fields={name: READERS[kind] for name, kind in scope.fields.items()},
            scoring=scoring,
            bounds=next(((b.low, b.high) for b in ruleset.of(ast.ScoreBounds)), (None, None)),
            fit=self.guarded(ruleset.of(ast.FitRule), lambda r: r.points),
            grades=grades,
            bands=bands,
            labels=labels,
            disqualify=disqualify,
            bant_source=bant.source.text if bant else None,
            bant_resets=frozenset(n.text for n in bant.resets) if bant else frozenset(),
            bant_reset_where=self.cond(bant.reset_where) if bant else None,
            missing=frozenset(t for d in ruleset.of(ast.FieldsDecl) for t in d.missing),
            stages=scope.stages,
            moves=moves,
            events=frozenset(scope.events),
            used=self.used(scoring, moves, quiet, slas),
            activity=self.activity,
            quiet=quiet,
            entering=entering,
            slas=slas,
            counted={event: tuple(sorted(w)) for event, w in self.counted.items()},
            has_decay=self.decays,
            refs=tuple(self.refs),
            numbers={ref: number for number, ref in enumerate(self.refs)},
            by_ref={rule.rule: rule for group in (*scoring.values(), *slas.values())
                    for rule in group},
            static_grade=static_grade,
            static_disqualify=_reads([d.cond for d in ruleset.of(ast.Disqualify)],
                                     scope) <= {"profile", "fit"},
            timed_classes="clock" in class_reads,
            field_types=dict(scope.fields),
            properties=_properties(ruleset, scope),
        )


def _properties(ruleset: ast.Ruleset, scope: Scope) -> tuple[str, ...]:
    """The event properties the rules read: the names in `where` conditions that are not
    fields or built-ins, and the BANT flags when a `bant from` event carries them."""
    wheres = [node.where for statement in ruleset.statements for node in walk(statement)
              if isinstance(node, (ast.ScoreRule, ast.OnEvent)) and node.where is not None]
    found = dict.fromkeys(ref.path[0] for where in wheres for ref in walk(where)
                          if isinstance(ref, ast.Ref) and ref.path[0] not in scope.fields
                          and ref.path[0] not in (*BUILTINS, "bant"))
    if ruleset.of(ast.BantDecl):
        found.update(dict.fromkeys(("budget", "authority", "need", "timeline")))
    return tuple(found)


def compile_ruleset(ruleset: ast.Ruleset) -> CompiledRuleset:
    """Compile a checked ruleset once; the result is reused for every lead."""
    return _Compiler(ruleset).build()
