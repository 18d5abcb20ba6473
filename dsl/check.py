"""Static checks: a list of small passes over a parsed ruleset, each yielding diagnostics."""

from __future__ import annotations

import difflib
import functools
from datetime import date
from decimal import Decimal
from typing import Callable, Iterator

import attrs

from leadrules.dsl import ast
from leadrules.dsl.errors import Diagnostic

BUILTINS = ("score", "fit", "grade", "band", "priority", "stage")
BANT_MEMBERS = ("all", "any", "count", "budget", "authority", "need", "timeline")


def walk(node) -> Iterator:
    """The node and every node below it, depth first, in field order. An explicit stack, not
    recursion: every pass walks every condition, and a generator per level made that cost
    grow with the depth (and reach Python's recursion limit)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        below = []
        for name in _child_fields(type(node)):
            value = getattr(node, name)
            below.extend(child for child in (value if isinstance(value, tuple) else (value,))
                         if _is_node(type(child)))
        stack.extend(reversed(below))


@functools.cache
def _is_node(cls: type) -> bool:
    return attrs.has(cls)


@functools.cache
def _child_fields(cls: type) -> tuple[str, ...]:
    """The fields of a node class that may hold nodes: all but its span."""
    return tuple(f.name for f in attrs.fields(cls) if f.name != "span") if attrs.has(cls) else ()


def suggest(word: str, known) -> str | None:
    """A "did you mean" hint naming the closest known word, if any is close."""
    close = difflib.get_close_matches(word, sorted(known), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


@attrs.frozen
class Scope:
    """What a ruleset declares: its events, fields with types, and stages in order."""

    events: tuple[str, ...]
    fields: dict[str, str]
    stages: tuple[str, ...]
    has_bant: bool

    @classmethod
    def of(cls, ruleset: ast.Ruleset) -> "Scope":
        events = tuple(n.text for d in ruleset.of(ast.EventsDecl) for n in d.names)
        fields = {f.name.text: f.type.text for d in ruleset.of(ast.FieldsDecl) for f in d.fields}
        stages = tuple(n.text for d in ruleset.of(ast.StagesDecl) for n in d.names)
        return cls(events, fields, stages, bool(ruleset.of(ast.BantDecl)))


def _error(code, node, message, hint=None, severity="error") -> Diagnostic:
    return Diagnostic(code, message, node.span, severity=severity, hint=hint)


def declared_once(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A name is declared once, and no field is named like a built-in; `ruleset`, `stages`,
    `bant` and `score between` appear once."""
    for kind, nodes in (("event", [n for d in ruleset.of(ast.EventsDecl) for n in d.names]),
                        ("field", [f.name for d in ruleset.of(ast.FieldsDecl) for f in d.fields]),
                        ("stage", [n for d in ruleset.of(ast.StagesDecl)[:1] for n in d.names])):
        seen: set[str] = set()
        for name in nodes:
            if name.text in seen:
                yield _error("duplicate-declaration", name, f"{kind} '{name.text}' is declared twice",
                             hint="remove one of them")
            seen.add(name.text)
    for field in (f for d in ruleset.of(ast.FieldsDecl) for f in d.fields):
        if field.name.text in (*BUILTINS, "bant"):  # conditions would read the built-in
            yield _error("reserved-name", field.name, f"'{field.name.text}' is a built-in name: "
                         "conditions on it read the lead's own, never this field",
                         hint=f"call the field another name, like crm_{field.name.text}, and "
                              f"map the column at ingest: --map '{field.name.text}="
                              f"crm_{field.name.text}'")
    for cls, words in ((ast.RulesetName, "ruleset"), (ast.StagesDecl, "stages"),
                       (ast.BantDecl, "bant from"), (ast.ScoreBounds, "score between")):
        for extra in ruleset.of(cls)[1:]:
            yield _error("duplicate-declaration", extra, f"'{words}' may appear only once",
                         hint="merge the two lines into one")


# Where names of events and stages stand in the tree: node class -> its attributes.
EVENT_NAMES = {ast.ScoreRule: ("event",), ast.OnEvent: ("event",), ast.BantDecl: ("source", "resets"),
               ast.ActivityExcludes: ("names",), ast.Sla: ("event",), ast.CountWithin: ("event",)}
STAGE_NAMES = {ast.StageMove: ("source", "target"), ast.OnEntering: ("stage",), ast.Sla: ("stage",),
               ast.Entered: ("stage",), ast.LeadsIn: ("stage",), ast.Conversion: ("source", "target"),
               ast.MedianDays: ("source", "target")}


def _names(ruleset: ast.Ruleset, table: dict) -> Iterator[ast.Name]:
    """Every name standing where the table says, in file order."""
    for statement in ruleset.statements:
        for node in walk(statement):
            for attribute in table.get(type(node), ()):
                value = getattr(node, attribute)
                yield from (v for v in (value if isinstance(value, tuple) else (value,)) if v)


def events_known(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every event a rule names is declared in `events`."""
    for name in _names(ruleset, EVENT_NAMES):
        if name.text not in scope.events:
            yield _error("unknown-event", name, f"unknown event '{name.text}'",
                         hint=suggest(name.text, scope.events) or "declare it in the events line")


def stages_known(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every stage a rule names is declared in `stages` (or is the built-in Disqualified)."""
    names = list(_names(ruleset, STAGE_NAMES))
    if names and not scope.stages:
        yield _error("missing-stages", names[0], "stages are named but there is no 'stages' line",
                     hint="list the funnel in order, e.g. stages Name, Lead, Customer")
        return
    for name in names:
        if name.text not in scope.stages and name.text != "Disqualified":
            yield _error("unknown-stage", name, f"unknown stage '{name.text}'",
                         hint=suggest(name.text, scope.stages) or "declare it in the stages line")


# Where conditions stand: node class -> (attribute, whether event properties may be named).
CONDITIONS = {ast.ScoreRule: ("where", True), ast.OnEvent: ("where", True),
              ast.FitRule: ("cond", False), ast.Classify: ("cond", False),
              ast.Disqualify: ("cond", False), ast.OnCondition: ("cond", False),
              ast.OnEntering: ("cond", False), ast.BantDecl: ("reset_where", True),
              ast.Goal: ("where", False)}


def _conditions(ruleset: ast.Ruleset) -> Iterator[tuple[object, bool]]:
    """Every condition with whether it is an event's `where` (event properties allowed)."""
    for statement in ruleset.statements:
        for node in walk(statement):
            attribute, in_where = CONDITIONS.get(type(node), (None, False))
            cond = getattr(node, attribute) if attribute else None
            if cond is not None:
                yield cond, in_where


def names_known(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Names in conditions are fields or built-ins; inside `where`, also event properties."""
    for cond, in_where in _conditions(ruleset):
        for ref in (n for n in walk(cond) if isinstance(n, ast.Ref)):
            head = ref.path[0]
            if head == "bant":
                yield from _bant_ref(ref, scope)
            elif len(ref.path) > 1:
                yield _error("unknown-field", ref, f"'{ref.dotted}' is not a name leadrules knows",
                             hint="only bant has members, e.g. bant.all")
            elif head not in scope.fields and head not in BUILTINS and not in_where:
                yield _error("unknown-field", ref, f"unknown field '{head}'",
                             hint=suggest(head, [*scope.fields, *BUILTINS])
                             or "declare it in the fields line")


def _bant_ref(ref: ast.Ref, scope: Scope) -> Iterator[Diagnostic]:
    member = ref.path[1] if len(ref.path) == 2 else None
    if member not in BANT_MEMBERS:
        yield _error("unknown-bant", ref, f"'{ref.dotted}' is not a BANT value",
                     hint=suggest(member or "", BANT_MEMBERS) or
                     "write bant." + ", bant.".join(BANT_MEMBERS))
    elif not scope.has_bant:
        yield _error("undeclared-bant", ref, f"'{ref.dotted}' is used but no 'bant from' line says "
                     "where BANT comes from", hint="add e.g. bant from sales_qualification")


NUMERIC_OPERANDS = (ast.DaysInStage, ast.DaysSinceActivity, ast.CountWithin)


def _kind_of_operand(operand, scope: Scope) -> str | None:
    """What a left-hand side holds: number, text, date, boolean, grade, band; None if unknown."""
    if isinstance(operand, NUMERIC_OPERANDS):
        return "number"
    if len(operand.path) != 1:
        return None
    name = operand.path[0]
    return {"score": "number", "fit": "number", "band": "number", "grade": "grade"}.get(
        name, scope.fields.get(name))


def _kind_of_value(value) -> str:
    if isinstance(value, ast.Symbol):
        return "word"
    v = value.value
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, Decimal)):
        return "number"
    return "date" if isinstance(v, date) else "text"


# Which written values each kind of name may be compared with.
COMPATIBLE = {"number": {"number"}, "text": {"text"}, "date": {"date"},
              "boolean": {"boolean"}, "grade": {"word", "text"}}
SHOWN = {"number": "a number", "text": 'text in quotes', "date": "a date like 2027-12-31",
         "boolean": "true or false", "grade": "a grade letter"}


def types_match(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A name is compared with values of its own type: a number field with numbers, and so on."""
    for cond, _ in _conditions(ruleset):
        for node in walk(cond):
            if isinstance(node, ast.Compare):
                left, values = node.left, (node.right,)
            elif isinstance(node, ast.InList):
                left, values = node.left, node.values
            else:
                continue
            kind = _kind_of_operand(left, scope)
            for value in values:
                if kind in COMPATIBLE and _kind_of_value(value) not in COMPATIBLE[kind]:
                    yield _error("type-mismatch", value, f"{_describe_operand(left)} is "
                                 f"{ARTICLE[kind]} but is compared with {_shown(value)}",
                                 hint=_type_hint(kind, value))


ARTICLE = {"number": "a number", "text": "text", "date": "a date", "boolean": "a boolean",
           "grade": "a grade"}


def _type_hint(kind: str, value) -> str:
    if kind == "text" and _kind_of_value(value) in ("number", "word", "date"):
        raw = value.name if isinstance(value, ast.Symbol) else value.value
        return f'write "{raw}" in quotes'
    return f"compare it with {SHOWN[kind]}"


def _describe_operand(operand) -> str:
    if isinstance(operand, ast.Ref):
        return f"'{operand.dotted}'"
    return {ast.DaysInStage: "'days in stage'", ast.DaysSinceActivity: "'days since last activity'",
            ast.CountWithin: "'count ... within'"}[type(operand)]


def _shown(value) -> str:
    if isinstance(value, ast.Symbol):
        return f"the word {value.name}"
    if isinstance(value.value, str):
        return f'"{value.value}"'
    return str(value.value).lower() if isinstance(value.value, bool) else f"{value.value}"


def limits_fit(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A scoring rule has at most one count limit, and not both `within` and `decay`."""
    for rule in ruleset.of(ast.ScoreRule):
        counts = [lim for lim in rule.limits if isinstance(lim, (ast.Once, ast.AtMost))]
        ages = [lim for lim in rule.limits if isinstance(lim, (ast.Within, ast.Decay))]
        if {type(a) for a in ages} == {ast.Within, ast.Decay}:
            yield _error("within-and-decay", rule, "a rule cannot have both 'within' and 'decay'",
                         hint="use within to drop old points, or decay to shrink them, not both")
        for extra in [*counts[1:], *([] if len({type(a) for a in ages}) > 1 else ages[1:])]:
            yield _error("conflicting-limits", extra, "this rule already has a limit of this kind",
                         hint="keep one of them")
        if rule.points is None and rule.limits:
            yield _error("conflicting-limits", rule.limits[0], "limits apply to points, and this "
                         "rule gives none", hint="write e.g. then +10 once")


def points_from_values(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Points from a value (`+1 per 60 seconds`) are not taken back by `within` or `decay`:
    what those take back is the points a rule gives, which differ from event to event."""
    for rule in ruleset.of(ast.ScoreRule):
        if rule.per is None:
            continue
        for limit in rule.limits:
            if isinstance(limit, (ast.Within, ast.Decay)):
                yield _error("per-value-with-age", limit, "points from a value cannot expire or "
                             "decay", hint="remove it, or give fixed points, e.g. then +10 "
                             "within 90 days")


def case_on_text(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """`ignoring case` compares text: `=` and `!=` with text, `in` lists of text."""
    for cond, _ in _conditions(ruleset):
        for node in walk(cond):
            if not getattr(node, "ignore_case", False) or isinstance(node, ast.TextMatch):
                continue
            values = (node.right,) if isinstance(node, ast.Compare) else node.values
            wrong = next((v for v in values if _kind_of_value(v) not in ("text", "word")), None)
            if isinstance(node, ast.Compare) and node.op not in ("=", "!="):
                yield _error("case-on-non-text", node, f"'ignoring case' goes with = and !=, "
                             f"not {node.op}", hint="remove 'ignoring case'")
            elif wrong is not None:
                yield _error("case-on-non-text", wrong, f"'ignoring case' compares text, and "
                             f"{_shown(wrong)} is not text", hint="remove 'ignoring case', or "
                             "write the value in quotes")


def goals_possible(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A goal's period ends after it starts, and only a conversion is a percentage."""
    for goal in ruleset.of(ast.Goal):
        if goal.start and goal.end and goal.end < goal.start:
            yield _error("bad-period", goal, f"the goal's period ends ({goal.end}) before it "
                         f"starts ({goal.start})", hint=f"write between {goal.end} and {goal.start}")
        if goal.percent != isinstance(goal.measure, ast.Conversion):
            yield _error("bad-goal", goal.measure, "only a conversion is measured in percent"
                         if goal.percent else "a conversion is a percentage",
                         hint="write e.g. conversion Lead -> SalesLead >= 20%" if not goal.percent
                         else "remove the %")
        for node in walk(goal.where) if goal.where is not None else ():
            if isinstance(node, UNSTORED):
                yield _error("bad-goal", node, f"a goal's where cannot read "
                             f"{_describe_operand(node)}: goals count leads by what a run "
                             "stores", hint="use fields, score, fit, grade, band, priority, "
                             "stage or days in stage")


# What a goal's `where` cannot read: the run stores no event counts or activity times.
UNSTORED = (ast.DaysSinceActivity, ast.CountWithin)


DECLARATIONS = (ast.RulesetName, ast.EventsDecl, ast.ActivityExcludes, ast.FieldsDecl,
                ast.StagesDecl, ast.BantDecl, ast.ScoreBounds)


def rules_distinct(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """The same rule written twice would count twice; that is never meant."""
    seen: dict = {}
    for statement in ruleset.statements:
        if isinstance(statement, DECLARATIONS):
            continue
        first = seen.setdefault(statement, statement)
        if first is not statement:
            yield _error("duplicate-rule", statement, f"this rule repeats line {first.span.line}",
                         hint="remove one of the two")


def classes_acyclic(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """grade, band and labels may use each other, but never in a circle."""
    uses = {"priority": {"grade", "band"}}
    first: dict[str, ast.Classify] = {}
    for line in ruleset.of(ast.Classify):
        first.setdefault(line.kind, line)
        refs = {n.path[0] for n in walk(line.cond) if isinstance(n, ast.Ref)} if line.cond else set()
        uses.setdefault(line.kind, set()).update(refs & {"grade", "band", "priority"})
    for kind, line in first.items():
        if _reaches(uses, kind, kind, set()):
            yield _error("circular-class", line, f"{kind} depends on itself",
                         hint=f"a {kind} line may not use {kind}, or what is made from it")


def _reaches(uses: dict, start: str, goal: str, seen: set) -> bool:
    for nxt in uses.get(start, ()):
        if nxt == goal or (nxt not in seen and not seen.add(nxt) and _reaches(uses, nxt, goal, seen)):
            return True
    return False


def _bound(cond) -> tuple[tuple, str, object] | None:
    """A single comparison `operand >= n` (or >, <, <=) as (operand, op, n); else None."""
    if isinstance(cond, ast.Compare) and cond.op in ("<", "<=", ">", ">=") and \
            isinstance(cond.right, ast.Literal) and _kind_of_value(cond.right) == "number":
        return cond.left, cond.op, cond.right.value
    return None


def _covers(earlier, later) -> bool:
    """Whether every lead that meets `later` also meets `earlier`, for the simple cases."""
    if earlier is None or earlier == later:
        return True
    a, b = _bound(earlier), _bound(later)
    if a is None or b is None or a[0] != b[0] or (a[1][0] != b[1][0]):
        return False
    (_, op_a, n_a), (_, op_b, n_b) = a, b
    if op_a[0] == ">":
        return n_b > n_a or (n_b == n_a and (op_a == ">=" or op_b == ">"))
    return n_b < n_a or (n_b == n_a and (op_a == "<=" or op_b == "<"))


def unreachable_lines(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A grade, band or label line whose condition an earlier line of its kind already covers
    can never be chosen (the first line that holds wins)."""
    earlier: dict[str, _Earlier] = {}
    for line in ruleset.of(ast.Classify):
        before = earlier.setdefault(line.kind, _Earlier())
        cover = before.first_cover(line)
        if cover is not None:
            why = "'otherwise'" if cover.cond is None else f"line {cover.span.line}"
            yield _error("unreachable-line", line, f"this {line.kind} line can never be chosen: "
                         f"every lead it matches is already taken by {why}",
                         hint="move it above that line, or change its condition",
                         severity="warning")
        before.add(line)


class _Earlier:
    """The earlier lines of one kind, indexed so that the first one covering a new line is
    found without trying them all (thousands of lines would take minutes otherwise): the first
    `otherwise`, the first line of each condition, and for each `operand >`- or `<`-bound, the
    lines that were looser than all before them. A line no looser than an earlier one covers
    nothing that one does not cover first, so the first cover is always one of those."""

    def __init__(self):
        self.order: dict[int, int] = {}  # id of a line -> its position
        self.otherwise: ast.Classify | None = None
        self.same: dict = {}
        self.loosest: dict[tuple, list[ast.Classify]] = {}

    def add(self, line: ast.Classify) -> None:
        self.order[id(line)] = len(self.order)
        if line.cond is None:
            self.otherwise = self.otherwise or line
            return
        self.same.setdefault(line.cond, line)
        if (bound := _bound(line.cond)) is not None:
            records = self.loosest.setdefault((bound[0], bound[1][0]), [])
            if not records or not _covers(records[-1].cond, line.cond):
                records.append(line)

    def first_cover(self, line: ast.Classify) -> ast.Classify | None:
        found = [self.otherwise, self.same.get(line.cond) if line.cond is not None else None]
        bound = _bound(line.cond)
        records = self.loosest.get((bound[0], bound[1][0]), []) if bound else []
        low, high = 0, len(records)  # covering is monotone along the records: bisect
        while low < high:
            middle = (low + high) // 2
            if _covers(records[middle].cond, line.cond):
                high = middle
            else:
                low = middle + 1
        found.append(records[low] if low < len(records) else None)
        return min((f for f in found if f is not None), key=lambda f: self.order[id(f)],
                   default=None)


def unreachable_stages(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every stage can be reached from the first one by some chain of moves."""
    decl = next(iter(ruleset.of(ast.StagesDecl)), None)
    if decl is None or not decl.names:
        return
    out_of: dict[str | None, list[str]] = {}
    for move in ruleset.of(ast.StageMove):
        out_of.setdefault(move.source.text if move.source else None, []).append(move.target.text)
    first = decl.names[0].text
    frontier = [first, *out_of.get(None, ())]  # a move out of any stage leaves the first
    reached = set(frontier)
    while frontier:
        for target in out_of.get(frontier.pop(), ()):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    for name in decl.names[1:]:
        if name.text not in reached:
            yield _error("unreachable-stage", name, f"no chain of moves from "
                         f"'{first}' leads into stage '{name.text}'",
                         hint=f"add a move into it, e.g. stage {first} -> "
                         f"{name.text} if ...", severity="warning")


PASSES: list[Callable[[ast.Ruleset, Scope], Iterator[Diagnostic]]] = [
    declared_once, events_known, stages_known, names_known, types_match, limits_fit,
    points_from_values, case_on_text, goals_possible, rules_distinct, classes_acyclic,
    unreachable_lines, unreachable_stages,
]


def check(ruleset: ast.Ruleset) -> list[Diagnostic]:
    """Every diagnostic of every pass, sorted by position."""
    scope = Scope.of(ruleset)
    found = [d for run in PASSES for d in run(ruleset, scope)]
    return sorted(found, key=Diagnostic.sort_key)
