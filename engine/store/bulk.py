"""The fast path of event imports: CSV rows read straight from their cells into the tuples the
store stages, with no `Row`, cell dict or `Event` per row.

A row takes the fast path when it is a plain one: its lead_id, type and ts given, the ts ISO
8601, the lead_id not a spreadsheet number like `660737.0`, every cell ASCII or valid UTF-8.
Every other row goes the general way (`engine.ingest.Convert` over `Source.row_of`), so
rejects, their messages and every option behave exactly as there; the fast path only saves the
work on rows that the general path would take as they are. tests/test_ingest_bulk.py imports
files both ways and compares the stores.
"""

from __future__ import annotations

import json.encoder
from typing import Callable, Iterator

from leadrules.engine.events import parse_timestamp
from leadrules.engine.store.records import JSON_ENCODER

# The general path's result for a row: a record, or the list of its rejects.
Slow = Callable[[object], object]


def _props_encoder() -> Callable[[dict], str]:
    """`JSON_ENCODER.encode` for a dict of texts, made once: `encode` builds the C encoder
    anew on every call, a third of the cost of a row's props."""
    make = json.encoder.c_make_encoder
    if make is None or json.encoder.c_encode_basestring is None:
        return JSON_ENCODER.encode
    # (markers, default, encoder, indent, key separator, item separator, sort_keys,
    # skipkeys, allow_nan), as JSONEncoder.iterencode passes them for JSON_ENCODER.
    iterencode = make(None, JSON_ENCODER.default, json.encoder.c_encode_basestring, None,
                      ":", ",", True, False, True)
    return lambda values: "".join(iterencode(values, 0))


def usable(source, convert) -> bool:
    """Whether the fast path reads this file as the general path would: a CSV file read with
    no option that changes cells (--missing, --set, --decimal-comma, --date-format,
    --timezone), not a `;` file whose German-looking numbers the summary counts."""
    options = source.options
    return (source.format == "csv" and not options.missing and not options.constants
            and not options.decimal_comma and not options.date_formats
            and options.timezone is None and not convert.types
            and not convert.watch_commas)  # counting German-looking numbers is the slow path's


def event_rows(source, line_done: int, slow: Slow, content_id) -> Iterator[tuple[int, object]]:
    """(line, result) for each row after `line_done`: a staged tuple (lead_id, ts, event_id,
    type, props JSON), or what `slow` made of the row (a tuple, or a list of rejects)."""
    header = source.header
    lead_at, type_at, ts_at = (header.index(name) for name in ("lead_id", "type", "ts"))
    id_at = header.index("event_id") if "event_id" in header else None
    props = [(at, name) for at, name in enumerate(header)
             if name not in ("event_id", "lead_id", "type", "ts")]
    encode, row_of = _props_encoder(), source.row_of
    for item in source.csv_cells():
        if item.__class__ is not tuple:  # a Bad row
            if item.line > line_done:
                yield item.line, slow(item)
            continue
        line, cells, lines = item
        if line <= line_done:
            continue  # committed by an earlier run of this import
        lead_id, type_, ts_text = cells[lead_at].strip(), cells[type_at].strip(), cells[ts_at]
        try:
            if not (lead_id and type_ and "." not in lead_id and _readable("".join(cells))):
                raise ValueError
            ts = parse_timestamp(ts_text)
        except (ValueError, OverflowError):
            yield line, slow(row_of(line, cells, lines))
            continue
        values = {name: text for at, name in props if (text := cells[at].strip())}
        event_id = cells[id_at].strip() if id_at is not None else ""
        yield line, (lead_id, ts, event_id or content_id(lead_id, type_, ts, values), type_,
                     encode(values))


def _readable(text: str) -> bool:
    """No byte of the row failed to decode (surrogateescape keeps such bytes as U+DC80..)."""
    return text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text)
