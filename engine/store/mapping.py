"""How to read a CRM export: column mapping, constants, delimiter, encoding, dates, numbers.

`ReadOptions` gathers what `leadrules ingest` is told about its files (`--map`, `--mapping
FILE`, `--set`, `--delimiter`, `--encoding`, `--date-format`, `--timezone`, `--decimal-comma`,
`--missing`); `Source` applies the cell-level parts (names, constants, missing tokens) and the
converters in `ingest` the value-level parts (timestamps, numbers, ids). docs/ingest.md.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import tomllib
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Mapping

import attrs

from leadrules.dsl.errors import UsageError

DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\\t": "\t", "\t": "\t", "|": "|"}
UNIX = "unix"  # --date-format unix: seconds since 1970-01-01 UTC
_MAPPING_KEYS = frozenset({"columns", "set", "delimiter", "encoding", "date_format",
                           "timezone", "decimal_comma", "missing", "leads", "events"})
KINDS = ("leads", "events")
# A number written the German way: 1.200 / 1.200,50 / -3,5 / 1200,5 (the whole cell).
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?")
# An id that is an integer with a zero fraction, as spreadsheets write them: 660737.0
_ZERO_FRACTION = re.compile(r"([+-]?\d+)\.0+")
_ZERO_COMMA_FRACTION = re.compile(r"([+-]?\d+),0+")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@attrs.frozen
class ReadOptions:
    """What ingest is told about its input files; the defaults read plain UTF-8 CSV/JSONL."""

    columns: Mapping[str, str] = attrs.field(factory=dict)  # file's column -> leadrules name
    constants: Mapping[str, str] = attrs.field(factory=dict)  # name -> value of every row
    delimiter: str | None = None  # None: sniffed from the header line
    encoding: str = "utf-8"
    date_formats: tuple[str, ...] = ()  # strptime patterns (or `unix`), tried in order
    timezone: str | None = None  # IANA name for timestamps without an offset; None: UTC
    decimal_comma: bool = False
    missing: frozenset[str] = frozenset()  # cell texts that mean "no value"
    # A mapping file's [leads.columns], [events.set] and so on: for one kind of file only
    kind_columns: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)
    kind_constants: Mapping[str, Mapping[str, str]] = attrs.field(factory=dict)

    @property
    def is_default(self) -> bool:
        return self == ReadOptions()

    def digest(self) -> str:
        """A short hash of the options: the same file read with other options is another import."""
        text = json.dumps([sorted(self.columns.items()), sorted(self.constants.items()),
                           self.delimiter, self.encoding, list(self.date_formats), self.timezone,
                           self.decimal_comma, sorted(self.missing)])
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def for_kind(self, kind: str) -> ReadOptions:
        """The options for a leads or an events file: its own columns and constants added."""
        if not self.kind_columns and not self.kind_constants:
            return self
        return attrs.evolve(
            self, columns={**self.columns, **self.kind_columns.get(kind, {})},
            constants={**self.constants, **self.kind_constants.get(kind, {})},
            kind_columns={}, kind_constants={})

    def zone(self):
        """The tzinfo naive timestamps are in: UTC, or the --timezone zone."""
        return timezone.utc if self.timezone is None else load_zone(self.timezone)


def load_zone(name: str):
    """The zoneinfo zone of an IANA name, or a UsageError saying what to do."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"--timezone {name!r}: not a time zone this system knows; write an IANA name like "
            "Europe/Berlin or America/New_York (where the system has no zone database, "
            "`pip install 'leadrules[tz]'` installs tzdata, which provides one)") from None


def parse_map(text: str, option: str = "--map") -> dict[str, str]:
    """`"Prospect ID=lead_id,Lead Origin=origin"` as {file column: name}."""
    pairs: dict[str, str] = {}
    for part in (p for p in text.split(",") if p.strip()):
        source, eq, target = part.partition("=")
        if not eq or not source.strip() or not target.strip():
            raise UsageError(f"{option} {part.strip()!r}: write COLUMN=NAME, like "
                             "'Prospect ID=lead_id'")
        pairs[source.strip()] = target.strip()
    return pairs


def load_mapping(path: str | Path) -> dict:
    """The settings of a mapping file (TOML), checked; keys as in `ReadOptions`' arguments."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise UsageError(f"{path}: cannot read the mapping file: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not a TOML mapping file: {e}") from None
    unknown = sorted(set(data) - _MAPPING_KEYS)
    if unknown:
        raise UsageError(f"{path}: unknown setting {unknown[0]!r}; a mapping file may have "
                         f"{', '.join(sorted(_MAPPING_KEYS))}")
    _check_tables(path, data, "")
    for kind in KINDS:
        section = data.get(kind, {})
        extra = sorted(set(section) - {"columns", "set"}) if isinstance(section, dict) else [""]
        if extra:
            raise UsageError(f"{path}: [{kind}] may have [{kind}.columns] and [{kind}.set], "
                             f"not {extra[0]!r}")
        _check_tables(path, section, f"{kind}.")
    formats = data.get("date_format", [])
    data["date_format"] = [formats] if isinstance(formats, str) else formats
    missing = data.get("missing", [])
    data["missing"] = [missing] if isinstance(missing, str) else missing
    return data


def _check_tables(path, data: dict, prefix: str) -> None:
    for table in ("columns", "set"):
        if not isinstance(data.get(table, {}), dict) or not all(
                isinstance(v, str) for v in data.get(table, {}).values()):
            raise UsageError(f"{path}: [{prefix}{table}] must map names to text, like "
                             "\"Prospect ID\" = \"lead_id\"")


def read_options(*, mapping_file: str | Path | None = None, columns: str | None = None,
                 sets: tuple[str, ...] = (), delimiter: str | None = None,
                 encoding: str | None = None, date_formats: tuple[str, ...] = (),
                 timezone_name: str | None = None, decimal_comma: bool = False,
                 missing: str | None = None) -> ReadOptions:
    """The options of one `ingest`: a mapping file's settings, then the command line's on top."""
    base = load_mapping(mapping_file) if mapping_file is not None else {}
    mapped = {**base.get("columns", {}), **(parse_map(columns) if columns else {})}
    constants = dict(base.get("set", {}))
    for item in sets:
        constants.update(parse_map(item, "--set"))
    tokens = list(base.get("missing", [])) + (
        [t.strip() for t in missing.split(",") if t.strip()] if missing else [])
    options = ReadOptions(
        columns=mapped, constants=constants,
        delimiter=_delimiter(delimiter if delimiter is not None else base.get("delimiter")),
        encoding=_encoding(encoding or base.get("encoding") or "utf-8"),
        date_formats=tuple(date_formats) or tuple(base.get("date_format", ())),
        timezone=timezone_name or base.get("timezone"),
        decimal_comma=decimal_comma or bool(base.get("decimal_comma", False)),
        missing=frozenset(tokens),
        kind_columns={k: base[k]["columns"] for k in KINDS if base.get(k, {}).get("columns")},
        kind_constants={k: base[k]["set"] for k in KINDS if base.get(k, {}).get("set")})
    for kind in KINDS:
        _check_targets(options.for_kind(kind))
    if options.timezone is not None:
        load_zone(options.timezone)
    for pattern in options.date_formats:
        _check_pattern(pattern)
    return options


def _delimiter(text: str | None) -> str | None:
    if text is None:
        return None
    if text not in DELIMITERS:
        raise UsageError(f"--delimiter {text!r}: use one of , ; tab |")
    return DELIMITERS[text]


def _encoding(name: str) -> str:
    try:
        codecs.lookup(name)
    except LookupError:
        raise UsageError(f"--encoding {name!r}: not an encoding Python knows; try utf-8, "
                         "cp1252 (Excel on Windows) or latin-1") from None
    return name


def _check_targets(options: ReadOptions) -> None:
    """No two columns mapped to one name, and no constant for a mapped column."""
    seen: dict[str, str] = {}
    for source, target in options.columns.items():
        if target in seen:
            raise UsageError(f"columns {seen[target]!r} and {source!r} are both mapped to "
                             f"{target!r}; map one of them")
        seen[target] = source
    for name in options.constants:
        if name in seen:
            raise UsageError(f"{name!r} is both set to a constant (--set) and mapped from "
                             f"column {seen[name]!r}; use one of them")


def _check_pattern(pattern: str) -> None:
    if pattern != UNIX and "%" not in pattern:
        raise UsageError(f"--date-format {pattern!r}: write a strftime pattern like "
                         "'%d.%m.%Y %H:%M', or `unix` for seconds since 1970")


def comma_number(text: str) -> str | None:
    """`1.200,50` as `1200.50` (and `3,5` as `3.5`); None when the cell is not such a number."""
    if "," not in text and "." not in text or not _COMMA_NUMBER.fullmatch(text):
        return None
    return text.replace(".", "").replace(",", ".")


def normal_id(text: str, decimal_comma: bool = False) -> str:
    """An id as stored: `660737.0` (a spreadsheet's integer) as `660737` (`660737,0` with
    --decimal-comma); any other id unchanged. The same text always gives the same id, so
    the rule needs no look at the rest of the column and holds for a streamed import."""
    pattern, mark = (_ZERO_COMMA_FRACTION, ",") if decimal_comma else (_ZERO_FRACTION, ".")
    if mark in text and (match := pattern.fullmatch(text)):
        return match.group(1)
    return text


def parse_with_formats(text: str, formats: tuple[str, ...], zone) -> datetime | None:
    """The moment `text` names by the first pattern that reads it whole; None if none does."""
    for pattern in formats:
        if pattern == UNIX:
            try:  # exact to the microsecond: through Decimal, not float
                micros = int(Decimal(text) * 1_000_000)
                return _EPOCH + timedelta(microseconds=micros)
            except (ArithmeticError, ValueError, OverflowError):
                continue
        try:
            moment = datetime.strptime(text, pattern)
        except ValueError:
            continue
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
    return None


def sniff_delimiter(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of `,` `;` tab outside quotes."""
    outside = re.sub(r'"[^"]*"', "", header_line)
    counts = {d: outside.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class NoSuchTime(ValueError):
    """A local time the clocks skip (the hour the zone moves to summer time)."""



def timestamp(text: str, options: ReadOptions, zone) -> int:
    """Microseconds since the epoch of a `ts` cell: by --date-format patterns in order, then
    ISO 8601; a time without an offset is in `zone`. Raises ValueError (NoSuchTime for a
    local time that does not exist)."""
    moment = parse_with_formats(text, options.date_formats, zone)
    if moment is None:
        moment = _iso(text, zone)
    if moment.tzinfo is zone and zone is not timezone.utc:
        wall = moment.replace(tzinfo=None)
        if moment.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != wall:
            raise NoSuchTime(text)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _iso(text: str, zone) -> datetime:
    if len(text) == 10:
        moment = datetime.combine(datetime.fromisoformat(text).date(), datetime.min.time())
    else:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
