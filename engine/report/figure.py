"""A report's unit: a titled table of figures, with the kind of each column, so that every
format (text, csv, json, markdown, html) renders the same numbers."""

from __future__ import annotations

from typing import Sequence

import attrs

# Column kinds: count (an integer), pct (a share 0..1, shown as a percentage), days, hours,
# number, text, and value (a goal's: a share when the row's `percent` is true, else a number).
# None is an empty cell.
KINDS = ("count", "pct", "days", "hours", "number", "text", "value")


@attrs.frozen
class Column:
    key: str
    header: str
    kind: str = "count"


@attrs.frozen
class Figure:
    """One table of a view: `view` names the view (flow, funnel, ...), `rows` are dicts of the
    columns' keys; `chart` says how html draws it (None: a table only)."""

    view: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[dict, ...]
    notes: tuple[str, ...] = ()
    chart: str | None = None  # "funnel", "bars", "lines", "progress"

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


def columns(*specs: Sequence[str]) -> tuple[Column, ...]:
    """Columns from (key, header[, kind]) tuples."""
    return tuple(Column(*spec) for spec in specs)


def share(part: int | None, whole: int | None) -> float | None:
    """part / whole, or None when there is no whole."""
    return None if not whole or part is None else part / whole
