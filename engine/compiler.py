"""Ruleset to CompiledRuleset: every rule becomes a closure; evaluation never sees the AST."""

from __future__ import annotations

import hashlib
import operator
from datetime import date
from decimal import Decimal
from typing import Callable

import attrs

from dsl import ast
from dsl.check import Scope, walk
from dsl.errors import Diagnostic, RulesError
from engine.values import READERS, to_bool, to_date, to_number, to_text

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
class ScoringRule:
    """`when EVENT [where] then ±N [limits]`, ready to run; `index` keys its per-lead counts."""

    rule: RuleRef
    points: int
    where: Predicate | None
    limits: tuple[CountLimit, ...] = ()
    index: int = 0


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
    disqualify: tuple[Guarded, ...]
    bant_source: str | None
    bant_resets: frozenset[str]
    stages: tuple[str, ...]
    moves: dict[str, tuple[Move, ...]]
    events: frozenset[str]
    activity: frozenset[str]

    @property
    def first_stage(self) -> str:
        return self.stages[0] if self.stages else DEFAULT_STAGE


# --- conditions ----------------------------------------------------------------------------

_OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
        ">": operator.gt, ">=": operator.ge}

_BUILTINS: dict[str, Getter] = {
    "score": lambda s: s.score,
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


class _ConditionCompiler:
    """One closure per condition node; names resolved once, here."""

    def __init__(self, scope: Scope, in_where: bool):
        self.scope, self.in_where = scope, in_where

    def __call__(self, node) -> Predicate:
        return getattr(self, type(node).__name__)(node)

    def getter(self, ref: ast.Ref) -> Getter:
        head = ref.path[0]
        if head == "bant" and len(ref.path) == 2:
            return _BANT[ref.path[1]]
        if head in _BUILTINS:
            return _BUILTINS[head]
        if head in self.scope.fields:
            return lambda s: s.profile.get(head)
        return lambda s: s.props.get(head)

    def Compare(self, node: ast.Compare) -> Predicate:
        get, op, rhs = self.getter(node.left), _OPS[node.op], _plain(node.right)
        read = _reader([rhs])
        rhs = str(rhs) if read is to_text else rhs

        def compare(s):
            value = read(get(s))
            return value is not None and op(value, rhs)
        return compare

    def InList(self, node: ast.InList) -> Predicate:
        get, values = self.getter(node.left), [_plain(v) for v in node.values]
        read = _reader(values)
        allowed = frozenset(str(v) if read is to_text else v for v in values)
        negated = node.negated

        def member(s):
            value = read(get(s))
            return value is not None and ((value in allowed) != negated)
        return member

    def TextMatch(self, node: ast.TextMatch) -> Predicate:
        get, text = self.getter(node.left), str(_plain(node.value))
        test = {"contains": lambda v: text in v, "starts with": lambda v: v.startswith(text),
                "ends with": lambda v: v.endswith(text)}[node.op]

        def match(s):
            value = to_text(get(s))
            return value is not None and test(value)
        return match

    def IsMissing(self, node: ast.IsMissing) -> Predicate:
        get, negated = self.getter(node.left), node.negated
        return lambda s: (to_text(get(s)) is None) != negated

    def Truthy(self, node: ast.Truthy) -> Predicate:
        get = self.getter(node.ref)
        return lambda s: to_bool(get(s)) is True

    def And(self, node: ast.And) -> Predicate:
        parts = tuple(self(item) for item in node.items)
        return lambda s: all(p(s) for p in parts)

    def Or(self, node: ast.Or) -> Predicate:
        parts = tuple(self(item) for item in node.items)
        return lambda s: any(p(s) for p in parts)

    def Not(self, node: ast.Not) -> Predicate:
        inner = self(node.item)
        return lambda s: not inner(s)


def compile_condition(node, scope: Scope, in_where: bool = False) -> Predicate | None:
    """A predicate over the evaluation state, or None for a missing condition."""
    return None if node is None else _ConditionCompiler(scope, in_where)(node)


# --- statements ----------------------------------------------------------------------------

def _triggers(trigger, scope: Scope, activity: frozenset[str]) -> Callable[[object, str], bool]:
    """A move trigger as `f(state, event_type) -> bool`."""
    if isinstance(trigger, ast.OnCondition):
        cond = compile_condition(trigger.cond, scope)
        return lambda s, event_type: cond(s)
    if isinstance(trigger, ast.OnActivity):
        return lambda s, event_type: event_type in activity
    event, where = trigger.event.text, compile_condition(trigger.where, scope, in_where=True)
    if where is None:
        return lambda s, event_type: event_type == event
    return lambda s, event_type: event_type == event and where(s)


def _moves(ruleset: ast.Ruleset, scope: Scope, activity, ref) -> dict[str, tuple[Move, ...]]:
    """For each stage, the moves out of it in file order, `*` moves included where they stand."""
    compiled = [(m.source.text if m.source else None,
                 Move(ref(m), m.target.text, _triggers(m.trigger, scope, activity)))
                for m in ruleset.of(ast.StageMove)]
    return {stage: tuple(move for source, move in compiled if source in (stage, None))
            for stage in scope.stages}


def _count_limit(limit: ast.Once | ast.AtMost, ruleset: ast.Ruleset) -> CountLimit:
    times = 1 if isinstance(limit, ast.Once) else limit.times
    window = limit.per.micros if limit.per is not None else None
    return CountLimit(times, window, ruleset.text_of(limit.span))


def _guarded(rules, value_of, scope: Scope, ref) -> tuple[Guarded, ...]:
    return tuple(Guarded(ref(r), value_of(r), compile_condition(r.cond, scope)) for r in rules)


# Constructs the language accepts and `check` checks, but the evaluator does not run yet.
NOT_EVALUATED_YET = {
    ast.Within: "'within' windows", ast.Decay: "'decay'", ast.Action: "actions",
    ast.InactivityRule: "quiet-spell rules ('when no activity for ...')", ast.Sla: "SLAs",
    ast.DaysInStage: "'days in stage'", ast.DaysSinceActivity: "'days since last activity'",
    ast.CountWithin: "'count ... within'",
}


def _refuse_unevaluated(ruleset: ast.Ruleset) -> None:
    """RulesError naming every construct this evaluator cannot run, rather than ignoring it."""
    found = []
    for statement in ruleset.statements:
        for node in walk(statement):
            what = NOT_EVALUATED_YET.get(type(node))
            if isinstance(node, ast.Classify) and node.kind == "label":
                what = "labels"
            if what:
                found.append(Diagnostic("not-evaluated-yet", f"{what} are checked but not yet "
                                        "evaluated by this version of leadrules", node.span or
                                        statement.span, hint="remove this to run the ruleset"))
    if found:
        raise RulesError(found, {ruleset.path: ruleset.source})


def compile_ruleset(ruleset: ast.Ruleset) -> CompiledRuleset:
    """Compile a checked ruleset once; the result is reused for every lead."""
    _refuse_unevaluated(ruleset)
    scope = Scope.of(ruleset)

    def ref(node) -> RuleRef:
        return RuleRef(ruleset.path, node.span.line if node.span else 0, ruleset.text_of(node.span))

    scoring: dict[str, list[ScoringRule]] = {}
    for index, rule in enumerate(ruleset.of(ast.ScoreRule)):
        where = compile_condition(rule.where, scope, in_where=True)
        limits = tuple(_count_limit(limit, ruleset) for limit in rule.limits)
        scoring.setdefault(rule.event.text, []).append(
            ScoringRule(ref(rule), rule.points, where, limits, index))
    bounds = next(((b.low, b.high) for b in ruleset.of(ast.ScoreBounds)), (None, None))
    excluded = {n.text for d in ruleset.of(ast.ActivityExcludes) for n in d.names}
    activity = frozenset(scope.events) - excluded
    bant = next(iter(ruleset.of(ast.BantDecl)), None)
    classes = ruleset.of(ast.Classify)
    return CompiledRuleset(
        name=ruleset.name or ruleset.path,
        path=ruleset.path,
        hash=hashlib.sha256(ruleset.source.encode("utf-8")).hexdigest(),
        fields={name: READERS[kind] for name, kind in scope.fields.items()},
        scoring={event: tuple(rules) for event, rules in scoring.items()},
        bounds=bounds,
        fit=_guarded(ruleset.of(ast.FitRule), lambda r: r.points, scope, ref),
        grades=_guarded([c for c in classes if c.kind == "grade"], lambda r: r.value, scope, ref),
        bands=_guarded([c for c in classes if c.kind == "band"], lambda r: int(r.value), scope, ref),
        disqualify=_guarded(ruleset.of(ast.Disqualify), lambda r: r.reason, scope, ref),
        bant_source=bant.source.text if bant else None,
        bant_resets=frozenset(n.text for n in bant.resets) if bant else frozenset(),
        stages=scope.stages,
        moves=_moves(ruleset, scope, activity, ref),
        events=frozenset(scope.events),
        activity=activity,
    )
