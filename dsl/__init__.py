"""The rules language: `parse` text to a Ruleset, `check` it, or `load` a file and do both."""

from __future__ import annotations

from pathlib import Path

import attrs

from leadrules.dsl import statements as kept
from leadrules.dsl.ast import Ruleset
from leadrules.dsl.check import check
from leadrules.dsl.errors import Diagnostic, LeadrulesError, RulesError, Span, UsageError, reading

__all__ = ["Analysis", "Diagnostic", "LeadrulesError", "Ruleset", "RulesError", "Span",
           "UsageError", "analyze", "check", "load", "parse", "read_source", "read_text"]


@attrs.frozen
class Analysis:
    """A ruleset as far as it parsed, and every diagnostic about it, sorted."""

    ruleset: Ruleset
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")

    def raise_for_errors(self, strict: bool = False) -> Ruleset:
        """The ruleset, or RulesError with every error (and warnings too when strict)."""
        bad = self.diagnostics if strict else self.errors
        if bad:
            raise RulesError(bad, {self.ruleset.path: self.ruleset.source})
        return self.ruleset


def analyze(text: str, path: str = "<rules>", *, cached: bool = False) -> Analysis:
    """Parse and check rule text; statements that do not parse are reported and left out.
    `cached`: the text is a rule file's, so its statements are kept in the user's cache
    directory and read back the next time (`dsl.statements`), without importing the parser."""
    statements, syntax = (kept.statements if cached else kept.parse)(text, path)
    ruleset = Ruleset(tuple(statements), path=path, source=text)
    found = sorted([*syntax, *check(ruleset)], key=Diagnostic.sort_key)
    return Analysis(ruleset, tuple(found))


def parse(text: str, path: str = "<rules>") -> Ruleset:
    """The Ruleset of rule text; RulesError listing every syntax error if any line is malformed."""
    statements, syntax = kept.parse(text, path)
    if syntax:
        raise RulesError(syntax, {path: text})
    return Ruleset(tuple(statements), path=path, source=text)


MAX_RULE_FILE_BYTES = 2 * 1024 * 1024  # thousands of times a real ruleset; beyond it, a wrong file


def read_source(path: str | Path) -> str:
    """The text of a rule file; UsageError if it is missing, RulesError if it is not UTF-8."""
    return read_text(path, "rule file", RulesError, MAX_RULE_FILE_BYTES,
                     "is this really a rule file? split a huge ruleset into several files")


def read_text(path: str | Path, kind: str, error: type[RulesError], limit: int,
              too_large: str) -> str:
    """The UTF-8 text of a file of some `kind` (a BOM is dropped): UsageError if it cannot be
    read, `error` with a diagnostic where it is larger than `limit` bytes (`too_large` is the
    hint) or where its first byte that is not UTF-8 stands."""
    path = Path(path)
    with reading(path, kind):
        data = path.read_bytes()
    if len(data) > limit:
        raise error([Diagnostic(
            "file-too-large", f"this file has {len(data) / 1e6:.1f} MB; a {kind} has at most "
            f"{limit // (1024 * 1024)} MB", Span(str(path), 1, 1, 1, 2), hint=too_large)]) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        line_start = data.rfind(b"\n", 0, bad.start) + 1
        line = data[:bad.start].count(b"\n") + 1
        col = len(data[line_start:bad.start].decode("utf-8", "replace")) + 1
        span = Span(str(path), line, col, line, col + 1)
        shown = data.decode("utf-8", "replace")
        raise error([Diagnostic("bad-encoding", f"byte 0x{data[bad.start]:02x} is not UTF-8",
                                span, hint="save the file as UTF-8")], {str(path): shown}) from None


def load(path: str | Path, strict: bool = False) -> Ruleset:
    """Read, parse and check a rule file; RulesError with every error if it has any."""
    return analyze(read_source(path), str(path), cached=True).raise_for_errors(strict)
