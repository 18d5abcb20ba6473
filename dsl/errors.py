"""The one exception hierarchy of leadrules, and how a located problem is rendered."""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import attrs


def source_lines(text: str) -> list[str]:
    """Lines as the grammar counts them: split at \\n only (a \\r before it is dropped), so
    a form feed or U+2028 inside a line never shifts line numbers."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


@attrs.frozen
class Span:
    """Where a piece of rule text is: 1-based line and column, end exclusive."""

    path: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@attrs.frozen
class Diagnostic:
    """One finding about a rule file: a stable code, a message, a place, and what to write instead."""

    code: str
    message: str
    span: Span
    severity: str = "error"
    hint: str | None = None

    def to_dict(self) -> dict:
        """The diagnostic as plain data, for `--format json`."""
        return {"path": self.span.path, "line": self.span.line, "col": self.span.col,
                "end_line": self.span.end_line, "end_col": self.span.end_col,
                "severity": self.severity, "code": self.code, "message": self.message,
                "hint": self.hint}

    def sort_key(self) -> tuple:
        return (self.span.path, self.span.line, self.span.col, self.code)

    def render(self, source: str | None = None) -> str:
        """`path:line:col: severity[code]: message`, the source line underlined, then the hint."""
        out = [f"{self.span}: {self.severity}[{self.code}]: {self.message}"]
        lines = source_lines(source) if source is not None else []
        if 0 < self.span.line <= len(lines):
            text = lines[self.span.line - 1].expandtabs(1)
            gutter = " " * len(str(self.span.line))
            end = self.span.end_col if self.span.end_line == self.span.line else len(text) + 1
            width = max(1, min(end, len(text) + 1) - self.span.col)
            out.append(f"{self.span.line} | {text}")
            out.append(f"{gutter} | {' ' * (self.span.col - 1)}{'^' * width}")
        if self.hint:
            out.append(f"  = hint: {self.hint}")
        return "\n".join(out)


class LeadrulesError(Exception):
    """Root of every error leadrules raises on purpose; the CLI turns these into exit codes."""

    exit_code = 1


class RulesError(LeadrulesError):
    """A rule file has errors; carries every diagnostic, sorted, and the source to show them in."""

    def __init__(self, diagnostics: Iterable[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        self.sources = dict(sources or {})
        super().__init__(self.render())

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources.get(d.span.path)) for d in self.diagnostics)


class UsageError(LeadrulesError):
    """The command was asked for something it cannot do (missing file, bad option value);
    `missing` is the path of a file that is not there, if that is the trouble."""

    exit_code = 2

    def __init__(self, message: str, missing: object = None):
        super().__init__(message)
        self.missing = missing


@contextlib.contextmanager
def reading(path: object, noun: str = "file") -> Iterator[None]:
    """Turn the OSError of opening or reading `path` into a UsageError that names it."""
    try:
        yield
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {noun}", missing=path) from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a {noun}") from None
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror}") from None
