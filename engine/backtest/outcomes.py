"""What the back-test measures against: an outcome per lead, read from a file of known outcomes
(a CRM export) or taken from the store's own later history (a time split)."""

from __future__ import annotations

import re
from pathlib import Path

import attrs

from leadrules.dsl.errors import UsageError
from leadrules.engine.errors import InputErrors, Reject
from leadrules.engine.events import days, format_timestamp
from leadrules.engine.store.mapping import ReadOptions, normal_id, timestamp
from leadrules.engine.store.sources import Row, Source
from leadrules.engine.values import FALSE_WORDS, TRUE_WORDS

OUTCOME_HINT = ("not an outcome: write 1 or 0, true or false, yes or no, or the date of the "
                "conversion (2026-11-05)")


@attrs.frozen
class Outcomes:
    """Known outcomes by lead_id: True for converted, False for not. `dates` holds the day of
    each conversion given as a date; `converted_before` the leads left out because that day is
    at or before the as-of time (the conversion was known when they were scored)."""

    path: str
    column: str
    known: dict[str, bool]
    dates: dict[str, int]
    empty: frozenset[str]  # leads whose outcome cell is empty: no outcome, left out
    converted_before: tuple[str, ...] = ()

    def before(self, as_of: int) -> Outcomes:
        """These outcomes without the conversions dated at or before `as_of`."""
        early = tuple(sorted(lead for lead, ts in self.dates.items() if ts <= as_of))
        left_out = set(early)
        known = {lead: v for lead, v in self.known.items() if lead not in left_out}
        return attrs.evolve(self, known=known, converted_before=early)

    @property
    def describe(self) -> str:
        return f"{self.path}, column {self.column}"


def read_outcomes(path: str | Path, column: str = "converted", format: str | None = None,
                  options: ReadOptions | None = None) -> Outcomes:
    """Every lead's outcome in a CSV or JSON Lines file with `lead_id` and `column`, read as
    `ingest` reads a file with the same `options` (mapping, delimiter, encoding, missing
    tokens, date formats, time zone; ids normalised alike); the rows that cannot be read are
    all reported together (InputErrors), and nothing is used."""
    options = options or ReadOptions()
    zone = options.zone()
    known: dict[str, bool] = {}
    dates: dict[str, int] = {}
    first_line: dict[str, int] = {}
    rejects: list[Reject] = []
    empty: set[str] = set()
    seen = 0
    with Source(path, ("lead_id", column), (), format, options=options) as source:
        for item in source.rows():
            if not isinstance(item, Row):
                rejects.append(Reject(source.name, item.line, item.reason, item.column,
                                      item.value, item.raw))
                continue
            seen += 1
            found = _outcome(source.name, item, column, options, zone)
            if isinstance(found, Reject):
                rejects.append(found)
            elif found is None:
                empty.add(normal_id(item.cells["lead_id"], options.decimal_comma))
            else:
                lead = normal_id(item.cells["lead_id"], options.decimal_comma)
                value, ts = found
                if lead in known and (known[lead], dates.get(lead)) != (value, ts):
                    rejects.append(Reject(source.name, item.line, f"lead {lead} has another "
                                          f"outcome on line {first_line[lead]}", column,
                                          item.cells[column], item.raw))
                    continue
                known[lead], first_line[lead] = value, first_line.get(lead, item.line)
                if ts is not None:
                    dates[lead] = ts
    if rejects:
        raise InputErrors(rejects, "nothing was back-tested")
    if seen and not known:
        raise UsageError(f"{source.name}: no row has an outcome in column {column!r}")
    return Outcomes(source.name, column, known, dates, frozenset(empty - known.keys()))


def _outcome(file: str, row: Row, column: str, options: ReadOptions, zone
             ) -> Reject | None | tuple[bool, int | None]:
    """(converted, the conversion's time if given as a date), None for an empty cell, or why
    the row is rejected."""
    cells = row.cells
    if "lead_id" not in cells:
        return Reject(file, row.line, "missing lead_id", "lead_id", "", row.raw)
    raw = cells.get(column)
    if raw is None:
        return None
    word = raw.lower()
    if word in TRUE_WORDS:
        return True, None
    if word in FALSE_WORDS:
        return False, None
    try:
        return True, timestamp(raw, options, zone)
    except (ValueError, OverflowError):
        return Reject(file, row.line, OUTCOME_HINT, column, raw, row.raw)


# --- the time split ---------------------------------------------------------------------------

_REACHED = re.compile(r"\s*reached\s+([A-Za-z_][A-Za-z0-9_]*)\s+within\s+(\d+)\s+days?\s*")


@attrs.frozen
class Reached:
    """`reached STAGE within N days`: the outcome of a lead scored as of `as_of` is whether the
    rules' own replay of the store's events takes it into STAGE (or a stage after it) in the
    N days after `as_of`. Leads in STAGE or beyond at `as_of`, or that passed through it
    before, are left out."""

    stage: str
    window: int  # days
    as_of: int

    @classmethod
    def parse(cls, text: str, as_of: int | None, stages: tuple[str, ...]) -> Reached:
        """`--outcome TEXT` for rules with `stages`; `as_of` None when none was given."""
        found = _REACHED.fullmatch(text)
        if found is None:
            raise UsageError(f"--outcome {text!r}: write 'reached STAGE within N days', like "
                             "'reached Customer within 90 days'")
        if found[1] not in stages:
            raise UsageError(f"--outcome {text!r}: no stage {found[1]!r} in the rules; stages: "
                             f"{', '.join(stages) or 'none'}")
        if int(found[2]) < 1:
            raise UsageError(f"--outcome {text!r}: the window must be 1 day or more")
        if as_of is None:
            raise UsageError("--outcome 'reached ...' needs --as-of: the (past) moment to score "
                             "the leads at; the outcome is what happened after it")
        return cls(found[1], int(found[2]), as_of)

    @property
    def until(self) -> int:
        """The end of the window."""
        return self.as_of + days(self.window)

    @property
    def describe(self) -> str:
        return (f"reached {self.stage} within {self.window} days after the as-of time "
                f"(by {format_timestamp(self.until)})")
