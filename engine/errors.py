"""Errors about input data and the store, under the one root in `dsl.errors`."""

from __future__ import annotations

import attrs

from leadrules.dsl.errors import LeadrulesError


@attrs.frozen(slots=True)
class Reject:
    """A row of an input file that was not taken: where it is, what is wrong, and its text."""

    file: str
    line: int | None
    reason: str
    column: str | None = None
    value: str | None = None
    raw: str = ""

    def __str__(self) -> str:
        place = self.file if self.line is None else f"{self.file}:{self.line}"
        where = f" (column {self.column!r}, value {self.value!r})" if self.column else ""
        return f"{place}: {self.reason}{where}"


class InputErrors(LeadrulesError):
    """Bad rows in input that must be taken whole (sample files of a dry-run, say)."""

    def __init__(self, rejects: list[Reject], outcome: str = "nothing was read", limit: int = 20):
        self.errors = rejects
        shown = [str(r) for r in rejects[:limit]]
        more = len(rejects) - len(shown)
        if more:
            shown.append(f"... and {more} more")
        rows = len({(r.file, r.line) for r in rejects})
        head = f"{rows} bad row{'s' if rows != 1 else ''}; {outcome}:"
        super().__init__("\n".join([head, *("  " + s for s in shown)]))


class StoreError(LeadrulesError):
    """The SQLite store could not be opened, read or written: unusable, as a missing file is."""

    exit_code = 2
