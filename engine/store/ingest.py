"""Turn rows of lead and event files into profiles and events, and import them in batches.

`ingest` streams each file in batches; each batch (its leads or events, its rejected rows and
the import's progress) is one transaction, so a crash leaves whole batches, and running the
same command again resumes after the last one. Bad rows never stop the good ones: they are
stored as rejects with file, line, column and reason. `read_leads` and `read_events` read a
whole file into memory instead, refusing it if any row is bad (for dry-runs).
"""

from __future__ import annotations

import hashlib
import json
import time
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, Mapping

import attrs

from leadrules.dsl import ast
from leadrules.dsl.errors import UsageError
from leadrules.engine.errors import InputErrors, Reject
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.store import bulk
from leadrules.engine.store.importlock import import_lock
from leadrules.engine.store.mapping import (
    NoSuchTime,
    ReadOptions,
    comma_number,
    normal_id,
    parse_with_formats,
    timestamp,
)
from leadrules.engine.store.records import BatchCounts, ImportState, json_text
from leadrules.engine.store.sources import STDIN, Bad, Row, Source
from leadrules.engine.store.staging import MERGE_MAX_ROWS
from leadrules.engine.store.store import Store
from leadrules.engine.values import READERS

LEAD_COLUMNS = ("lead_id",)
EVENT_COLUMNS = ("lead_id", "type", "ts")
_EVENT_KEYS = frozenset({"event_id", "lead_id", "type", "ts"})
_LEAD_KEYS = frozenset({"lead_id"})
# JSON Lines may nest the remaining cells under one of these keys, or give them flat.
LEAD_NESTED = ("profile", "fields")
EVENT_NESTED = ("props", "properties")
TIMESTAMP_HINT = "not a timestamp; write ISO 8601 like 2026-03-14T09:21:05Z or 2026-03-14"
BATCH_ROWS = 5000
# What a typed lead field must read as, and what to say when it does not.
_TYPE_HINTS = {"number": "not a number", "date": "not a date; write 2026-03-14",
               "boolean": "not true/false (or yes/no, 1/0)"}

_JSON = json.JSONEncoder(ensure_ascii=False)
LeadRow = tuple[str, dict[str, str]]
Progress = Callable[[str, "Source", int], None]


@attrs.frozen
class FileReport:
    """What importing one file did, over all runs of an import that was resumed."""

    kind: str  # 'leads' or 'events'
    name: str
    format: str
    import_id: int
    resumed_after: int  # the last line an earlier, interrupted run committed; 0 if none
    rows: int  # data rows read (taken or rejected)
    added: int  # events added, or lead rows written
    duplicates: int  # events whose id was already stored or came earlier in the file
    new_leads: int  # leads the file created (for events: leads seen first in an event)
    rejected: int  # rows rejected
    read: int  # rows this run read (fewer than `rows` when it resumed, 0 when unchanged)
    status: str  # 'done', 'stopped' by --max-rejects, or 'unchanged' (not read again)
    seconds: float  # time this run spent on the file
    delimiter: str | None = None  # CSV: the delimiter used
    sniffed: bool = False  # CSV: the delimiter was told from the header line
    ids_normalised: int = 0  # this run: ids like 660737.0 written as 660737
    missing_cells: int = 0  # this run: cells that were a --missing token
    comma_like: int = 0  # this run, `;` files without --decimal-comma: cells like 1.200 or 3,5


@attrs.frozen
class IngestReport:
    """The files of one `ingest`; `stopped` when --max-rejects cut it short."""

    files: tuple[FileReport, ...]
    max_rejects: int | None

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def stopped(self) -> bool:
        return any(f.status == "stopped" for f in self.files)

    @property
    def import_ids(self) -> list[int]:
        return [f.import_id for f in self.files]


def field_types(ruleset) -> dict[str, str]:
    """The lead fields a ruleset declares with a type ingest can check (number, date, boolean)."""
    return {f.name.text: f.type.text
            for decl in ruleset.of(ast.FieldsDecl) for f in decl.fields
            if f.type.text in _TYPE_HINTS}


def placeholders(ruleset) -> frozenset[str]:
    """The ruleset's `missing "Select", ...` tokens: cells ingest does not type-check, since
    the rules read them as absent."""
    return frozenset(t for decl in ruleset.of(ast.FieldsDecl) for t in decl.missing)


def ingest(store: Store, leads: str | Path | None = None, events: str | Path | None = None, *,
           format: str | None = None, types: Mapping[str, str] | None = None,
           max_rejects: int | None = None, batch_rows: int = BATCH_ROWS,
           progress: Progress | None = None, stdin: BinaryIO | None = None,
           now: int | None = None, options: ReadOptions | None = None,
           placeholders: frozenset[str] = frozenset()) -> IngestReport:
    """Import a leads file and/or an events file (leads first), batch by batch.

    Both files are opened and their headers checked before anything is written, so unusable
    input (a missing file, no header) raises UsageError with the store untouched. `types`
    maps lead fields to the type their cells must have; `now` (microseconds) is the
    ingestion time recorded on events; `options` say how to read the files (mapping,
    delimiter, encoding, date formats, time zone, decimal comma, missing tokens);
    `placeholders` are cell texts the rules read as absent, which are not type-checked.
    """
    if leads is None and events is None:
        raise UsageError("nothing to ingest; give --leads FILE, --events FILE, or both")
    if leads is not None and events is not None and str(leads) == str(events) == "-":
        raise UsageError("only one of --leads and --events can read stdin (-)")
    now = time.time_ns() // 1000 if now is None else now
    options = options or ReadOptions()
    jobs = []
    try:
        if leads is not None:
            jobs.append(("leads", open_source(leads, LEAD_COLUMNS, LEAD_NESTED, format, stdin,
                                              options.for_kind("leads")),
                         Convert.leads(options, types, placeholders)))
        if events is not None:
            jobs.append(("events", open_source(events, EVENT_COLUMNS, EVENT_NESTED, format,
                                               stdin, options.for_kind("events")),
                         Convert.events(options)))
        _check_mapped(options, [(kind, source) for kind, source, _ in jobs])
        for _, source, convert in jobs:
            convert.watch_commas = source.delimiter == ";" and not options.decimal_comma
        budget = _Budget(max_rejects)
        reports: list[FileReport] = []
        with import_lock(store.path, [_import_name(source) for _, source, _ in jobs],
                         store.running_import):
            for kind, source, convert in jobs:
                if budget.exceeded:
                    break
                reports.append(_import_file(store, kind, source, convert, budget, batch_rows,
                                            progress, now))
        return IngestReport(tuple(reports), max_rejects)
    finally:
        for _, source, _ in jobs:
            source.close()


def open_source(path: str | Path, required: tuple[str, ...], nested: tuple[str, ...],
                format: str | None = None, stdin: BinaryIO | None = None,
                options: ReadOptions | None = None):
    """A `Source`, or for Parquet (`format`, a folder, or a name ending in .parquet) a
    `ParquetSource` (engine.store.parquet_source), which yields the same rows."""
    if format == "parquet" or (format is None and path != STDIN and (
            Path(path).is_dir() or str(path).lower().endswith(".parquet"))):
        try:
            from leadrules.engine.store.parquet_source import ParquetSource
        except ImportError as error:  # pyarrow, with the `dask` extra: only for Parquet
            if (error.name or "").split(".")[0] != "pyarrow":
                raise
            raise UsageError(f"{path}: Parquet files need pyarrow: pip install 'leadrules[dask]'"
                             ) from None
        return ParquetSource(path, required, nested, options)
    return Source(path, required, nested, format, stdin, options)


@attrs.define
class _Budget:
    """How many more rows may be rejected before the import stops (--max-rejects)."""

    limit: int | None
    used: int = 0

    def spend(self, rows: int) -> None:
        self.used += rows

    @property
    def exceeded(self) -> bool:
        return self.limit is not None and self.used > self.limit


def _import_file(store: Store, kind: str, source: Source, convert, budget: _Budget,
                 batch_rows: int, progress: Progress | None, now: int) -> FileReport:
    """Import one file batch by batch, resuming an interrupted import of it."""
    started = time.perf_counter()
    fmt = source.format + ("+gzip" if source.compressed else "")
    name = _import_name(source)
    fingerprint = source.fingerprint
    if fingerprint is not None and not source.options.is_default:
        # The same file read another way (another mapping, encoding...) is another import.
        fingerprint += ":" + source.options.digest()
    state = store.begin_import(kind, name, fingerprint, fmt, now)
    budget.spend(state.rejected)
    totals = _Totals.of(state)
    status = "unchanged"
    if state.status != "done":
        status = _import_batches(store, kind, source, convert, state, totals, budget,
                                 batch_rows, progress, now)
    return FileReport(kind=kind, name=source.name, format=fmt, import_id=state.import_id,
                      resumed_after=state.line_done if state.status == "unfinished" else 0,
                      read=totals.rows - state.rows, status=status,
                      seconds=time.perf_counter() - started, delimiter=source.delimiter,
                      sniffed=source.sniffed, ids_normalised=convert.ids_normalised,
                      missing_cells=source.missing_cells, comma_like=convert.comma_like,
                      **attrs.asdict(totals))


def _import_name(source: Source) -> str:
    """What `imports` calls a source: its absolute path, or `<stdin>`."""
    return source.name if source.fingerprint is None else str(Path(source.path).resolve())


def _import_batches(store: Store, kind: str, source: Source, convert, state: ImportState,
                    totals: _Totals, budget: _Budget, batch_rows: int,
                    progress: Progress | None, now: int) -> str:
    """Read the file after the import's last committed line and commit it batch by batch;
    returns the status the import ends with. Events are staged, and merged into the store
    whenever as many are staged as it holds (engine/store/staging.py), and at the end."""
    merging = _Merging(store, totals, batch_rows) if kind == "events" else None
    try:
        for batch in _batches(_results(kind, source, convert, state.line_done), batch_rows,
                              budget):
            records = {"staged" if merging else kind: batch.records}
            counts = store.commit_batch(state.import_id, batch.last_line, batch.rows,
                                        ingested_at=now, rejects=batch.rejects, **records)
            totals.add(batch.rows, counts)
            if merging:
                merging.staged(batch.records)
            if progress is not None:
                progress(kind, source, totals.rows)
    except UsageError as error:  # the file broke off midway (truncated gzip, a read error)
        merging and merging.now()
        store.finish_import(state.import_id, "failed", time.time_ns() // 1000)
        if totals.rows > state.rows:
            raise UsageError(f"{error}; the {totals.rows - state.rows:,} rows before were "
                             "imported, and importing the whole file later adds just the rest"
                             ) from None
        raise
    except KeyboardInterrupt:  # Ctrl-C: what is staged is whole batches; store it now
        merging and merging.now()
        raise
    merging and merging.now()
    status = "stopped" if budget.exceeded else "done"
    store.finish_import(state.import_id, status, time.time_ns() // 1000)
    return status


class _Merging:
    """When an events import merges its staged rows: once as many are staged as the store
    holds (at least a batch, at most MERGE_MAX_ROWS), so that every event is written about
    twice however large the import, and readers see whole batches as they are merged."""

    def __init__(self, store: Store, totals: _Totals, batch_rows: int):
        self.store, self.totals, self.batch_rows = store, totals, batch_rows
        self.stored = store.imported_events()
        self.pending = 0
        self.leads: set[str] = set()  # of the staged rows, so the merge need not find them

    def staged(self, rows: list[tuple]) -> None:
        """A batch of `rows` was committed to the stage."""
        self.pending += len(rows)
        self.leads.update(map(itemgetter(0), rows))
        if self.pending >= min(max(self.batch_rows, self.stored), MERGE_MAX_ROWS):
            self.now()

    def now(self) -> None:
        counts = self.store.merge_staged(sorted(self.leads))
        self.totals.add(0, BatchCounts(counts.added, counts.duplicates, counts.new_leads, 0))
        self.stored += counts.added
        self.pending = 0
        self.leads = set()


def _results(kind: str, source: Source, convert, line_done: int) -> Iterator[tuple[int, object]]:
    """(line, record or list of rejects) for each row after `line_done`; events as the
    tuples the store stages, by the fast path where the file allows it."""
    if kind == "leads":
        return ((item.line, _convert(item, source, convert)) for item in source.rows()
                if item.line > line_done)

    def general(item):
        result = _convert(item, source, convert)
        return result if result.__class__ is list else (
            result.lead_id, result.ts, result.event_id, result.type, json_text(result.props))

    if bulk.usable(source, convert):
        return bulk.event_rows(source, line_done, general, content_id)
    return ((item.line, general(item)) for item in source.rows() if item.line > line_done)


@attrs.define
class _Totals:
    rows: int
    added: int
    duplicates: int
    new_leads: int
    rejected: int

    @classmethod
    def of(cls, state: ImportState) -> _Totals:
        return cls(state.rows, state.added, state.duplicates, state.new_leads, state.rejected)

    def add(self, rows: int, counts) -> None:
        self.rows += rows
        self.added += counts.added
        self.duplicates += counts.duplicates
        self.new_leads += counts.new_leads
        self.rejected += counts.rejected


@attrs.define
class _Batch:
    records: list = attrs.Factory(list)
    rejects: list[Reject] = attrs.Factory(list)
    rows: int = 0
    last_line: int = 0


def _batches(results: Iterator[tuple[int, object]], batch_rows: int,
             budget: _Budget) -> Iterator[_Batch]:
    """The rows' results in batches of `batch_rows` rows.

    When the rejects exceed the budget, the batch ends with the row that exceeded it and
    no more batches follow.
    """
    batch = _Batch()
    for line, result in results:
        batch.rows += 1
        batch.last_line = line
        if result.__class__ is list:
            batch.rejects.extend(result)
            budget.spend(1)
            if budget.exceeded:
                break
        else:
            batch.records.append(result)
        if batch.rows >= batch_rows:
            yield batch
            batch = _Batch()
    if batch.rows:
        yield batch


def _convert(item: Row | Bad, source: Source, convert):
    """A row's record (a lead or an event), or the list of its rejects."""
    if isinstance(item, Row):
        return convert(item, source.name)
    return [_reject(item, source)]


def _reject(bad: Bad, source: Source) -> Reject:
    return Reject(source.name, bad.line, bad.reason, bad.column, bad.value, bad.raw)


def _missing(file: str, row: Row, column: str) -> Reject:
    return Reject(file, row.line, f"missing {column}", column, "", row.raw)


class Convert:
    """Turns a file's rows into leads or events, reading values as `options` say; counts the
    ids it normalised. Made by `leads` or `events`; call it with a row and the file's name."""

    def __init__(self, options: ReadOptions, types: Mapping[str, str], kind: str,
                 placeholders: frozenset[str] = frozenset()):
        self.options, self.types, self.placeholders = options, types, placeholders
        self._convert = self._lead if kind == "leads" else self._event
        self.ids_normalised = 0
        # In a `;`-separated file (as German Excel writes) without --decimal-comma: count the
        # cells that look like 1.200 or 3,5, so the summary can ask whether they are numbers.
        self.watch_commas = False
        self.comma_like = 0
        self._zone = options.zone()
        self._plain_ts = not options.date_formats and options.timezone is None

    @classmethod
    def leads(cls, options: ReadOptions, types: Mapping[str, str] | None = None,
              placeholders: frozenset[str] = frozenset()) -> Convert:
        """Lead rows; `types`: the declared fields their cells must read as (unless they are
        one of the `placeholders`)."""
        return cls(options, types or {}, "leads", placeholders)

    @classmethod
    def events(cls, options: ReadOptions) -> Convert:
        return cls(options, {}, "events")

    def __call__(self, row: Row, file: str):
        return self._convert(row, file)

    def _lead(self, row: Row, file: str) -> LeadRow | list[Reject]:
        cells = row.cells
        if "lead_id" not in cells:
            return [_missing(file, row, "lead_id")]
        profile = _properties(file, row, _LEAD_KEYS, LEAD_NESTED)
        if isinstance(profile, Reject):
            return [profile]
        profile = self._values(profile)
        problems = [Reject(file, row.line, f"{_TYPE_HINTS[kind]} (the rules declare "
                                           f"{name}: {kind})", name, profile[name], row.raw)
                    for name, kind in self.types.items()
                    if name in profile and READERS[kind](profile[name]) is None
                    and profile[name] not in self.placeholders]
        if problems:
            return problems
        return self._id(cells["lead_id"]), profile

    def _event(self, row: Row, file: str) -> Event | list[Reject]:
        """The event a row describes, or every problem that keeps it from being one."""
        cells = row.cells
        problems = [_missing(file, row, column) for column in EVENT_COLUMNS
                    if column not in cells]
        ts = None
        if "ts" in cells:
            try:
                ts = (parse_timestamp(cells["ts"]) if self._plain_ts
                      else timestamp(cells["ts"], self.options, self._zone))
            except NoSuchTime:
                problems.append(Reject(file, row.line, f"no such time in {self.options.timezone}"
                                       " (the clocks skip it when summer time begins)", "ts",
                                       cells["ts"], row.raw))
            except (ValueError, OverflowError):
                problems.append(Reject(file, row.line, self._ts_hint(), "ts", cells["ts"],
                                       row.raw))
        props = _properties(file, row, _EVENT_KEYS, EVENT_NESTED)
        if isinstance(props, Reject):
            problems.append(props)
        if problems:
            return problems
        props = self._values(props)
        lead_id = self._id(cells["lead_id"])
        event_id = cells.get("event_id") or content_id(lead_id, cells["type"], ts, props)
        return Event(event_id=event_id, lead_id=lead_id, type=cells["type"], ts=ts, props=props)

    def _ts_hint(self) -> str:
        if not self.options.date_formats:
            return TIMESTAMP_HINT
        return (f"not a timestamp in the formats {', '.join(self.options.date_formats)} "
                "(--date-format) nor ISO 8601")

    def _id(self, text: str) -> str:
        normal = normal_id(text, self.options.decimal_comma)
        if normal is not text:
            self.ids_normalised += 1
        return normal

    def _values(self, cells: dict[str, str]) -> dict[str, str]:
        """Cells with numbers like 1.200,50 written as 1200.50 (--decimal-comma) and dates
        of declared date fields by --date-format written as ISO dates."""
        if self.options.decimal_comma:
            cells = {k: comma_number(v) or v for k, v in cells.items()}
        elif self.watch_commas:
            self.comma_like += sum(1 for v in cells.values() if comma_number(v) is not None)
        if self.options.date_formats and self.types:
            for name, kind in self.types.items():
                if kind == "date" and name in cells:
                    cells[name] = self._date(cells[name])
        return cells

    def _date(self, text: str) -> str:
        moment = parse_with_formats(text, self.options.date_formats, self._zone)
        return moment.date().isoformat() if moment is not None else text


def _check_mapped(options: ReadOptions, sources: list[tuple[str, Source]]) -> None:
    """Every mapped column is in a CSV header: one of a kind's own ([leads.columns]) in its
    file's, one of --map or [columns] in some file's. (JSON keys are seen only row by row.)"""
    for kind, source in sources:
        own = options.kind_columns.get(kind, {})
        if source.format == "csv" and (absent := [c for c in own if c not in source.found]):
            raise UsageError(f"[{kind}.columns] names column {absent[0]!r}, which "
                             f"{source.name} does not have; the names must be written as in "
                             "the header")
    csv_sources = [s for _, s in sources if s.format == "csv"]
    if not csv_sources or len(csv_sources) < len(sources):
        return
    found = set().union(*(s.found for s in csv_sources))
    absent = [name for name in options.columns if name not in found]
    if absent:
        which = ("no file has" if len(csv_sources) > 1
                 else f"{csv_sources[0].name} does not have")
        raise UsageError(f"--map names column {absent[0]!r}, which {which}; the names must be "
                         "written as in the header (a mapping file can map the columns of "
                         "one kind of file in [leads.columns] or [events.columns])")


def _properties(file: str, row: Row, keys: frozenset[str],
                nested: tuple[str, ...]) -> dict[str, str] | Reject:
    """A row's cells other than its own fields, with those nested under `props` (say).

    A nested name is a property even if the row's own fields have it (`type` of a content
    request); the same property given both flat and nested is a reject.
    """
    flat = {k: v for k, v in row.cells.items() if k not in keys}
    if not row.nested:
        return flat
    if twice := next((name for name in row.nested if name in flat), None):
        return Reject(file, row.line, f"{twice!r} is given twice: on its own and under "
                                      f"{'/'.join(nested)}", twice, flat[twice], row.raw)
    return {**flat, **row.nested}


def content_id(lead_id: str, type_: str, ts: int, props: Mapping[str, str]) -> str:
    """A stable id for an event given without one, so re-ingesting a file adds nothing."""
    # The parsed ts, not its text: `+01:00` and the same moment in `Z` are one event.
    text = _JSON.encode([lead_id, type_, ts, sorted(props.items())])
    return "h" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def read_leads(path: str | Path, format: str | None = None,
               types: Mapping[str, str] | None = None,
               options: ReadOptions | None = None) -> list[LeadRow]:
    """Every lead profile of a file, in file order; InputErrors if any row is bad."""
    options = options or ReadOptions()
    return _read_all(open_source(path, LEAD_COLUMNS, LEAD_NESTED, format, options=options),
                     Convert.leads(options, types))


def read_events(path: str | Path, format: str | None = None,
                options: ReadOptions | None = None) -> list[Event]:
    """Every event of a file, in file order; InputErrors if any row is bad."""
    options = options or ReadOptions()
    return _read_all(open_source(path, EVENT_COLUMNS, EVENT_NESTED, format, options=options),
                     Convert.events(options))


def _read_all(source: Source, convert) -> list:
    records, rejects = [], []
    with source:
        for item in source.rows():
            result = _convert(item, source, convert)
            (rejects.extend if isinstance(result, list) else records.append)(result)
    if rejects:
        raise InputErrors(rejects)
    return records


def sample_leads(leads_file: str, events_file: str, only: str | None = None
                 ) -> list[tuple[str, dict, list[Event]]]:
    """(lead_id, profile, events) of sample files, by lead_id, leads known only from events
    included (only the lead `only`, if given); for dry-runs, explanations and diffs."""
    profiles: dict[str, dict] = {}
    for lead_id, profile in read_leads(leads_file):
        profiles.setdefault(lead_id, {}).update(profile)
    by_lead: dict[str, list] = {}
    for event in read_events(events_file):
        by_lead.setdefault(event.lead_id, []).append(event)
        profiles.setdefault(event.lead_id, {})
    if only is not None and only not in profiles:
        raise UsageError(f"no lead {only!r} in {leads_file} or {events_file}")
    return [(lead, profiles[lead], by_lead.get(lead, [])) for lead in sorted(profiles)
            if only is None or lead == only]
