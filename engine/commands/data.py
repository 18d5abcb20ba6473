"""The commands on data: sample, ingest, export, and `store info`."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from leadrules import dsl
from leadrules.dsl.errors import LeadrulesError, UsageError
from leadrules.engine.commands.common import (
    db_option,
    existing_store,
    quiet_option,
    reading_options,
    renamed,
)
from leadrules.engine.distributed import load as load_distributed
from leadrules.engine.progress import Progress
from leadrules.engine.store import render as store_render
from leadrules.engine.store.store import Store


@click.command()
@click.option("--count", "n_leads", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of leads to generate.")
@click.option("--leads", "old_n_leads", type=click.IntRange(min=1), hidden=True,
              callback=lambda ctx, param, value: renamed(value, "sample --leads N",
                                                          "--count N"))
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed; the same seed gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write leads.csv and events.csv into.")
@click.option("--outcomes", is_flag=True,
              help="Also write outcomes.csv: whether each lead converts after the sample's "
              "year (1, 0, or empty for unknown), for `leadrules backtest`.")
@quiet_option
def sample(n_leads: int, seed: int, out: Path, old_n_leads: int | None, outcomes: bool,
           quiet: bool):
    """Generate realistic sample leads and events as CSV.

    German and English B2B profiles, a year of marketing and sales events with
    a heavy tail per lead, some rows out of order and some event ids repeated,
    as real exports have.

    \b
    Examples:
      leadrules sample --count 10000 --seed 7 --out data/
      leadrules sample --count 300 --outcomes --out data/
    """
    from leadrules.engine.sample.generator import write_sample

    bars: dict[str, Progress] = {}

    def show(step: str, done: int, total: int) -> None:
        if step not in bars:
            for bar in bars.values():
                bar.close()
            label, unit = {"leads": ("Making leads", "leads"),
                           "events": ("Writing events", "rows")}[step]
            bars[step] = Progress(label, total, unit, quiet=quiet)
        bars[step].show(done)

    try:
        files = write_sample(out, old_n_leads or n_leads, seed, outcomes=outcomes, progress=show)
    finally:
        for bar in bars.values():
            bar.close()
    click.echo(f"Wrote {files.leads} leads to {files.leads_path}")
    click.echo(f"Wrote {files.events} events to {files.events_path}")
    if files.outcomes_path is not None:
        click.echo(f"Wrote {files.leads} outcomes to {files.outcomes_path}")


@click.command(name="ingest")
@db_option
@click.option("--leads", "leads_file", metavar="FILE",
              help="Lead profiles: lead_id plus one column (or JSON key) per field.")
@click.option("--events", "events_file", metavar="FILE",
              help="Events: event_id, lead_id, type, ts plus one column per property.")
@click.option("--input-format", "input_format", type=click.Choice(["csv", "jsonl", "parquet"]),
              help="Read the files as this format instead of going by their names.")
@click.option("--format", "old_input_format", type=click.Choice(["csv", "jsonl", "parquet"]),
              hidden=True,
              callback=lambda ctx, param, value: renamed(value, "ingest --format",
                                                          "--input-format"))
@click.option("--rules", type=click.Path(dir_okay=False, path_type=Path),
              help="Rule file whose `fields` types (number, date, boolean) lead cells must have; "
                   "warns of event types it does not declare and of fields no lead has.")
@click.option("--rejects", "rejects_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rejected rows to this file (.jsonl for JSON Lines, else CSV), "
                   "in the files' encoding.")
@click.option("--max-rejects", type=click.IntRange(min=0), metavar="N",
              help="Stop once more than N rows are rejected (what came before stays imported).")
@reading_options
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
def ingest_command(db: Path, leads_file: str | None, events_file: str | None,
                   input_format: str | None, rules: Path | None, rejects_file: Path | None,
                   max_rejects: int | None, quiet: bool, old_input_format: str | None,
                   **reading):
    """Import leads and events from CSV, JSON Lines or Parquet into the store.

    Files ending in .csv or .jsonl (also .ndjson), optionally .gz, or - for
    stdin; Parquet files (.parquet) or folders of them, as `export --parquet`
    writes them (pip install 'leadrules[dask]'). Events whose id is stored
    already are skipped, so importing a file twice adds nothing; events
    without an event_id get one from their content.
    Bad rows are rejected with file, line, column and reason, and the good rows
    are still imported. An interrupted import (Ctrl-C, a crash) is resumed by
    running the same command again.

    Exit status: 0 when every row was taken, 1 when some were rejected, 2 when
    the input is unusable (a missing file, no header); a store this command
    would have created is then not left behind.

    \b
    Examples:
      leadrules ingest --leads leads.csv --events events.csv
      leadrules ingest --events export.jsonl.gz --rejects rejects.csv
      zcat events.csv.gz | leadrules ingest --events - --max-rejects 100
      leadrules ingest --leads export.csv --mapping crm.toml --rules b2b.rules
      leadrules ingest --events de.csv --encoding cp1252 --date-format '%d.%m.%Y' \\
          --timezone Europe/Berlin --decimal-comma --missing 'Select,NaN'
      leadrules ingest --leads export/leads --events export/events
    """
    # Imported here, not at the top (as in demo, sample, dry-run and explain), so that the
    # commands that do not need them start faster.
    from leadrules.engine.store.coverage import warnings
    from leadrules.engine.store.ingest import field_types, ingest, placeholders
    from leadrules.engine.store.mapping import read_options

    if rejects_file is not None and not rejects_file.resolve().parent.is_dir():
        raise UsageError(f"{rejects_file}: its directory does not exist (--rejects)")
    input_format = input_format or old_input_format
    options = read_options(**reading)
    ruleset = dsl.load(rules) if rules is not None else None
    types = field_types(ruleset) if ruleset is not None else None
    tokens = placeholders(ruleset) if ruleset is not None else frozenset()
    with _new_store_removed_on_failure(db) as store, store_render.IngestProgress(quiet) as progress:
        outcome = ingest(store, leads_file, events_file, format=input_format, types=types,
                         max_rejects=max_rejects, progress=progress.update, options=options,
                         placeholders=tokens)
        if rejects_file is not None:
            store_render.write_rejects(rejects_file, store.iter_rejects(outcome.import_ids),
                                       options.encoding)
        if not quiet:
            click.echo(store_render.ingest_summary(db, outcome, options))
        for line in (warnings(store, ruleset) if ruleset is not None else []):
            click.echo(line, err=True)
        for line in store_render.reject_lines(store, outcome, rejects_file):
            click.echo(line, err=True)
    sys.exit(1 if outcome.rejected else 0)


@contextlib.contextmanager
def _new_store_removed_on_failure(db: Path):
    """The store, opened; if this command creates it and fails before it imports anything,
    the empty file is removed again, so that a mistyped option leaves nothing behind."""
    existed = db.exists()
    store = Store(db)
    try:
        yield store
    except LeadrulesError:
        counts = store.counts()
        empty = not existed and not counts.leads and not counts.events
        store.close()
        if empty:
            for path in (db, db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal"),
                         db.with_name(db.name + "-import.lock")):
                path.unlink(missing_ok=True)
        raise
    finally:
        store.close()


@click.command(name="export")
@db_option
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, metavar="DIR", help="The folder to write (replaced if it is an "
                                                  "earlier export).")
@click.option("--partitions", type=click.IntRange(min=1), metavar="N",
              help="Files per table  [default: one per 250,000 events, at least 4]")
def export_command(db: Path, parquet_dir: Path, partitions: int | None):
    """Write the store's leads and events as Parquet, partitioned by lead.

    All of a lead's events are in one partition (CRC-32 of the lead_id modulo
    the number of partitions), sorted by (lead_id, ts, event_id), for
    `run --engine dask` or another engine; `ingest` reads the files back.
    docs/scale.md has the schema. Needs pip install 'leadrules[dask]'.

    \b
    Example:
      leadrules export --parquet export/ --db crm.db
      leadrules run rulesets/b2b.rules --engine dask --events export/ --out results/
    """
    parquet = load_distributed("parquet")
    with existing_store(db) as store:
        done = parquet.export_store(store, parquet_dir, partitions)
    click.echo(f"Exported {done.leads:,} leads and {done.events:,} events from {db} to "
               f"{done.path}/ in {done.partitions} partitions ({done.seconds:.1f} s)")


@click.group()
def store():
    """Look into the store: what it holds, what was rejected.

    \b
    Examples:
      leadrules store info
      LEADRULES_DB=prod.db leadrules store info --format json
    """


@store.command()
@db_option
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
def info(db: Path, output: str):
    """Counts of leads, events by type, time span, runs, imports and rejects.

    \b
    Example:
      leadrules store info --db leadrules.db
    """
    with existing_store(db) as s:
        facts = s.info()
    if output == "json":
        click.echo(json.dumps(store_render.info_json(db, facts), indent=2, ensure_ascii=False))
    else:
        click.echo(store_render.info_text(db, facts))

COMMANDS = [sample, ingest_command, export_command, store]
