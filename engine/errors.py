"""Errors about input data and the store, under the one root in `dsl.errors`."""

from __future__ import annotations

from dsl.errors import LeadrulesError


class InputError(LeadrulesError):
    """A problem in an input file, named by file, line, column and value."""

    def __init__(self, path: str, line: int | None, message: str,
                 column: str | None = None, value: str | None = None):
        self.path, self.line, self.column, self.value = path, line, column, value
        self.reason = message
        place = path if line is None else f"{path}:{line}"
        where = f" (column {column!r}, value {value!r})" if column is not None else ""
        super().__init__(f"{place}: {message}{where}")


class InputErrors(LeadrulesError):
    """Several bad rows; nothing of the input was applied."""

    def __init__(self, errors: list[InputError], limit: int = 20):
        self.errors = errors
        shown = [str(e) for e in errors[:limit]]
        more = len(errors) - len(shown)
        if more:
            shown.append(f"... and {more} more")
        head = f"{len(errors)} bad row{'s' if len(errors) != 1 else ''}; nothing was imported:"
        super().__init__("\n".join([head, *("  " + s for s in shown)]))


class StoreError(LeadrulesError):
    """The SQLite store could not be opened, read or written."""
