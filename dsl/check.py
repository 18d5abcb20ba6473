"""Static checks: a list of small passes over a parsed ruleset, each yielding diagnostics."""

from __future__ import annotations

import difflib
from decimal import Decimal
from typing import Callable, Iterator

import attrs

from dsl import ast
from dsl.errors import Diagnostic

BUILTINS = ("score", "fit", "grade", "band", "priority", "stage")
BANT_MEMBERS = ("all", "any", "count", "budget", "authority", "need", "timeline")
NUMERIC_BUILTINS = ("score", "fit", "band")


def walk(node) -> Iterator:
    """The node and every node below it, depth first, in field order."""
    yield node
    if not attrs.has(type(node)):
        return
    for field in attrs.fields(type(node)):
        if field.name == "span":
            continue
        value = getattr(node, field.name)
        for child in value if isinstance(value, tuple) else (value,):
            if attrs.has(type(child)):
                yield from walk(child)


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
    """A name is declared once; `ruleset`, `stages`, `bant` and `score between` appear once."""
    for kind, nodes in (("event", [n for d in ruleset.of(ast.EventsDecl) for n in d.names]),
                        ("field", [f.name for d in ruleset.of(ast.FieldsDecl) for f in d.fields]),
                        ("stage", [n for d in ruleset.of(ast.StagesDecl)[:1] for n in d.names])):
        seen: set[str] = set()
        for name in nodes:
            if name.text in seen:
                yield _error("duplicate-declaration", name, f"{kind} '{name.text}' is declared twice",
                             hint="remove one of them")
            seen.add(name.text)
    for cls, words in ((ast.RulesetName, "ruleset"), (ast.StagesDecl, "stages"),
                       (ast.BantDecl, "bant from"), (ast.ScoreBounds, "score between")):
        for extra in ruleset.of(cls)[1:]:
            yield _error("duplicate-declaration", extra, f"'{words}' may appear only once",
                         hint="merge the two lines into one")


def _event_names(ruleset: ast.Ruleset) -> Iterator[ast.Name]:
    for statement in ruleset.statements:
        if isinstance(statement, ast.ScoreRule):
            yield statement.event
        elif isinstance(statement, ast.StageMove) and isinstance(statement.trigger, ast.OnEvent):
            yield statement.trigger.event
        elif isinstance(statement, ast.BantDecl):
            yield statement.source
            yield from statement.resets
        elif isinstance(statement, ast.ActivityExcludes):
            yield from statement.names


def events_known(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every event a rule names is declared in `events`."""
    for name in _event_names(ruleset):
        if name.text not in scope.events:
            yield _error("unknown-event", name, f"unknown event '{name.text}'",
                         hint=suggest(name.text, scope.events) or "declare it in the events line")


def stages_known(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every stage a move names is declared in `stages`."""
    moves = ruleset.of(ast.StageMove)
    if moves and not scope.stages:
        yield _error("missing-stages", moves[0], "stage moves need a 'stages' line",
                     hint="list the funnel in order, e.g. stages Name, Lead, Customer")
        return
    for move in moves:
        for name in (move.source, move.target):
            if name is not None and name.text not in scope.stages:
                yield _error("unknown-stage", name, f"unknown stage '{name.text}'",
                             hint=suggest(name.text, scope.stages) or "declare it in the stages line")


def _conditions(ruleset: ast.Ruleset) -> Iterator[tuple[object, bool]]:
    """Every condition with whether it is an event's `where` (event properties allowed)."""
    for statement in ruleset.statements:
        for node in walk(statement):
            if isinstance(node, (ast.ScoreRule, ast.OnEvent)) and node.where is not None:
                yield node.where, True
            elif isinstance(node, (ast.FitRule, ast.Classify, ast.Disqualify, ast.OnCondition)):
                if node.cond is not None:
                    yield node.cond, False


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


def types_match(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A number field or numeric built-in is compared with a number, a text field with text."""
    for cond, _ in _conditions(ruleset):
        for node in walk(cond):
            if isinstance(node, ast.Compare) and len(node.left.path) == 1:
                name = node.left.path[0]
                kind = "number" if name in NUMERIC_BUILTINS else scope.fields.get(name)
                value = node.right.value if isinstance(node.right, ast.Literal) else node.right.name
                is_number = isinstance(value, (int, Decimal)) and not isinstance(value, bool)
                if kind == "number" and not is_number:
                    yield _error("type-mismatch", node, f"'{name}' is a number but is compared "
                                 f"with {_shown(node.right)}", hint="compare it with a number")
                elif kind == "text" and is_number:
                    yield _error("type-mismatch", node, f"'{name}' is text but is compared with "
                                 f"the number {value}", hint=f'write "{value}" in quotes')


def _shown(value) -> str:
    return f'"{value.value}"' if isinstance(value, ast.Literal) else f"'{value.name}'"


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


def unreachable_lines(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """A grade or band line below an `otherwise` of its kind can never be chosen."""
    closed: set[str] = set()
    for line in ruleset.of(ast.Classify):
        if line.kind in closed:
            yield _error("unreachable-line", line, f"this {line.kind} line comes after "
                         f"'{line.kind} ... otherwise' and can never be chosen",
                         hint="move it above the otherwise line", severity="warning")
        if line.cond is None:
            closed.add(line.kind)


def unreachable_stages(ruleset: ast.Ruleset, scope: Scope) -> Iterator[Diagnostic]:
    """Every stage but the first is the target of some move."""
    targets = {m.target.text for m in ruleset.of(ast.StageMove)}
    for decl in ruleset.of(ast.StagesDecl)[:1]:
        for name in decl.names[1:]:
            if name.text not in targets:
                yield _error("unreachable-stage", name, f"no move leads into stage '{name.text}'",
                             hint=f"add e.g. stage {decl.names[0].text} -> {name.text} if ...",
                             severity="warning")


PASSES: list[Callable[[ast.Ruleset, Scope], Iterator[Diagnostic]]] = [
    declared_once, events_known, stages_known, names_known, types_match,
    classes_acyclic, unreachable_lines, unreachable_stages,
]


def check(ruleset: ast.Ruleset) -> list[Diagnostic]:
    """Every diagnostic of every pass, sorted by position."""
    scope = Scope.of(ruleset)
    found = [d for run in PASSES for d in run(ruleset, scope)]
    return sorted(found, key=Diagnostic.sort_key)
