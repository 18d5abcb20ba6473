"""Parquet as an `ingest` input: a .parquet file or a folder of them, read as rows.

A `ParquetSource` yields the `Row`s and `Bad`s that `engine.store.sources.Source` yields for
CSV and JSON Lines, so ingest checks them the same way. Rows are numbered from 1 over the
files in name order (the `line` of a reject, and where a resumed import carries on). A column
named like a nested key (`props` of an event, `profile` of a lead) holding a JSON object text,
a map or a struct gives the remaining cells, as in JSON Lines; the other columns are cells of
their own. Timestamps become ISO 8601 text in UTC; numbers and booleans their text.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from leadrules.dsl.errors import UsageError
from leadrules.engine.events import format_timestamp
from leadrules.engine.store.mapping import ReadOptions
from leadrules.engine.store.sources import Bad, Row

_BATCH_ROWS = 5000
_US = pa.timestamp("us")


class ParquetSource:
    """One Parquet input, opened: its files checked for the required columns."""

    format = "parquet"
    compressed = False

    def __init__(self, path: str | Path, required: tuple[str, ...], nested: tuple[str, ...],
                 options: ReadOptions | None = None):
        self.path = str(path)
        self.name = self.path
        self.required, self.nested = required, nested
        self.options = options or ReadOptions()
        if self.options.columns or self.options.constants or self.options.encoding != "utf-8" \
                or self.options.delimiter or self.options.missing:
            raise UsageError(f"{self.name}: Parquet has typed, named columns: --map, --set, "
                             "--encoding, --delimiter and --missing apply to CSV and JSON Lines")
        self.delimiter, self.sniffed = None, False  # as a CSV source tells them
        self.found: set[str] = set(required)
        self.missing_cells = 0
        self.files = _files(Path(path))
        try:
            self._metas = [pq.read_metadata(f) for f in self.files]
            schemas = [pq.read_schema(f) for f in self.files]
        except (OSError, pa.ArrowException) as error:
            raise UsageError(f"{self.name}: cannot read as Parquet: {error}") from None
        for file, schema in zip(self.files, schemas):
            missing = [name for name in required if name not in schema.names]
            if missing:
                plural = "s" if len(missing) > 1 else ""
                raise UsageError(f"{file}: no column{plural} {', '.join(map(repr, missing))}; "
                                 f"found: {', '.join(schema.names)}")
        self.size = sum(meta.num_rows for meta in self._metas)  # rows: what `position` counts
        self.position = 0
        stats = [os.stat(f) for f in self.files]
        digest = hashlib.sha1(json.dumps(
            [(str(f), s.st_size, s.st_mtime_ns) for f, s in zip(self.files, stats)]).encode())
        self.fingerprint = f"{sum(s.st_size for s in stats)}:parquet:{digest.hexdigest()}"

    def close(self) -> None:
        pass

    def __enter__(self) -> ParquetSource:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def rows(self) -> Iterator[Row | Bad]:
        """Every row of every file, in order; an unreadable file ends with a UsageError."""
        line = 0
        for file in self.files:
            try:
                batches = pq.ParquetFile(file).iter_batches(batch_size=_BATCH_ROWS)
                for batch in batches:
                    for record in _records(batch):
                        line += 1
                        yield self._row(line, record)
                    self.position = line
            except (OSError, pa.ArrowException) as error:
                raise UsageError(f"{file}: cannot read as Parquet: {error}") from None

    def _row(self, line: int, record: dict) -> Row | Bad:
        cells: dict[str, str] = {}
        nested: dict[str, str] = {}
        text = json.dumps(record, ensure_ascii=False, default=str)
        for column, value in record.items():
            if column in self.nested and value is not None:
                pairs = _object(value)
                if pairs is None:
                    return Bad(line, f"{column!r} must be a JSON object of values",
                               text, column, str(value))
                into = nested
            else:
                pairs, into = ((column, value),), cells
            for name, cell in pairs:
                if isinstance(cell, (dict, list)):
                    kind = "an object" if isinstance(cell, dict) else "a list"
                    return Bad(line, f"{name!r} is {kind}; a value must be text, a number, "
                                     "true/false or null", text, name, json.dumps(cell))
                if cell := _text(cell):
                    into[name] = cell
        return Row(line, cells, text, nested)


def _files(path: Path) -> list[Path]:
    """The .parquet files of a folder in name order (its subfolders' too), or the one file."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise UsageError(f"{path}: a folder without .parquet files; give a CSV or JSON "
                             "Lines file, or a folder of Parquet files")
        return files
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    return [path]


def _records(batch: pa.RecordBatch) -> Iterator[dict]:
    """A batch's rows as dicts, timestamps as their ISO 8601 text in UTC."""
    columns = []
    for field, column in zip(batch.schema, batch.columns):
        if pa.types.is_timestamp(field.type):
            micros = column.cast(_US, safe=False).cast(pa.int64()).to_pylist()
            columns.append([None if m is None else format_timestamp(m) for m in micros])
        else:
            columns.append(column.to_pylist())
    names = batch.schema.names
    for values in zip(*columns):
        yield dict(zip(names, values))


def _object(value) -> list[tuple[str, object]] | None:
    """The (name, value) pairs of a JSON object text, a map or a struct; None otherwise."""
    if isinstance(value, str):
        try:
            # Numbers keep their exact text: properties are untyped until a rule reads them.
            value = json.loads(value, parse_int=str, parse_float=str, parse_constant=str)
        except json.JSONDecodeError:
            return None
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return value  # a map column: (key, value) pairs
    return None


def _text(cell) -> str:
    """A cell's text as a CSV file would hold it; '' for null."""
    if cell is None:
        return ""
    if cell is True or cell is False:
        return "true" if cell else "false"
    return str(cell).strip()
