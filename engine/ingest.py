"""Read lead and event CSV files, report every bad row, and store them all or not at all."""

from __future__ import annotations

import csv
import hashlib
import json
import time
from pathlib import Path
from typing import Iterator

import attrs

from dsl.errors import UsageError
from engine.errors import InputError, InputErrors
from engine.events import Event, parse_timestamp
from engine.store import Store

LEAD_COLUMNS = ("lead_id",)
EVENT_COLUMNS = ("lead_id", "type", "ts")
_EVENT_FIELDS = {"event_id", "lead_id", "type", "ts"}
TIMESTAMP_HINT = "not a timestamp; write ISO 8601 like 2026-03-14T09:21:05Z or 2026-03-14"

_JSON = json.JSONEncoder(ensure_ascii=False)
LeadRow = tuple[str, dict[str, str]]


@attrs.frozen
class IngestSummary:
    """What `ingest_files` read and what the store made of it."""

    leads_read: int
    events_read: int
    events_added: int
    duplicates: int
    new_leads: int


@attrs.frozen
class _Row:
    """One data row of a CSV file: its first physical line and its cells by (stripped) column."""

    line: int
    cells: dict[str, str]


def read_leads_csv(path: str | Path) -> list[LeadRow]:
    """Lead profiles from a CSV file with a lead_id column; raises InputErrors on bad rows."""
    leads, errors = _read_leads(path)
    if errors:
        raise InputErrors(errors)
    return leads


def read_events_csv(path: str | Path) -> list[Event]:
    """Events from a CSV file with lead_id, type and ts columns; raises InputErrors on bad rows."""
    events, errors = _read_events(path)
    if errors:
        raise InputErrors(errors)
    return events


def ingest_files(store: Store, leads_path: str | Path | None = None,
                 events_path: str | Path | None = None, *,
                 ingested_at: int | None = None) -> IngestSummary:
    """Validate both files completely, then write both in one transaction, or nothing.

    `ingested_at` (microseconds, UTC) is recorded on each new event; it defaults to now.
    """
    if ingested_at is None:
        ingested_at = time.time_ns() // 1000
    leads, lead_errors = _read_leads(leads_path) if leads_path is not None else ([], [])
    events, event_errors = _read_events(events_path) if events_path is not None else ([], [])
    if lead_errors or event_errors:
        raise InputErrors(lead_errors + event_errors)
    with store.transaction():
        store.upsert_leads(leads)
        added = store.add_events(events, ingested_at)
    return IngestSummary(leads_read=len(leads), events_read=len(events),
                         events_added=added.added, duplicates=added.duplicates,
                         new_leads=added.new_leads)


def _read_leads(path: str | Path) -> tuple[list[LeadRow], list[InputError]]:
    leads: list[LeadRow] = []
    errors: list[InputError] = []
    for row in _rows(path, LEAD_COLUMNS, errors):
        if not row.cells["lead_id"]:
            errors.append(_missing(path, row, "lead_id"))
            continue
        profile = {k: v for k, v in row.cells.items() if v and k != "lead_id"}
        leads.append((row.cells["lead_id"], profile))
    return leads, errors


def _read_events(path: str | Path) -> tuple[list[Event], list[InputError]]:
    events: list[Event] = []
    errors: list[InputError] = []
    for row in _rows(path, EVENT_COLUMNS, errors):
        event = _event(path, row, errors)
        if event is not None:
            events.append(event)
    return events, errors


def _event(path: str | Path, row: _Row, errors: list[InputError]) -> Event | None:
    """The event a row describes, or None after adding each of its problems to errors."""
    cells = row.cells
    before = len(errors)
    errors.extend(_missing(path, row, column) for column in EVENT_COLUMNS if not cells[column])
    ts = None
    if cells["ts"]:
        try:
            ts = parse_timestamp(cells["ts"])
        except (ValueError, OverflowError):
            errors.append(InputError(str(path), row.line, TIMESTAMP_HINT, "ts", cells["ts"]))
    if len(errors) > before:
        return None
    props = {k: v for k, v in cells.items() if v and k not in _EVENT_FIELDS}
    event_id = cells.get("event_id") or content_id(cells["lead_id"], cells["type"], ts, props)
    return Event(event_id=event_id, lead_id=cells["lead_id"], type=cells["type"], ts=ts,
                 props=props)


def content_id(lead_id: str, type_: str, ts: int, props: dict[str, str]) -> str:
    """A stable id for an event given without one, so re-ingesting a file adds nothing."""
    # The parsed ts, not its text: `+01:00` and the same moment in `Z` are one event.
    text = _JSON.encode([lead_id, type_, ts, sorted(props.items())])
    return "h" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def _missing(path: str | Path, row: _Row, column: str) -> InputError:
    return InputError(str(path), row.line, f"missing {column}", column, row.cells[column])


def _rows(path: str | Path, required: tuple[str, ...], errors: list[InputError]) -> Iterator[_Row]:
    """The well-formed rows of a CSV file; malformed ones are added to errors instead."""
    try:
        # surrogateescape keeps undecodable bytes so they can be reported with their line.
        with open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as f:
            reader = csv.reader(f, strict=True)
            header = _header(path, reader, required)
            yield from _data_rows(path, reader, header, errors)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror}") from None


def _header(path: str | Path, reader, required: tuple[str, ...]) -> list[str]:
    """The column names on line 1, checked for the required ones."""
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as e:
        raise UsageError(f"{path}:1: malformed CSV header: {e}") from None
    if not header:
        raise UsageError(f"{path}: no header line; the first line must name the columns, "
                         f"starting with {', '.join(required)}")
    for name in header:
        # Most likely the whole file is in another encoding; its column names are unreadable.
        if (byte := _bad_byte(name)) is not None:
            raise UsageError(f"{path}:1: the header is not UTF-8 text (byte 0x{byte:02x}); "
                             "save the file as UTF-8")
    for index, name in enumerate(header, start=1):
        if not name:
            raise UsageError(f"{path}:1: column {index} of the header has no name")
        if header.index(name) != index - 1:
            raise UsageError(f"{path}:1: column {name!r} appears twice in the header")
    missing = [name for name in required if name not in header]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise UsageError(f"{path}: header has no column{plural} {', '.join(map(repr, missing))}; "
                         f"found: {', '.join(header)}")
    return header


def _data_rows(path: str | Path, reader, header: list[str],
               errors: list[InputError]) -> Iterator[_Row]:
    """Rows after the header; errors gets cell-count, CSV-syntax and encoding problems."""
    while True:
        line = reader.line_num + 1  # where the next row starts, even if it spans lines
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            errors.append(InputError(str(path), line, f"malformed CSV: {e}"))
            continue
        if not cells:
            continue  # a blank line
        if len(cells) != len(header):
            errors.append(InputError(
                str(path), line, f"{len(cells)} cells but the header has {len(header)} columns"))
            continue
        row = _Row(line, {name: cell.strip() for name, cell in zip(header, cells)})
        bad = _encoding_errors(path, line, row.cells)
        errors.extend(bad)
        if not bad:
            yield row


def _encoding_errors(path: str | Path, line: int, cells: dict[str, str]) -> list[InputError]:
    """One error per cell holding bytes that are not UTF-8."""
    errors = []
    for column, text in cells.items():
        if (byte := _bad_byte(text)) is not None:
            shown = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            reason = f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8"
            errors.append(InputError(str(path), line, reason, column, shown))
    return errors


def _bad_byte(text: str) -> int | None:
    """The first byte that is not UTF-8, which surrogateescape kept as U+DC80..U+DCFF."""
    if text.isascii():
        return None
    return next((ord(c) - 0xDC00 for c in text if "\udc80" <= c <= "\udcff"), None)
