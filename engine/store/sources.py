"""Open input files (CSV or JSON Lines, plain or gzip, a path or `-` for stdin; Parquet, a
file or a folder, with the `dask` extra) and read rows.

A reader yields one item per data row, in file order: a `Row` (cells by column name, values
stripped, empty ones dropped) or a `Bad` (a row that could not be read at all, with the reason).
Checking what the cells mean is the caller's job (engine.ingest).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import itertools
import json
import os
import sys
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import attrs

from leadrules.dsl.errors import UsageError, reading
from leadrules.engine.store.mapping import ReadOptions, sniff_delimiter

FORMATS = ("csv", "jsonl", "parquet")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_GZIP_MAGIC = b"\x1f\x8b"
_FINGERPRINT_BYTES = 1 << 16
_SCAN_BYTES = 1 << 20
_ENCODING_HINT = ("the file is in another encoding: pass --encoding cp1252 (what Excel on "
                  "Windows writes) or the encoding it was saved in")
_OTHER_ENCODING_HINT = ("the file is in another encoding: pass the one it was saved in with "
                        "--encoding (utf-8, latin-1, utf-16...)")
STDIN = "-"


@attrs.frozen(slots=True)
class Row:
    """A readable data row: its first physical line and its non-empty cells, stripped.

    `text` is the JSON line, or the CSV row's physical lines as read; `raw` joins them
    only when a row is rejected, so the rows that are taken never pay for it. Either way
    it is the row's original text, so a rejects file can give it back byte for byte.
    """

    line: int
    cells: dict[str, str]
    text: str | list[str]
    nested: dict[str, str] = attrs.field(factory=dict)  # JSON: the cells under `props` & co.

    @property
    def raw(self) -> str:
        return self.text if isinstance(self.text, str) else _joined(self.text)


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
                 format: str | None = None, stdin: BinaryIO | None = None,
                 options: ReadOptions | None = None):
        self.path = str(path)
        self.name = "<stdin>" if self.path == STDIN else self.path
        self.required, self.nested = required, nested
        self.options = options or ReadOptions()
        self.delimiter: str | None = None  # CSV: the one used
        self.sniffed = False  # CSV: whether it was told by the header line
        self.found: set[str] = set()  # mapped columns (--map) this file has
        self.missing_cells = 0  # cells read as missing (--missing), so far
        self._utf8 = codecs.lookup(self.options.encoding).name == "utf-8"
        self._owned = self.path != STDIN
        self._file = self._open_binary(stdin)
        try:
            self.size, self.fingerprint = self._identity()
            self.compressed = _peek(self._file, 2) == _GZIP_MAGIC
            self._stream: BinaryIO = (gzip.GzipFile(fileobj=self._file) if self.compressed
                                      else self._file)
            self.format = format or self._detect_format()
            if not self.compressed and self.size is not None:
                self._check_decodes()
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
        return self._guarded(self._csv_rows() if self.format == "csv" else self._jsonl_rows())

    def _guarded(self, reader: Iterator) -> Iterator:
        """The reader's items; a stream that cannot be read ends them with a `UsageError`."""
        try:
            yield from reader
        except (OSError, EOFError, zlib.error) as e:
            raise UsageError(f"{self.name}: cannot read: {_reason(e)}") from None
        except UnicodeDecodeError as e:  # another encoding than --encoding says, midway
            raise UsageError(f"{self.name}: byte 0x{e.object[e.start]:02x} is not "
                             f"{self._encoding_name} text; {self._hint}") from None

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

    @property
    def _encoding_name(self) -> str:
        return "UTF-8" if self._utf8 else self.options.encoding

    @property
    def _hint(self) -> str:
        """What to do about a file that is not in the encoding it is read in."""
        return _ENCODING_HINT if self._utf8 else _OTHER_ENCODING_HINT

    def _check_decodes(self) -> None:
        """Refuse a file that is not in its encoding before anything is read from it: one
        error naming the line of its first bad byte, rather than a reject for every row with
        an umlaut. (Lines are counted by their b"\n", as in the encodings that files use.)"""
        decoder = codecs.getincrementaldecoder("utf-8" if self._utf8 else self.options.encoding)()
        offset, lines = 0, 1
        while chunk := os.pread(self._file.fileno(), _SCAN_BYTES, offset):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                line = lines + e.object.count(b"\n", 0, e.start)
                raise UsageError(f"{self.name}:{line}: byte 0x{e.object[e.start]:02x} is not "
                                 f"{self._encoding_name}; {self._hint}") from None
            offset += len(chunk)
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise UsageError(f"{self.name}:{lines}: the file ends inside a "
                             f"{self._encoding_name} character; {self._hint}") from None

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
        if not self._utf8:
            return io.TextIOWrapper(self._stream, encoding=self.options.encoding, newline="")
        # surrogateescape keeps undecodable bytes so they can be reported with their line.
        return io.TextIOWrapper(self._stream, encoding="utf-8-sig", errors="surrogateescape",
                                newline="")

    def _read_header(self) -> list[str]:
        """The column names on line 1, mapped (--map) and checked for the required ones."""
        text = self._text()
        try:
            first = text.readline()
        except UnicodeDecodeError as e:  # (text is decoded in blocks: not always on line 1)
            raise UsageError(f"{self.name}: byte 0x{e.object[e.start]:02x} near the start is "
                             f"not {self._encoding_name} text; {self._hint}") from None
        self.delimiter = self.options.delimiter or sniff_delimiter(first)
        self.sniffed = self.options.delimiter is None
        self._lines: list[str] = []
        self._reader = csv.reader(self._recording(itertools.chain([first], text)),
                                  delimiter=self.delimiter, strict=True)
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
                                 f"0x{byte:02x}); {_ENCODING_HINT}")
        for index, name in enumerate(header, start=1):
            if not name:
                raise UsageError(f"{self.name}:1: column {index} of the header has no name")
            if header.index(name) != index - 1:
                raise UsageError(f"{self.name}:1: column {name!r} appears twice in the header")
        self.found = {name for name in header if name in self.options.columns}
        for source, target in self.options.columns.items():
            if source not in self.found and target in self.required and target not in header:
                raise UsageError(f"{self.name}: --map names column {source!r}, which the header "
                                 f"does not have; found: {', '.join(header)}")
        header = self._mapped(header)
        self._check_required(header)
        return header

    def _recording(self, lines: Iterator[str]) -> Iterator[str]:
        """The lines, each also kept in `self._lines` (the current row's original text)."""
        for line in lines:
            self._lines.append(line)
            yield line

    def _mapped(self, header: list[str]) -> list[str]:
        """The header with --map's names, checked against collisions with the other columns."""
        columns, constants = self.options.columns, self.options.constants
        names = [columns.get(name, name) for name in header]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise UsageError(f"{self.name}:1: column {header[index]!r} is mapped to "
                                 f"{name!r}, but the file has a column {name!r} too; map that "
                                 "one away")
            if name in constants:
                raise UsageError(f"{self.name}:1: --set {name}=... gives every row a {name!r}, "
                                 f"but the file has a column {header[index]!r} for it; use one")
        return names

    def _check_required(self, header: list[str]) -> None:
        missing = [name for name in self.required
                   if name not in header and name not in self.options.constants]
        if not missing:
            return
        plural = "s" if len(missing) > 1 else ""
        hint = ""
        if len(header) == 1 and any(d in header[0] for d in ",;\t|"):
            hint = "; is the file separated by another delimiter? pass --delimiter ';' (say)"
        elif self.format == "csv":
            hint = (f"; say which column holds it with --map 'COLUMN={missing[0]}' (or give "
                    f"every row one value with --set {missing[0]}=VALUE)")
        raise UsageError(f"{self.name}: header has no column{plural} "
                         f"{', '.join(map(repr, missing))}; found: {', '.join(header)}{hint}")

    def _csv_rows(self) -> Iterator[Row | Bad]:
        for item in self._csv_cells():
            yield item if item.__class__ is Bad else self.row_of(*item)

    def csv_cells(self) -> Iterator[tuple[int, list[str], list[str]] | Bad]:
        """A CSV file's data rows as (line, cells as read, the row's physical lines), or `Bad`
        for a row that is malformed or has another number of cells than the header; blank
        lines are skipped. `row_of` makes the `Row` of one (engine/store/bulk.py reads the
        common rows straight from the cells, and only the others as a `Row`). An unreadable
        stream ends with a `UsageError`."""
        return self._guarded(self._csv_cells())

    def _csv_cells(self) -> Iterator[tuple[int, list[str], list[str]] | Bad]:
        reader, header = self._reader, self._header
        width = len(header)
        while True:
            line = reader.line_num + 1  # where the next row starts, even if it spans lines
            self._lines = lines = []
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as e:
                yield Bad(line, f"malformed CSV: {e}", _joined(lines))
                continue
            if not cells:
                continue  # a blank line
            if len(cells) != width:
                yield Bad(line, f"{len(cells)} cells but the header has {width} columns",
                          _joined(lines))
                continue
            yield line, cells, lines

    @property
    def header(self) -> list[str] | None:
        """A CSV file's column names, mapped (--map); None for JSON Lines."""
        return self._header

    def row_of(self, line: int, cells: list[str], lines: list[str]) -> Row:
        """The `Row` of one of `csv_cells`' rows: non-empty cells stripped, --missing tokens
        dropped, --set constants added; a UsageError if a cell is not UTF-8."""
        row = {name: text for name, cell in zip(self._header, cells) if (text := cell.strip())}
        if self.options.missing:
            row = self._without_missing(row)
        if self.options.constants:
            row.update(self.options.constants)
        if self._utf8:
            _check_encoding(self.name, line, row)
        return Row(line, row, lines)

    def _without_missing(self, cells: dict[str, str]) -> dict[str, str]:
        """The cells that are not a --missing token; counts those that are."""
        kept = {name: text for name, text in cells.items() if text not in self.options.missing}
        self.missing_cells += len(cells) - len(kept)
        return kept

    # JSON Lines --------------------------------------------------------------------------

    def _jsonl_rows(self) -> Iterator[Row | Bad]:
        encoding = "utf-8" if self._utf8 else self.options.encoding
        for line, data in enumerate(self._stream, start=1):
            if line == 1 and data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as e:
                raise UsageError(f"{self.name}:{line}: byte 0x{data[e.start]:02x} is not "
                                 f"{self._encoding_name} text; {self._hint}") from None
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
                if (cell := _json_cell(cell)) and cell not in self.options.missing:
                    into[name] = cell
                elif cell:
                    self.missing_cells += 1
        if self.options.columns or self.options.constants:
            return self._mapped_json(line, cells, text, nested)
        return Row(line, cells, text, nested)

    def _mapped_json(self, line: int, cells: dict[str, str], text: str,
                     nested: dict[str, str]) -> Row | Bad:
        """A JSON row with --map's names and --set's constants."""
        columns, constants = self.options.columns, self.options.constants
        self.found.update(name for name in cells if name in columns)
        mapped = {columns.get(name, name): cell for name, cell in cells.items()}
        if len(mapped) < len(cells):
            twice = next(columns[n] for n in cells if n in columns and columns[n] in cells)
            return Bad(line, f"{twice!r} is given twice: as a key and mapped from another key",
                       text, twice, mapped[twice])
        if given := next((name for name in constants if name in mapped), None):
            return Bad(line, f"{given!r} is given, but --set gives every row one",
                       text, given, mapped[given])
        mapped.update(constants)
        return Row(line, mapped, text, nested)


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


def _joined(lines: list[str]) -> str:
    """A row's physical lines as one text, without the line break that ends it."""
    return "".join(lines).rstrip("\r\n")


def _check_encoding(name: str, line: int, cells: dict[str, str]) -> None:
    """A UsageError for the first cell holding bytes that are not UTF-8 (a file read from
    stdin or gzip, which is not scanned before it is read)."""
    for column, text in cells.items():
        if (byte := _bad_byte(text)) is not None:
            raise UsageError(f"{name}:{line}: byte 0x{byte:02x} is not UTF-8 (column "
                             f"{column!r}); {_ENCODING_HINT}")


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
