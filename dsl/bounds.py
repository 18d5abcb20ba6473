"""What a rule may say at most: the bounds `check` reports, so that what passes compiles and runs.

Each bound is far beyond any real ruleset (docs/language.md lists them with their diagnostics);
past it, every pass that follows would risk Python's recursion limit, quadratic time, integers
too long to convert, or scores too large for the store. The checks here walk Lark's tree with an
explicit stack, never recursively, and run before nodes are built.
"""

from __future__ import annotations

from lark import Token, Tree

from leadrules.dsl.errors import Diagnostic, Span

MAX_LINE_CHARS = 10_000  # a physical line of a rule file
MAX_STATEMENT_CHARS = 8_000  # a statement as `fmt` writes it: one line, its comment included
MAX_DEPTH = 32  # and / or / not nested inside each other in one condition
MAX_LIST_ITEMS = 1_000  # values in [...], names in events, fields, stages and the like
MAX_WHOLE_DIGITS = 15  # digits of a number before its decimal point
MAX_FRACTION_DIGITS = 9  # digits after it
MAX_POINTS = 1_000_000  # ±points of a scoring, fit or quiet-spell rule
MAX_DURATION_DAYS = 36_500  # 100 years, in any unit
HOURS_PER = {"hours": 1, "days": 24, "weeks": 168}

_NESTING = frozenset({"or_cond", "and_cond", "negate"})
_LISTS = {"list": "values in a list", "name_list": "names in a list",
          "event_list": "names in a list",
          "fields_decl": "fields in a fields line"}


def _span(path: str, offset: int, item) -> Span:
    line = getattr(item, "line", None) or 1
    end_line = getattr(item, "end_line", None) or line
    col = getattr(item, "column", None) or 1
    end_col = getattr(item, "end_column", None) or col + 1
    return Span(path, line + offset, col, end_line + offset, end_col)


def long_lines(lines: list[str], first_line: int, path: str) -> list[Diagnostic]:
    """A diagnostic for each line longer than MAX_LINE_CHARS, `first_line` the first's number."""
    return [Diagnostic("line-too-long", f"this line has {len(text):,} characters; a line has at "
                       f"most {MAX_LINE_CHARS:,}",
                       Span(path, first_line + n, MAX_LINE_CHARS + 1, first_line + n,
                            len(text) + 1),
                       hint="split the rule into several shorter rules")
            for n, text in enumerate(lines) if len(text) > MAX_LINE_CHARS]


def tree_problems(tree: Tree, first_line: int, path: str) -> list[Diagnostic]:
    """Bounds on one statement's parse tree: nesting depth, list lengths and number sizes.
    The first condition nested too deeply is reported once, at its innermost level."""
    found, offset, deep = [], first_line - 1, False
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Token):
            if node.type == "NUMBER" and (problem := _number_problem(node, path, offset)):
                found.append(problem)
            continue
        depth += node.data in _NESTING
        if depth > MAX_DEPTH and not deep:
            deep = True
            found.append(Diagnostic(
                "too-deep", f"this condition nests and, or and not more than {MAX_DEPTH} levels "
                "deep", _span(path, offset, node.meta),
                hint="split the condition into simpler rules"))
        if node.data in _LISTS and len(node.children) > MAX_LIST_ITEMS:
            found.append(Diagnostic(
                "too-many-items", f"{len(node.children):,} {_LISTS[node.data]}; a list has at "
                f"most {MAX_LIST_ITEMS:,}", _span(path, offset, node.meta),
                hint="split it over several rules or lines"))
        stack.extend((child, depth) for child in reversed(node.children) if child is not None)
    return found


def _number_problem(token: Token, path: str, offset: int) -> Diagnostic | None:
    whole, _, fraction = str(token).lstrip("+-").partition(".")
    digits = len(whole.lstrip("0"))
    if digits <= MAX_WHOLE_DIGITS and len(fraction) <= MAX_FRACTION_DIGITS:
        return None
    shown = str(token) if len(token) <= 30 else f"{str(token)[:12]}...{str(token)[-6:]}"
    if digits > MAX_WHOLE_DIGITS:
        message = (f"the number {shown} has {digits:,} digits before its decimal point; a "
                   f"number has at most {MAX_WHOLE_DIGITS}")
        hint = "write a number below 1,000,000,000,000,000"
    else:
        message = (f"the number {shown} has {len(fraction):,} decimal places; a number has at "
                   f"most {MAX_FRACTION_DIGITS}")
        hint = f"round it to {MAX_FRACTION_DIGITS} decimal places"
    return Diagnostic("number-too-large", message, _span(path, offset, token), hint=hint)


def points_problem(points: int) -> tuple[str, str] | None:
    """(message, hint) when points are beyond ±MAX_POINTS, else None."""
    if abs(points) <= MAX_POINTS:
        return None
    return (f"{points:+,} points is more than the {MAX_POINTS:,} a rule may give or take",
            f"write at most {'+' if points > 0 else '-'}{MAX_POINTS}")


def duration_problem(amount: int, unit: str) -> tuple[str, str] | None:
    """(message, hint) when a duration is longer than MAX_DURATION_DAYS, else None."""
    hours = amount * HOURS_PER[unit]
    if hours <= MAX_DURATION_DAYS * 24:
        return None
    most = MAX_DURATION_DAYS * 24 // HOURS_PER[unit]
    return (f"a duration of {amount:,} {unit} is longer than 100 years",
            f"write at most {most} {unit}")


def statement_too_long(length: int, span: Span) -> Diagnostic | None:
    """A diagnostic when a statement, as `fmt` writes it, would be longer than a line may be."""
    if length <= MAX_STATEMENT_CHARS:
        return None
    return Diagnostic("statement-too-long", f"this statement has {length:,} characters as "
                      f"`leadrules fmt` writes it on one line; a statement has at most "
                      f"{MAX_STATEMENT_CHARS:,}", span,
                      hint="split it into several rules, or shorten its lists")
