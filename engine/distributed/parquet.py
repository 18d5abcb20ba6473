"""Leads and events as Parquet, partitioned by lead: the layout, the export, one bucket's rows.

An export is a folder:

    DIR/_leadrules.json               what it holds: partitions, counts, the store's data version
    DIR/leads/part-00000.parquet      lead_id, profile
    DIR/events/part-00000.parquet     lead_id, ts, event_id, type, props
    ...                               one leads file and one events file per partition

A lead and all its events are in the partition `bucket_of(lead_id, partitions)` (CRC-32 of the
lead_id modulo the number of partitions), and each events file is sorted by (lead_id, ts,
event_id). docs/scale.md has the schema. Readers never trust that order (`read_bucket` sorts).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import attrs
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadrules.dsl.errors import UsageError
from leadrules.engine.distributed.partition import EMPTY_PROFILE, PartitionRows, bucket_of
from leadrules.engine.store.store import DETAIL_COLUMNS, RESULT_COLUMNS, Store

LAYOUT = 1  # the version of this folder layout, in _leadrules.json
META = "_leadrules.json"
_TS = pa.timestamp("us", tz="UTC")
LEADS_SCHEMA = pa.schema([pa.field("lead_id", pa.string(), nullable=False),
                          pa.field("profile", pa.string(), nullable=False)])
EVENTS_SCHEMA = pa.schema([pa.field("lead_id", pa.string(), nullable=False),
                           pa.field("ts", _TS, nullable=False),
                           pa.field("event_id", pa.string(), nullable=False),
                           pa.field("type", pa.string(), nullable=False),
                           pa.field("props", pa.string(), nullable=False)])
# What a run writes: the store's tables, their times as UTC timestamps.
_INTS = {"score", "fit", "band", "events", "seq"}
_TIMES = {"next_due", "ts", "entered_at", "due", "decided_at"}
OUTPUT_SCHEMAS = {
    table: pa.schema([(c, _TS if c in _TIMES else pa.int64() if c in _INTS else pa.string())
                      for c in columns])
    for table, columns in (("results", RESULT_COLUMNS), *DETAIL_COLUMNS.items())}
EVENTS_PER_PARTITION = 250_000  # the default's aim: a bucket is read into memory at once
_BUFFERED_ROWS = 500_000  # export: event rows held before the buckets are written out
_BATCH_ROWS = 65_536


@attrs.frozen
class ExportReport:
    """What `export_store` wrote."""

    path: Path
    partitions: int
    leads: int
    events: int
    seconds: float


def export_store(store: Store, out: Path, partitions: int | None = None) -> ExportReport:
    """Write the store's leads and events into `out` as Parquet, partitioned by lead.

    `out` must not exist or be an earlier export (which is replaced); the export is written
    beside it and moved into place at the end, so `out` is whole or untouched. Memory holds
    at most _BUFFERED_ROWS event rows, whatever the store's size.
    """
    started = time.perf_counter()
    counts = store.counts()
    partitions = partitions or max(4, math.ceil(counts.events / EVENTS_PER_PARTITION))
    data_version = store.data_version()  # before reading: a later write is a newer version
    with replacing(out) as folder:
        writer = _BucketWriter(folder, partitions)
        leads = events = 0
        try:
            for lead_id, profile, rows in store.scan_leads():
                writer.add(lead_id, profile, rows)
                leads += 1
                events += len(rows)
        finally:
            writer.close()
        (folder / META).write_text(json.dumps({
            "layout": LAYOUT, "partitions": partitions,
            "partitioned_by": "crc32(utf8(lead_id)) mod partitions",
            "sorted_by": ["lead_id", "ts", "event_id"], "leads": leads, "events": events,
            "store": str(Path(store.path).resolve()), "data_version": data_version,
        }, indent=2) + "\n")
    return ExportReport(out, partitions, leads, events, time.perf_counter() - started)


class _BucketWriter:
    """One leads and one events Parquet writer per partition, fed lead by lead in lead_id
    order, so each file's rows come out sorted as the store's scan gives them."""

    def __init__(self, folder: Path, partitions: int):
        self.partitions = partitions
        self.writers = {}
        for kind, schema in (("leads", LEADS_SCHEMA), ("events", EVENTS_SCHEMA)):
            (folder / kind).mkdir()
            self.writers[kind] = [pq.ParquetWriter(folder / kind / part_name(k), schema)
                                  for k in range(partitions)]
        self.leads = [([], []) for _ in range(partitions)]
        self.events: list[list[tuple]] = [[] for _ in range(partitions)]
        self.buffered = 0

    def add(self, lead_id: str, profile: str, rows: list[tuple]) -> None:
        k = bucket_of(lead_id, self.partitions)
        ids, profiles = self.leads[k]
        ids.append(lead_id)
        profiles.append(profile)
        self.events[k].extend(rows)
        self.buffered += len(rows)
        if self.buffered >= _BUFFERED_ROWS:
            self.flush()

    def flush(self) -> None:
        for k in range(self.partitions):
            ids, profiles = self.leads[k]
            if ids:
                self.writers["leads"][k].write_table(
                    pa.table([ids, profiles], schema=LEADS_SCHEMA))
            if self.events[k]:
                lead_ids, ts, event_ids, types, props = zip(*self.events[k])
                self.writers["events"][k].write_table(pa.table(
                    [pa.array(lead_ids, pa.string()), pa.array(ts, pa.int64()).cast(_TS),
                     *(pa.array(c, pa.string()) for c in (event_ids, types, props))],
                    schema=EVENTS_SCHEMA))
        self.leads = [([], []) for _ in range(self.partitions)]
        self.events = [[] for _ in range(self.partitions)]
        self.buffered = 0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for writers in self.writers.values():
                for writer in writers:
                    writer.close()


def part_name(bucket: int) -> str:
    return f"part-{bucket:05d}.parquet"


# Reading an export -------------------------------------------------------------------------

@attrs.frozen
class Bucket:
    """One partition of an export: its leads file and its events file."""

    name: str
    leads: str
    events: str


def buckets(folder: Path) -> tuple[list[Bucket], dict]:
    """The partitions of an export folder (DIR, with leads/ and events/ in it), paired by
    file name, and its _leadrules.json ({} when there is none); UsageError if they do not
    pair up."""
    if not (folder / "events").is_dir() or not (folder / "leads").is_dir():
        raise UsageError(f"{folder}: not a leadrules Parquet export: it needs a leads/ and an "
                         "events/ folder (`leadrules export --parquet DIR` writes one)")
    names = {kind: sorted(p.name for p in (folder / kind).glob("*.parquet"))
             for kind in ("leads", "events")}
    if names["leads"] != names["events"]:
        odd = sorted(set(names["leads"]) ^ set(names["events"]))
        raise UsageError(f"{folder}: leads/ and events/ must hold the same partition files; "
                         f"{odd[0]} is in only one of them")
    if not names["events"]:
        raise UsageError(f"{folder}: no .parquet files in leads/ and events/")
    meta_path = folder / META
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    folder = folder.resolve()  # what a worker elsewhere opens, on a shared file system
    return [Bucket(name, str(folder / "leads" / name), str(folder / "events" / name))
            for name in names["events"]], meta


def read_bucket(bucket: Bucket, types: frozenset[str] | None = None
                ) -> tuple[Iterator[tuple[str, str]], Iterator[tuple]]:
    """One partition's leads (lead_id, profile) and event rows (lead_id, ts in microseconds,
    event_id, type, props), each sorted by Arrow (leads by lead_id, events by (lead_id, ts,
    event_id)) and converted to Python rows a batch at a time; events of `types` only."""
    leads = _read(bucket.leads, LEADS_SCHEMA)
    filters = None if types is None else pc.field("type").isin(sorted(types))
    events = _read(bucket.events, EVENTS_SCHEMA, filters)
    _unique(bucket.leads, leads, "lead_id")
    _unique(bucket.events, events, "event_id")
    leads = leads.sort_by([("lead_id", "ascending")])
    events = events.sort_by([("lead_id", "ascending"), ("ts", "ascending"),
                             ("event_id", "ascending")])
    return _rows(leads), _rows(events)


def _read(path: str, schema: pa.Schema, filters=None) -> pa.Table:
    """A file's columns of `schema`, checked and cast to it; nulls in JSON columns are {}."""
    try:
        found = pq.read_schema(path).names
        missing = [name for name in schema.names if name not in found]
        if missing:
            raise UsageError(f"{path}: no column {missing[0]!r}; found: {', '.join(found)}")
        table = pq.read_table(path, columns=schema.names, filters=filters)
    except (OSError, pa.ArrowException) as error:
        raise UsageError(f"{path}: cannot read as Parquet: {error}") from None
    columns = []
    for field in schema:
        column = table[field.name]
        if field.type == _TS and pa.types.is_timestamp(column.type):
            column = pc.cast(column, _TS, safe=False).cast(pa.int64())  # nanoseconds: dropped
        elif field.type != column.type and not (
                pa.types.is_large_string(column.type) and field.type == pa.string()):
            raise UsageError(f"{path}: column {field.name!r} is {column.type}, not "
                             f"{'timestamp' if field.type == _TS else field.type}")
        if field.name in ("profile", "props"):
            column = pc.fill_null(column, EMPTY_PROFILE)
        elif column.null_count:
            raise UsageError(f"{path}: column {field.name!r} has {column.null_count:,} empty "
                             "values; every row needs one")
        columns.append(column)
    return pa.table(columns, names=schema.names)


def _unique(path: str, table: pa.Table, column: str) -> None:
    distinct = pc.count_distinct(table[column]).as_py()
    if distinct != table.num_rows:
        counts = pc.value_counts(table[column])
        twice = next(item["values"].as_py() for item in counts if item["counts"].as_py() > 1)
        raise UsageError(f"{path}: {column} {twice!r} appears more than once; each "
                         f"{column} must be unique (`leadrules ingest` drops repeated ones)")


def _rows(table: pa.Table) -> Iterator[tuple]:
    for batch in table.to_batches(max_chunksize=_BATCH_ROWS):
        yield from zip(*(column.to_pylist() for column in batch.columns))


# Writing a run's output --------------------------------------------------------------------

def output_folders(folder: Path) -> None:
    """The folders `write_part` writes into (it makes none: a task still running after the
    run failed must not make again the folder that was removed)."""
    for table in OUTPUT_SCHEMAS:
        (folder / table).mkdir()


def write_part(folder: Path, name: str, rows: PartitionRows) -> None:
    """One partition's results, stage moves, actions and SLA entries, as `name` in
    folder/results/, folder/stage_moves/, folder/actions/ and folder/sla/."""
    for table, records in (("results", rows.results), *rows.details.items()):
        schema = OUTPUT_SCHEMAS[table]
        columns = [pa.array(list(values), pa.int64()).cast(_TS) if field.type == _TS
                   else pa.array(list(values), field.type)
                   for field, values in zip(schema, zip(*records))] if records else [
            pa.array([], field.type) for field in schema]
        pq.write_table(pa.table(columns, schema=schema), folder / table / name)


@contextlib.contextmanager
def replacing(target: Path) -> Iterator[Path]:
    """`with replacing(out) as folder:` write into a fresh folder beside `out`, moved into its
    place at the end, so `out` is whole or untouched. An earlier leadrules folder there (one
    with _leadrules.json) is replaced; anything else but an empty folder is refused."""
    target = Path(target)
    if target.exists() and not (target / META).exists() and (
            not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target}: exists and is not a leadrules Parquet folder; give a new "
                         "or empty folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield folder
    except BaseException:
        _remove(folder)
        raise
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(folder, target)
        shutil.rmtree(old)
    else:
        os.rename(folder, target)


def _remove(folder: Path) -> None:
    """Remove a folder that a task still running on a worker (its run failed) may be writing
    into: again if a file came in while it was being removed; once it is gone, no task makes
    it again (`output_folders`)."""
    for _ in range(50):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.1)
