"""What the store's commands print: an import's summary and rejects, and what a store holds."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from leadrules.engine.errors import Reject
from leadrules.engine.events import format_timestamp
from leadrules.engine.progress import Progress
from leadrules.engine.tables import table

if TYPE_CHECKING:
    from leadrules.engine.store.ingest import FileReport, IngestReport
    from leadrules.engine.store.mapping import ReadOptions
    from leadrules.engine.store.records import StoreInfo
    from leadrules.engine.store.store import Store

REJECT_COLUMNS = ("file", "line", "column", "value", "reason", "raw")


def ingest_summary(db: Path, outcome: IngestReport, options: ReadOptions | None = None) -> str:
    """The table `ingest` prints: per file its rows, what was added, skipped and rejected."""
    rows = []
    for f in outcome.files:
        rate = f"{f.read / f.seconds:,.0f}" if f.read and f.seconds > 0 else "-"
        rows.append((f.kind, f.name, f"{f.rows:,}", f"{f.added:,}",
                     f"{f.duplicates:,}" if f.kind == "events" else "", f"{f.new_leads:,}",
                     f"{f.rejected:,}", rate))
    lines = [f"Imported into {db}", table(
        ("file", "path", "rows", "added", "duplicates", "new leads", "rejected", "rows/s"), rows)]
    for f in outcome.files:
        if f.resumed_after:
            lines.append(f"{f.name}: resumed an interrupted import after line "
                         f"{f.resumed_after:,}; the counts include the earlier run")
        if f.status == "unchanged":
            lines.append(f"{f.name}: unchanged since import {f.import_id}, which took it "
                         "whole; not read again (the counts are that import's)")
        lines.extend(_reading_lines(f, options))
    return "\n".join(lines)


_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _reading_lines(f: FileReport, options: ReadOptions | None) -> list[str]:
    """How a file was read, where that is not the default: its delimiter when it was told
    from the header, the ids normalised and the cells read as missing by this run."""
    lines = []
    if f.sniffed and f.delimiter != "," and f.status != "unchanged":
        lines.append(f"{f.name}: columns separated by {_DELIMITER_NAMES[f.delimiter]} (told "
                     "from the header line; --delimiter to say otherwise)")
    if f.ids_normalised:
        lines.append(f"{f.name}: {f.ids_normalised:,} lead id{'s' if f.ids_normalised != 1 else ''}"
                     " written with a zero fraction (660737.0) stored without it (660737)")
    if f.comma_like:
        lines.append(f"{f.name}: {f.comma_like:,} cell{'s' if f.comma_like != 1 else ''} look like "
                     "numbers written with a decimal comma (1.200 or 3,5) and were stored as "
                     "written (a rule reads 1.200 as 1.2); if they are numbers, import again "
                     "with --decimal-comma")
    if f.missing_cells and options is not None:
        tokens = ", ".join(sorted(options.missing))
        lines.append(f"{f.name}: {f.missing_cells:,} cell{'s' if f.missing_cells != 1 else ''}"
                     f" read as missing ({tokens})")
    return lines


def reject_lines(store: Store, outcome: IngestReport, rejects_file: Path | None,
                 limit: int = 10) -> list[str]:
    """What to tell of the rejected rows (on stderr): the first ones, and where the rest are."""
    lines = []
    if outcome.stopped:
        lines.append(f"error: stopped after more than {outcome.max_rejects} rejected rows "
                     "(--max-rejects); the rows before were imported, and running the same "
                     "command again carries on from there")
    if not outcome.rejected:
        return lines
    for row in store.rejects(outcome.import_ids, limit):
        lines.append(str(Reject(row["file"], row["line"], row["reason"], row["column"],
                                row["value"])))
    more = store.count_rejects(outcome.import_ids) - limit
    where = f"; all of them are in {rejects_file}" if rejects_file else (
        "; write them all to a file with --rejects FILE")
    lines.append(f"{f'... and {more} more problems; ' if more > 0 else ''}"
                 f"{outcome.rejected:,} row{'' if outcome.rejected == 1 else 's'} rejected{where}")
    return lines


def write_rejects(path: Path, rejects: Iterable[dict], encoding: str = "utf-8") -> None:
    """Rejected rows as CSV (or JSON Lines for a .jsonl name), written whole or not at all,
    in the input's encoding, so each row's `raw` text is the bytes it had in its file."""
    temporary = path.with_name(f".{path.name}.leadrules-tmp")
    # Text read from the input always encodes back; "replace" is for the rest (a file name
    # with a character cp1252 lacks, say), which must not stop the rejects from being written.
    with open(temporary, "w", encoding=encoding, errors="replace", newline="") as out:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            for row in rejects:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            writer = csv.DictWriter(out, REJECT_COLUMNS)
            writer.writeheader()
            writer.writerows(rejects)
    os.replace(temporary, path)


def info_json(db: Path, facts: StoreInfo) -> dict:
    """`store info --format json`: every count, the imports as stored."""
    c = facts.counts
    return {"path": str(db), "schema_version": facts.schema_version,
            "leads": c.leads, "leads_from_events_only": facts.leads_from_events,
            "events": c.events,
            "first_event": format_timestamp(c.first_ts) if c.first_ts is not None else None,
            "last_event": format_timestamp(c.last_ts) if c.last_ts is not None else None,
            "event_types": dict(facts.event_types), "runs": c.runs,
            "latest_run": _run_json(facts.latest_run),
            "imports": facts.imports,
            "rejected_rows": sum(i["rejected"] for i in facts.imports)}


def _run_json(run: dict | None) -> dict | None:
    """A `runs` row for JSON: its leads per stage an object, not the text stored."""
    if run is None or run.get("stages") is None:
        return run
    return {**run, "stages": json.loads(run["stages"])}


def info_text(db: Path, facts: StoreInfo) -> str:
    """`store info`: the counts, events by type and the last ten imports."""
    c = facts.counts
    span = (f"{format_timestamp(c.first_ts)} .. {format_timestamp(c.last_ts)}"
            if c.first_ts is not None else "no events")
    run = facts.latest_run
    latest = (f"; latest #{run['run_id']} \"{run['ruleset_name']}\" as of "
              f"{format_timestamp(run['as_of'])}" if run else "")
    rejected = sum(i["rejected"] for i in facts.imports)
    lines = [
        f"Store:    {db} (schema version {facts.schema_version})",
        f"Leads:    {c.leads:,} ({facts.leads_from_events:,} known only from events)",
        f"Events:   {c.events:,} ({span})",
        f"Runs:     {c.runs:,}{latest}",
        f"Imports:  {len(facts.imports):,}; {rejected:,} rows rejected",
    ]
    if facts.event_types:
        lines += ["", "Events by type", table(
            ("type", "events"), [(t, f"{n:,}") for t, n in facts.event_types])]
    if facts.imports:
        recent = facts.imports[-10:]
        lines += ["", f"Imports{' (the last 10)' if len(facts.imports) > 10 else ''}",
                  table(("id", "kind", "source", "status", "rows", "added", "duplicates",
                                "rejected"),
                               [(i["import_id"], i["kind"], i["source"], _status(i["status"]),
                                 f"{i['rows']:,}", f"{i['added']:,}", f"{i['duplicates']:,}",
                                 f"{i['rejected']:,}") for i in recent])]
    return "\n".join(lines)


def _status(status: str) -> str:
    # A running import that is not running any more was interrupted; the store cannot
    # tell the two apart, so it says both.
    return "running/interrupted" if status == "running" else status


class IngestProgress:
    """`ingest`'s progress: a line per file with the rows imported, the share of the file read
    and the rate, measured from the first batch on (so that rows an interrupted run imported
    before count toward the rows, never toward the rate)."""

    def __init__(self, quiet: bool = False, **progress):
        self.quiet, self.progress = quiet, progress
        self.bar: Progress | None = None
        self.file: tuple | None = None

    def __enter__(self) -> IngestProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.close()

    def update(self, kind: str, source, rows: int) -> None:
        if self.file != (kind, source.name):
            if self.bar is not None:
                self.bar.close()
            self.bar = Progress(f"Importing {kind}", start=rows, quiet=self.quiet, **self.progress)
            self.file = (kind, source.name)
        if not self.bar.active:
            return
        share = f" ({100 * source.position / source.size:.0f}% read)" if source.size else ""
        self.bar.show(rows, note=f"{source.name}{share}")
