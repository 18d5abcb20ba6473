"""Canonical rule files: statements as `dsl.write` writes them, laid out with their comments and
blank-line groups kept."""

from __future__ import annotations

import attrs

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.errors import Diagnostic, RulesError, Span, source_lines
from leadrules.dsl.parser import code_part, split_statements
from leadrules.dsl.write import ALIGN_LIMIT, then_part, when_head, write

__all__ = ["format_ruleset", "format_source", "write"]


# --- layout: statements, comments, blank lines -------------------------------------------------

@attrs.frozen
class _Statement:
    """A statement in the layout: `when EVENT [where ...]` (or "" for other kinds), the rest of
    its text, and the comment that trails it ("" for none)."""

    head: str
    tail: str
    comment: str = ""


def _statement(node, ruleset: ast.Ruleset, comment: str = "") -> _Statement:
    """The statement's layout entry; RulesError (too-deep) if it nests too deeply to write."""
    try:
        if type(node) is ast.ScoreRule:
            return _Statement(when_head(node), then_part(node), comment)
        return _Statement("", write(node), comment)
    except RecursionError:
        line = node.span.line if node.span is not None else 1
        problem = Diagnostic("too-deep", "this statement is nested too deeply to format",
                             Span(ruleset.path, line, 1, line, 2),
                             hint="split the condition into simpler rules")
        raise RulesError([problem], {ruleset.path: ruleset.source}) from None


def _with_comment(text: str, comment: str) -> str:
    return f"{text}  {comment}" if comment else text


def _aligned(run: list[_Statement]) -> list[str]:
    """A run of `when EVENT` rules, their `then`s in one column unless that is too far right."""
    width = max((len(s.head) for s in run), default=0)
    width = width if width + 1 <= ALIGN_LIMIT else 0
    return [_with_comment(f"{s.head.ljust(width)} {s.tail}", s.comment) for s in run]


def _layout(entries: list) -> str:
    """The text of layout entries: statements, full-line comments and blank lines ("")."""
    lines, run = [], []
    for entry in entries:
        if isinstance(entry, _Statement) and entry.head:
            run.append(entry)
            continue
        lines.extend(_aligned(run))
        run = []
        lines.append(_with_comment(entry.tail, entry.comment)
                     if isinstance(entry, _Statement) else entry)
    return "".join(line + "\n" for line in _tidy(lines + _aligned(run)))


def _tidy(lines: list[str]) -> list[str]:
    """Blank-line runs collapsed to one; none at the start or the end."""
    kept = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
    while kept and not kept[0]:
        kept.pop(0)
    while kept and not kept[-1]:
        kept.pop()
    return kept


def format_ruleset(ruleset: ast.Ruleset) -> str:
    """The canonical text of a ruleset's statements, one per line (long declarations wrapped),
    the `then`s of consecutive `when` rules aligned; ends with a newline."""
    return _layout([_statement(s, ruleset) for s in ruleset.statements])


def _comment(line: str) -> str:
    """The comment on a line of rule text, or "" if it has none."""
    code, _ = code_part(line)
    return line[len(code):].strip()


def _statement_entries(statement, ruleset: ast.Ruleset, lines: list[str]) -> list:
    """A statement's own lines as layout entries: the comments from inside it first, then the
    statement with the comment of its last line."""
    inside = [_comment(line) for line in lines[:-1]]
    return [*(c for c in inside if c), _statement(statement, ruleset, _comment(lines[-1]))]


def format_source(text: str, path: str = "<rules>") -> str:
    """The canonical text of a whole rule file, its comments and blank-line groups kept.

    Raises RulesError with the syntax diagnostics if the text does not parse; the semantic
    checks are not run, so a ruleset with, say, an unknown event is formatted all the same.
    """
    ruleset = dsl.parse(text, path)
    lines = source_lines(text)  # as split_statements splits, so chunk line numbers index it
    entries, done = [], 0
    for chunk, statement in zip(split_statements(text), ruleset.statements, strict=True):
        entries.extend(line.strip() for line in lines[done:chunk.line - 1])
        done = chunk.line + chunk.text.count("\n")
        entries.extend(_statement_entries(statement, ruleset, lines[chunk.line - 1:done]))
    entries.extend(line.strip() for line in lines[done:])
    return _layout(entries)
