"""Open input files (CSV or JSON Lines, plain or gzip, a path or `-` for stdin) and read rows.

A reader yields one item per data row, in file order: a `Row` (cells by column name, values
stripped, empty ones dropped) or a `Bad` (a row that could not be read at all, with the reason).
Checking what the cells mean is the caller's job (engine.ingest).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import sys
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import attrs

from leadrules.dsl.errors import UsageError, reading

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GZIP_MAGIC = b"\x1f\x8b"
_FINGERPRINT_BYTES = 1 << 16
STDIN = "-"


@attrs.frozen(slots=True)
class Row:
    """A readable data row: its first physical line and its non-empty cells, stripped.

    `text` is the JSON line, or the CSV cells as read; `raw` makes it one line of text
    only when a row is rejected, so the rows that are taken never pay for it.
    """

    line: int
    cells: dict[str, str]
    text: str | list[str]
    nested: dict[str, str] = attrs.field(factory=dict)  # JSON: the cells under `props` & co.

    @property
    def raw(self) -> str:
        return self.text if isinstance(self.text, str) else _csv_line(self.text)


@attrs.frozen(slots=True)
class Bad:
    """A row that could not be read: where it starts, why, and its text."""

    line: int
    reason: str
    raw: str
    column: str | None = None
    value: str | None = None


class Source:
    """One input, opened: its name for messages, format, compression, and its rows.

    `nested` lists JSON keys whose object value holds the remaining cells (`props` of an
    event, `profile` of a lead); a CSV file lists them flat, one column each.
    """

    def __init__(self, path: str | Path, required: tuple[str, ...], nested: tuple[str, ...],
                 format: str | None = None, stdin: BinaryIO | None = None):
        self.path = str(path)
        self.name = "<stdin>" if self.path == STDIN else self.path
        self.required, self.nested = required, nested
        self._owned = self.path != STDIN
        self._file = self._open_binary(stdin)
        try:
            self.size, self.fingerprint = self._identity()
            self.compressed = _peek(self._file, 2) == _GZIP_MAGIC
            self._stream: BinaryIO = (gzip.GzipFile(fileobj=self._file) if self.compressed
                                      else self._file)
            self.format = format or self._detect_format()
            self._header = self._read_header() if self.format == "csv" else None
        except (OSError, EOFError, zlib.error) as e:
            self.close()
            raise UsageError(f"{self.name}: cannot read: {_reason(e)}") from None
        except UsageError:
            self.close()
            raise

    def close(self) -> None:
        if self._owned:
            self._file.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def position(self) -> int | None:
        """Bytes of the file (compressed, if it is) consumed so far; None for stdin."""
        return None if self.size is None else self._file.tell()

    def rows(self) -> Iterator[Row | Bad]:
        """Every data row in order; an unreadable stream ends with a `UsageError`."""
        reader = self._csv_rows() if self.format == "csv" else self._jsonl_rows()
        try:
            yield from reader
        except (OSError, EOFError, zlib.error) as e:
            raise UsageError(f"{self.name}: cannot read: {_reason(e)}") from None

    # Opening -----------------------------------------------------------------------------

    def _open_binary(self, stdin: BinaryIO | None) -> BinaryIO:
        if self.path == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            return stream if hasattr(stream, "peek") else io.BufferedReader(stream)
        with reading(self.path):
            return open(self.path, "rb")

    def _identity(self) -> tuple[int | None, str | None]:
        """The file's size, and what identifies it for resuming an interrupted import:
        size, modification time and a hash of its head. Neither for stdin."""
        if self.path == STDIN:
            return None, None
        stat = os.fstat(self._file.fileno())
        head = hashlib.sha1(os.pread(self._file.fileno(), _FINGERPRINT_BYTES, 0)).hexdigest()
        return stat.st_size, f"{stat.st_size}:{stat.st_mtime_ns}:{head}"

    def _detect_format(self) -> str:
        if self.path != STDIN:
            name = Path(self.path).name.lower()
            stem, suffix = os.path.splitext(name[:-3] if name.endswith(".gz") else name)
            if suffix in _EXTENSIONS:
                return _EXTENSIONS[suffix]
            raise UsageError(
                f"{self.path}: cannot tell the format from the name; name the file .csv or "
                f".jsonl (optionally .gz), or pass --format csv|jsonl")
        # stdin has no name: JSON Lines start with an object, CSV with a header.
        head = _peek(self._stream, 64).lstrip(b"\xef\xbb\xbf \t\r\n")
        return "jsonl" if head.startswith(b"{") else "csv"

    # CSV ---------------------------------------------------------------------------------

    def _text(self) -> io.TextIOWrapper:
        # surrogateescape keeps undecodable bytes so they can be reported with their line.
        return io.TextIOWrapper(self._stream, encoding="utf-8-sig", errors="surrogateescape",
                                newline="")

    def _read_header(self) -> list[str]:
        """The column names on line 1, checked for the required ones."""
        self._reader = csv.reader(self._text(), strict=True)
        try:
            header = [name.strip() for name in next(self._reader, [])]
        except csv.Error as e:
            raise UsageError(f"{self.name}:1: malformed CSV header: {e}") from None
        if not header:
            raise UsageError(f"{self.name}: no header line; the first line must name the "
                             f"columns, starting with {', '.join(self.required)}")
        for name in header:
            # Most likely the whole file is in another encoding; its column names are unreadable.
            if (byte := _bad_byte(name)) is not None:
                raise UsageError(f"{self.name}:1: the header is not UTF-8 text (byte "
                                 f"0x{byte:02x}); save the file as UTF-8")
        for index, name in enumerate(header, start=1):
            if not name:
                raise UsageError(f"{self.name}:1: column {index} of the header has no name")
            if header.index(name) != index - 1:
                raise UsageError(f"{self.name}:1: column {name!r} appears twice in the header")
        missing = [name for name in self.required if name not in header]
        if missing:
            plural = "s" if len(missing) > 1 else ""
            raise UsageError(f"{self.name}: header has no column{plural} "
                             f"{', '.join(map(repr, missing))}; found: {', '.join(header)}")
        return header

    def _csv_rows(self) -> Iterator[Row | Bad]:
        reader, header = self._reader, self._header
        width = len(header)
        while True:
            line = reader.line_num + 1  # where the next row starts, even if it spans lines
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield Bad(line, f"malformed CSV: {e}", "")
                continue
            if not cells:
                continue  # a blank line
            if len(cells) != width:
                yield Bad(line, f"{len(cells)} cells but the header has {width} columns",
                          _csv_line(cells))
                continue
            row = {name: text for name, cell in zip(header, cells) if (text := cell.strip())}
            bad = _encoding_problem(line, row, cells)
            yield bad if bad is not None else Row(line, row, cells)

    # JSON Lines --------------------------------------------------------------------------

    def _jsonl_rows(self) -> Iterator[Row | Bad]:
        for line, data in enumerate(self._stream, start=1):
            if line == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                shown = data.decode("utf-8", "replace").rstrip("\r\n")
                yield Bad(line, f"not UTF-8 text (byte 0x{data[e.start]:02x}); save the file "
                                "as UTF-8", shown)
                continue
            if not text.strip():
                continue
            yield self._json_row(line, text.rstrip("\r\n"))

    def _json_row(self, line: int, text: str) -> Row | Bad:
        try:
            # Numbers keep their exact text: properties are untyped until a rule reads them.
            value = json.loads(text, parse_int=_Number, parse_float=_Number,
                               parse_constant=_Number)
        except json.JSONDecodeError as e:
            return Bad(line, f"invalid JSON at column {e.colno}: {e.msg}", text)
        except RecursionError:  # json's decoder recurses once per [ or {; a row is flat
            return Bad(line, "invalid JSON: nested too deeply; a row is one object of values",
                       text)
        if not isinstance(value, dict):
            kind = _JSON_STARTS.get(text.lstrip()[:1], "a number")
            return Bad(line, f"a JSON line must be an object {{...}}, not {kind}", text)
        cells: dict[str, str] = {}
        nested: dict[str, str] = {}
        for key, item in value.items():
            # Keys under `props` (say) are properties even when named like the row's own
            # fields: {"type": "visit", "props": {"type": "whitepaper"}} is a visit.
            into, pairs = (nested, item.items()) if key in self.nested and isinstance(
                item, dict) else (cells, ((key, item),))
            for name, cell in pairs:
                if isinstance(cell, (dict, list)):
                    kind = "an object" if isinstance(cell, dict) else "a list"
                    return Bad(line, f"{name!r} is {kind}; a value must be text, a number, "
                                     "true/false or null", text, name, _dump(cell))
                if cell := _json_cell(cell):
                    into[name] = cell
        return Row(line, cells, text, nested)


class _Number(str):
    """A JSON number, kept as the text it was written as."""


def _peek(stream, n: int) -> bytes:
    """Up to the next n bytes of a buffered stream, without consuming them."""
    return stream.peek(n)[:n]


def _json_cell(cell) -> str:
    if cell is None:
        return ""
    if cell is True or cell is False:
        return "true" if cell else "false"
    return str.strip(cell)


_JSON_STARTS = {"[": "a list", '"': "a string", "t": "true/false", "f": "true/false",
                "n": "null"}


def _dump(value) -> str:
    """JSON text of a parsed value as it was written: numbers without quotes."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_dump(k)}: {_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(map(_dump, value)) + "]"
    if isinstance(value, _Number):
        return str.__str__(value)
    return json.dumps(value, ensure_ascii=False)


def _csv_line(cells: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(cells)
    return _shown(out.getvalue())


def _encoding_problem(line: int, cells: dict[str, str], read: list[str]) -> Bad | None:
    """A `Bad` for the first cell holding bytes that are not UTF-8, else None."""
    for column, text in cells.items():
        if (byte := _bad_byte(text)) is not None:
            return Bad(line, f"not UTF-8 text (byte 0x{byte:02x}); save the file as UTF-8",
                       _csv_line(read), column, _shown(text))
    return None


def _shown(text: str) -> str:
    """Text that may hold undecodable bytes, with each such byte shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _bad_byte(text: str) -> int | None:
    """The first byte that is not UTF-8, which surrogateescape kept as U+DC80..U+DCFF."""
    if text.isascii():
        return None
    return next((ord(c) - 0xDC00 for c in text if "\udc80" <= c <= "\udcff"), None)


def _reason(error: BaseException) -> str:
    if isinstance(error, gzip.BadGzipFile) or isinstance(error, zlib.error):
        return f"broken gzip data ({error})"
    if isinstance(error, EOFError):
        return "the gzip data ends early (the file is truncated)"
    return getattr(error, "strerror", None) or str(error)
