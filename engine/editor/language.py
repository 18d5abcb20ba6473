"""What an editor asks of a rule file's text: diagnostics, layout, completions, hovers and
definitions. Positions are 1-based lines and columns in code points, as dsl spans are."""

from __future__ import annotations

import re

import attrs

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.check import BANT_MEMBERS, BUILTINS, Scope, walk
from leadrules.dsl.errors import Diagnostic, Span, source_lines
from leadrules.engine.editor.meaning import meaning

# The words a statement starts with, and the others the grammar knows (dsl/grammar.lark).
STATEMENT_KEYWORDS = ("ruleset", "events", "activity excludes", "fields", "when", "score between",
                      "fit", "grade", "band", "label", "disqualify", "bant from", "stages", "stage",
                      "on entering", "sla", "goal")
KEYWORDS = ("where", "then", "once", "per", "at most", "times", "within", "decay", "every", "and",
            "or", "not", "in", "not in", "contains", "starts with", "ends with", "is missing",
            "is set", "if", "otherwise", "on", "any activity", "no activity for", "assign",
            "enroll", "alert", "hours", "days", "weeks", "reset on", "entered", "conversion",
            "leads in", "between", "by", "days in stage", "days since last activity", "count")
FIELD_TYPES = ("text", "number", "boolean", "date")
# The word before the cursor that says what kind of name comes next.
EVENTS_AFTER = {"when", "on", "count", "excludes", "from", "events"}
STAGES_AFTER = {"stage", "->", "entering", "sla", "entered", "conversion", "stages"}
_WORD = re.compile(r"[^\W\d]\w*$|$")


@attrs.frozen
class Completion:
    """One thing to offer where the cursor is: its text, its kind, and what it is."""

    label: str
    kind: str  # keyword, event, field, stage, bant, builtin, type
    detail: str = ""


@attrs.frozen
class Hover:
    """What to show over the text a span covers, as Markdown."""

    markdown: str
    span: Span


def diagnostics(text: str, path: str) -> tuple[Diagnostic, ...]:
    """Every diagnostic `leadrules check` reports for this text, sorted."""
    return dsl.analyze(text, path).diagnostics


def formatted(text: str, path: str) -> str | None:
    """The text in `leadrules fmt`'s layout, or None if it has syntax errors."""
    from leadrules.dsl.format import format_source

    try:
        return format_source(text, path)
    except dsl.RulesError:
        return None


def _contains(span: Span | None, line: int, col: int) -> bool:
    """Whether the position is inside the span, or just after its end (where a cursor stands
    after typing a word)."""
    if span is None:
        return False
    return (span.line, span.col) <= (line, col) <= (span.end_line, span.end_col)


def _statement_at(ruleset: ast.Ruleset, line: int, col: int):
    return next((s for s in ruleset.statements if _contains(s.span, line, col)), None)


def _name_at(statement, line: int, col: int):
    """The innermost Name or Ref at the position inside a statement, or None."""
    found = [n for n in walk(statement) if isinstance(n, (ast.Name, ast.Ref))
             and _contains(n.span, line, col)]
    return found[-1] if found else None


def _declarations(ruleset: ast.Ruleset) -> dict[str, dict[str, ast.Name]]:
    """Each declared name by kind (event, field, stage): the first node that declares it."""
    scope: dict[str, dict[str, ast.Name]] = {"event": {}, "field": {}, "stage": {}}
    for decl in ruleset.of(ast.EventsDecl):
        for name in decl.names:
            scope["event"].setdefault(name.text, name)
    for decl in ruleset.of(ast.FieldsDecl):
        for field in decl.fields:
            scope["field"].setdefault(field.name.text, field.name)
    for decl in ruleset.of(ast.StagesDecl)[:1]:
        for name in decl.names:
            scope["stage"].setdefault(name.text, name)
    return scope


def _declaration_of(ruleset: ast.Ruleset, node) -> tuple[str, ast.Name | object] | None:
    """The kind and declaring node of the name a Name or Ref node stands for."""
    declared = _declarations(ruleset)
    if isinstance(node, ast.Ref):
        if node.path[0] == "bant":
            bant = next(iter(ruleset.of(ast.BantDecl)), None)
            return ("bant", bant) if bant is not None else None
        field = declared["field"].get(node.path[0])
        return ("field", field) if field is not None else None
    for kind in ("event", "stage", "field"):
        if node.text in declared[kind]:
            return kind, declared[kind][node.text]
    return None


def _analyzed(text: str, path: str) -> ast.Ruleset:
    return dsl.analyze(text, path).ruleset


def definition(text: str, path: str, line: int, col: int) -> Span | None:
    """Where the event, field, stage or `bant` at the position is declared, or None."""
    ruleset = _analyzed(text, path)
    statement = _statement_at(ruleset, line, col)
    node = _name_at(statement, line, col) if statement is not None else None
    found = _declaration_of(ruleset, node) if node is not None else None
    return found[1].span if found else None


def _uses(ruleset: ast.Ruleset, kind: str, text: str) -> list[int]:
    """The lines of the statements that name a declared thing, declarations left out."""
    lines = []
    for statement in ruleset.statements:
        if isinstance(statement, (ast.EventsDecl, ast.FieldsDecl, ast.StagesDecl)):
            continue
        for node in walk(statement):
            named = node.text if isinstance(node, ast.Name) else \
                node.path[0] if isinstance(node, ast.Ref) else None
            if named == text and (kind != "field" or isinstance(node, ast.Ref)):
                lines.append(statement.span.line)
                break
    return lines


BANT = {"all": "budget, authority, need and timeline are all true",
        "any": "at least one of budget, authority, need and timeline is true",
        "count": "how many of budget, authority, need and timeline are true (0 to 4)"}


def _name_hover(ruleset: ast.Ruleset, node) -> str | None:
    found = _declaration_of(ruleset, node)
    if found is not None and found[0] == "bant" and node.path[-1] in BANT_MEMBERS:
        member = node.path[-1]
        says = BANT.get(member, f"the latest BANT event said {member} is true")
        return f"`{node.dotted}`: {says}; BANT comes from line {found[1].span.line}."
    if found is None or found[0] == "bant":
        return None
    kind, declared = found
    name = declared.text
    uses = _uses(ruleset, kind, name)
    typed = f" ({Scope.of(ruleset).fields[name]})" if kind == "field" else ""
    used = (f"named on line{'s' if len(uses) > 1 else ''} {', '.join(map(str, uses))}" if uses
            else "named by no rule")
    return f"{kind} `{name}`{typed}: declared on line {declared.span.line}, {used}."


def hover(text: str, path: str, line: int, col: int) -> Hover | None:
    """What the statement at the position means; on a declared name, what it is first."""
    ruleset = _analyzed(text, path)
    statement = _statement_at(ruleset, line, col)
    if statement is None:
        return None
    node = _name_at(statement, line, col)
    about_name = _name_hover(ruleset, node) if node is not None else None
    rule = f"line {statement.span.line}: {meaning(statement)}"
    if about_name is None:
        return Hover(rule, statement.span)
    return Hover(f"{about_name}\n\n---\n\n{rule}", node.span)


def _context(text: str, line: int, col: int) -> tuple[str, str, bool]:
    """(the word before the one being typed, the text before the cursor, whether the word
    being typed starts the line)."""
    lines = source_lines(text)
    before = lines[line - 1][:col - 1] if 0 < line <= len(lines) else ""
    typed = _WORD.search(before).group()
    head = before[:len(before) - len(typed)]
    words = head.split()
    return (words[-1] if words else ""), before, not head


def completions(text: str, path: str, line: int, col: int) -> list[Completion]:
    """What may be written at the position: after `bant.` its members; after a word that
    takes an event or a stage, the declared ones; else keywords and every declared name."""
    ruleset = _analyzed(text, path)
    scope = Scope.of(ruleset)
    previous, before, at_start = _context(text, line, col)
    events = [Completion(e, "event", "event") for e in scope.events]
    stages = [Completion(s, "stage", "stage") for s in scope.stages]
    if re.search(r"\bbant\.\w*$", before):
        return [Completion(m, "bant", "BANT value") for m in BANT_MEMBERS]
    if at_start:
        return [Completion(k, "keyword", "statement") for k in STATEMENT_KEYWORDS]
    if previous.endswith(":") and before.lstrip().lower().startswith("fields"):
        return [Completion(t, "type", "field type") for t in FIELD_TYPES]
    if previous.endswith(":") and before.lstrip().lower().startswith("sla"):
        return events
    if previous.lower() in EVENTS_AFTER:
        return events + ([Completion(k, "keyword", "trigger") for k in ("entering", "any activity")]
                         if previous.lower() == "on" else [])
    if previous.lower() in STAGES_AFTER:
        return stages + ([Completion("*", "keyword", "any stage")]
                         if previous.lower() == "stage" else [])
    return [*(Completion(f, "field", f"field ({t})") for f, t in scope.fields.items()),
            *(Completion(b, "builtin", "built-in") for b in BUILTINS),
            *([Completion("bant", "builtin", "BANT")] if scope.has_bant else []),
            *events, *stages, *(Completion(k, "keyword", "keyword") for k in KEYWORDS)]
