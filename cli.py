"""The `leadrules` command: thin click commands over `dsl` and `engine`."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import sys
import time
from pathlib import Path

import click

from leadrules import dsl
from leadrules.dsl.errors import LeadrulesError, UsageError
from leadrules.engine import bundled
from leadrules.engine import tables as report
from leadrules.engine.distributed import load as load_distributed
from leadrules.engine.events import format_timestamp, parse_timestamp
from leadrules.engine.progress import Progress
from leadrules.engine.scoring import render
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate, event_rows
from leadrules.engine.scoring.run import RunReport, run_rules
from leadrules.engine.store import render as store_render
from leadrules.engine.store.store import Store

NOTHING_WRITTEN = "nothing was written"
INTERRUPTED = {  # what a Ctrl-C leaves, by command, and how to carry on
    "ingest": "the batches committed so far are kept; run the same command again to carry on "
              "after the last of them",
    "run": "nothing of this run was saved; run the same command again",
    "demo": "what was imported or scored so far is kept; run `leadrules demo` again to finish",
    "fmt": "the files reformatted so far are kept (each is written whole); run it again for "
           "the rest",
    "sample": "the files may be incomplete; run the same command again to write them whole",
    "init": "the files written so far are kept; remove the folder and run it again",
    "export": "nothing was written (an export is moved into place only when it is whole)",
    "report": "nothing was written (an HTML report is written whole or not at all)",
    "backtest": "nothing was written (an HTML report is written whole or not at all)",
}
DEMO_DB = "leadrules-demo.db"
DEFAULT_DB = "leadrules.db"

as_of_option = click.option(
    "--as-of", "as_of_text", metavar="TIME",
    help="Evaluate as of this moment (2026-04-01 or 2026-04-01T09:30:00Z); default: now.")


class OutputFormat(click.Choice):
    """An output format, from one set of names for every command (text, csv, json, markdown);
    `table`, the name `leads` and `dry-run` once gave text, still means text."""

    ALIASES = {"table": "text"}

    def convert(self, value, param, ctx):
        return super().convert(self.ALIASES.get(value, value), param, ctx)


format_option = click.option(
    "--format", "output", type=OutputFormat(["text", "csv", "json", "markdown"]), default="text",
    show_default=True, help="text for people; csv or json for a CRM or a spreadsheet; markdown "
                            "for a pull request or a wiki.")

workers_option = click.option(
    "--workers", type=click.IntRange(min=1), metavar="N",
    help="Processes for a store of 5,000 leads or more  [default: one per core, at most 4]")

db_option = click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
    envvar="LEADRULES_DB", show_default=True, show_envvar=True,
    help="The SQLite store (`leadrules ingest` creates it).")


def outcome_options(command):
    """--outcomes, --outcome-column and --outcome, for `backtest` and `diff`."""
    for option in (
            click.option("--outcome", "outcome_text", metavar="'reached STAGE within N days'",
                         help="Instead of --outcomes: what the store's history did after "
                         "--as-of."),
            click.option("--outcome-column", metavar="NAME",
                         help="The column of --outcomes with the outcome  [default: converted]"),
            click.option("--outcomes", "outcomes_file", metavar="FILE",
                         help="Known outcomes: CSV or JSON Lines of lead_id and an outcome.")):
        command = option(command)
    return command


def reading_options(command):
    """How to read a CRM export (docs/ingest.md): the options of `ingest`, and of `backtest`
    for its outcomes file; the command takes them as `**reading`, for `read_options`."""
    for option in reversed(_READING):
        command = option(command)
    return command


_READING = [
    click.option("--map", "columns", metavar="'COLUMN=NAME,...'",
                 help="Read these columns as these names: 'Prospect ID=lead_id,Lead "
                      "Origin=origin'."),
    click.option("--mapping", "mapping_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="A TOML file of [columns], [set] and the options below (docs/ingest.md)."),
    click.option("--set", "sets", metavar="NAME=VALUE", multiple=True,
                 help="Give every row this value: --set type=mql_first_contact."),
    click.option("--delimiter", metavar="D",
                 help="CSV delimiter: , ; tab | (default: told from the header line)."),
    click.option("--encoding", metavar="NAME",
                 help="The files' encoding: utf-8 (default), cp1252..."),
    click.option("--date-format", "date_formats", metavar="PATTERN", multiple=True,
                 help="strftime pattern of `ts` (and of date fields with --rules), like "
                      "'%d.%m.%Y %H:%M'; several are tried in order, then ISO 8601; `unix` for "
                      "seconds since 1970."),
    click.option("--timezone", "timezone_name", metavar="ZONE",
                 help="IANA zone of times without an offset, like Europe/Berlin (default UTC)."),
    click.option("--decimal-comma", is_flag=True, help="Numbers are written 1.200,50."),
    click.option("--missing", metavar="'A,B'",
                 help="Cell texts that mean no value: 'Select,NaN'."),
]


class Group(click.Group):
    """The one place where leadrules' own errors become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LeadrulesError as error:
            click.echo(_message(error) if not isinstance(error, dsl.RulesError) else str(error),
                       err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: {INTERRUPTED.get(ctx.invoked_subcommand, NOTHING_WRITTEN)}",
                       err=True)
            ctx.exit(130)
        except BrokenPipeError:  # `leadrules leads | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as error:  # a file we were asked to write could not be written
            click.echo(f"error: {error.filename or ''}: {error.strerror}", err=True)
            ctx.exit(1)


def _message(error: LeadrulesError) -> str:
    """`error: ...`, and for a missing file that ships with leadrules, where its copy is."""
    return f"error: {error}{bundled.missing_hint(getattr(error, 'missing', None))}"


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadrules")
def main():
    """Lead scoring and funnel rules as text: check them, try them, run them.

    The examples name rulesets/ as `leadrules init` lays a repository out;
    `leadrules docs` shows where pip put the bundled copies and the docs.

    \b
    Examples:
      leadrules demo                      score the bundled sample with the b2b rules
      leadrules init marketing-rules      start a repository: rules, tests, hooks, CI
      leadrules check rulesets/b2b.rules  find mistakes in a rule file
      leadrules fmt --check rulesets/     lay rule files out the one canonical way
      leadrules sample --count 1000 --out data/
      leadrules ingest --leads data/leads.csv --events data/events.csv
      leadrules run rulesets/b2b.rules    score every lead of the store
      leadrules test rulesets/            run the rule tests
      leadrules diff --base main rulesets/b2b.rules   what a rule change does to the leads
      leadrules backtest rulesets/b2b.rules --outcomes crm.csv   do the rules rank buyers first?
      leadrules store info
    """


@main.command()
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=DEMO_DB,
              show_default=True, help="SQLite file to create or reuse.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many of the best leads to list.")
def demo(db: Path, top: int):
    """Score the bundled sample leads with the bundled b2b ruleset.

    Creates (or reuses) a local SQLite file, ingests the sample that ships
    with leadrules (ingesting twice adds nothing), scores every lead as of the
    last event in the sample, and prints the funnel, the top leads, where its
    HTML report is (beside the database) and the status of each goal.

    \b
    Example:
      leadrules demo --db /tmp/demo.db --top 5
    """
    from leadrules.engine.store.ingest import ingest

    existed = db.exists()
    with Store(db) as store:
        click.echo(f"Database: {db.resolve()} ({'reused' if existed else 'created'})")
        leads_csv, events_csv = bundled.sample_paths()
        leads, events = ingest(store, leads_csv, events_csv).files
        if events.status == "unchanged":
            click.echo("Sample:   in the store already (unchanged since it was imported)")
        else:
            click.echo(f"Sample:   {leads.rows} leads and {events.rows} event rows read; "
                       f"{events.added} events added, {events.duplicates} duplicates skipped, "
                       f"{events.new_leads} leads created from events")
        rules = compile_ruleset(dsl.load(bundled.ruleset_path()))
        click.echo(f"Rules:    \"{rules.name}\" from {rules.path}")
        counts = store.counts()
        as_of = counts.last_ts or 0
        run = _run_with_progress(store, rules, as_of)
        click.echo(f"Scored:   {run.leads} leads as of {format_timestamp(as_of)} (the last event "
                   f"in the sample); run {run.run_id}, {render.run_mode(run)}")
        click.echo("\nFunnel\n" + render.funnel(rules.stages, dict(store.funnel(rules.hash))))
        if top:
            rows = [(r["lead_id"], r["score"], r["fit"], r["grade"], r["band"], r["priority"],
                     r["stage"], r["owner"] or "") for r in store.results(rules.hash, limit=top)]
            click.echo(f"\nTop {len(rows)} leads\n" + report.table(
                ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "owner"), rows))
        from leadrules.engine.report.command import demo_summary

        click.echo("\n" + demo_summary(store, dsl.load(bundled.ruleset_path()),
                                        db.with_name(f"{db.stem}-report.html")))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object with every diagnostic, for editors and CI.")
def check(files: tuple[Path, ...], strict: bool, output: str):
    """Check rule files for mistakes; exit 1 if any file has errors.

    FILES may be rule files, directories (every .rules file below them), or
    - for standard input (its diagnostics name <stdin>), for editors.
    Every error names the file, line and column, shows the line, and says
    what to write instead. Warnings (a line that can never be chosen, a stage
    no move leads into) are shown but fail only with --strict.

    \b
    Examples:
      leadrules check rulesets/b2b.rules
      leadrules check --strict --format json rulesets/*.rules
      leadrules check - < campaign.rules
    """
    analyses, unreadable = [], []
    for path in _rule_files(files):
        try:
            analyses.append(_analyze_file(path))
        except UsageError as error:  # one missing file does not hide what the others hold
            unreadable.append(error)
    failed = any(a.diagnostics if strict else a.errors for a in analyses)
    if output == "json":
        click.echo(json.dumps({"ok": not failed and not unreadable, "files": [
            {"path": a.ruleset.path, "errors": len(a.errors), "warnings": len(a.warnings),
             "diagnostics": [d.to_dict() for d in a.diagnostics]} for a in analyses],
            "unreadable": [str(e) for e in unreadable]}, indent=2, ensure_ascii=False))
    else:
        for a in analyses:
            for diagnostic in a.diagnostics:
                click.echo(diagnostic.render(a.ruleset.source) + "\n")
            click.echo(f"{a.ruleset.path}: {_count(a.errors, 'error')}, "
                       f"{_count(a.warnings, 'warning')}" if a.diagnostics else
                       f"{a.ruleset.path}: ok")
    for error in unreadable:
        click.echo(_message(error), err=True)
    sys.exit(2 if unreadable else 1 if failed else 0)


STDIN_NAME = "<stdin>"


def _stdin_text() -> str:
    """Standard input as rule text: UTF-8, a byte order mark dropped."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise UsageError(f"{STDIN_NAME}: byte 0x{data[bad.start]:02x} at offset {bad.start} "
                         "is not UTF-8; send the rules as UTF-8") from None


def _rule_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files named, with each directory replaced by the .rules files below it."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.rules")) if path.is_dir() else [path])
    return found


def _analyze_file(path: Path) -> dsl.Analysis:
    """The analysis of a rule file (or of stdin, for -); a file that is not UTF-8 is one
    bad-encoding diagnostic."""
    if str(path) == "-":
        return dsl.analyze(_stdin_text(), STDIN_NAME)
    try:
        return dsl.analyze(dsl.read_source(path), str(path), cached=True)
    except dsl.RulesError as error:
        source = next(iter(error.sources.values()), "")
        return dsl.Analysis(dsl.Ruleset((), str(path), source), error.diagnostics)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--check", "check_only", is_flag=True,
              help="Write nothing; exit 1 and list the files that would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print the changes as a unified diff.")
def fmt(files: tuple[Path, ...], check_only: bool, diff: bool):
    """Rewrite rule files in the one canonical layout.

    Keywords in lower case, single spaces, lists as ["a", "b"], the points of
    consecutive `when` lines aligned; comments and blank-line groups are kept.
    A file with syntax errors is reported and left as it is. With - it reads
    standard input and writes the formatted text to standard output (for
    editors); --check and --diff work there too.

    \b
    Examples:
      leadrules fmt rulesets/b2b.rules
      leadrules fmt --check rulesets/*.rules     # in CI or a pre-commit hook
      leadrules fmt --diff campaign.rules
      leadrules fmt - < campaign.rules > formatted.rules
    """
    from leadrules.dsl.format import (
        format_source,  # here: it imports the parser, which `run` need not
    )

    if [str(f) for f in files] == ["-"]:
        _format_stdin(format_source, check_only, diff)
    changed, broken, unreadable = [], False, []
    files = _rule_files(files)
    for path in files:
        try:
            source = dsl.read_source(path)
            formatted = format_source(source, str(path))
        except dsl.RulesError as error:
            click.echo(error.render() + "\n", err=True)
            broken = True
            continue
        except UsageError as error:  # reported at the end; the other files are formatted
            unreadable.append(error)
            continue
        if formatted == source:
            continue
        changed.append(path)
        if diff:
            click.echo("".join(difflib.unified_diff(
                source.splitlines(keepends=True), formatted.splitlines(keepends=True),
                f"{path}", f"{path} (formatted)")), nl=False)
        elif check_only:
            click.echo(f"would reformat {path}")
        else:
            _replace(path, formatted)
            click.echo(f"reformatted {path}")
    unchanged = len(files) - len(changed) - len(unreadable)
    verb = "would be reformatted" if check_only or diff else "reformatted"
    click.echo(f"{_count(changed, 'file')} {verb}, {unchanged} unchanged", err=True)
    for error in unreadable:
        click.echo(_message(error), err=True)
    sys.exit(2 if unreadable else 1 if broken or (check_only and changed) else 0)


def _format_stdin(format_source, check_only: bool, diff: bool) -> None:
    """`fmt -`: the formatted text of stdin on stdout (or, with --check or --diff, only what
    would change); exit 1 when it does not parse or, with --check, when it would change."""
    source = _stdin_text()
    try:
        formatted = format_source(source, STDIN_NAME)
    except dsl.RulesError as error:
        click.echo(error.render(), err=True)
        sys.exit(1)
    if diff:
        click.echo("".join(difflib.unified_diff(
            source.splitlines(keepends=True), formatted.splitlines(keepends=True),
            STDIN_NAME, f"{STDIN_NAME} (formatted)")), nl=False)
    elif not check_only:
        click.echo(formatted, nl=False)
    sys.exit(1 if check_only and formatted != source else 0)


def _replace(path: Path, text: str) -> None:
    """Write the file through a temporary file beside it, so a crash never leaves half a file."""
    temporary = path.with_name(f".{path.name}.leadrules-fmt")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@main.command()
@click.option("--count", "n_leads", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of leads to generate.")
@click.option("--leads", "old_n_leads", type=click.IntRange(min=1), hidden=True,
              callback=lambda ctx, param, value: _renamed(value, "sample --leads N",
                                                          "--count N"))
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed; the same seed gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write leads.csv and events.csv into.")
@click.option("--outcomes", is_flag=True,
              help="Also write outcomes.csv: whether each lead converts after the sample's "
              "year (1, 0, or empty for unknown), for `leadrules backtest`.")
def sample(n_leads: int, seed: int, out: Path, old_n_leads: int | None, outcomes: bool):
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

    files = write_sample(out, old_n_leads or n_leads, seed, outcomes=outcomes)
    click.echo(f"Wrote {files.leads} leads to {files.leads_path}")
    click.echo(f"Wrote {files.events} events to {files.events_path}")
    if files.outcomes_path is not None:
        click.echo(f"Wrote {files.leads} outcomes to {files.outcomes_path}")


@main.command(name="ingest")
@db_option
@click.option("--leads", "leads_file", metavar="FILE",
              help="Lead profiles: lead_id plus one column (or JSON key) per field.")
@click.option("--events", "events_file", metavar="FILE",
              help="Events: event_id, lead_id, type, ts plus one column per property.")
@click.option("--input-format", "input_format", type=click.Choice(["csv", "jsonl", "parquet"]),
              help="Read the files as this format instead of going by their names.")
@click.option("--format", "old_input_format", type=click.Choice(["csv", "jsonl", "parquet"]),
              hidden=True,
              callback=lambda ctx, param, value: _renamed(value, "ingest --format",
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
            for path in (db, db.with_name(db.name + "-journal"), db.with_name(db.name + "-wal")):
                path.unlink(missing_ok=True)
        raise
    finally:
        store.close()


@main.command(name="export")
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
    with _existing_store(db) as store:
        done = parquet.export_store(store, parquet_dir, partitions)
    click.echo(f"Exported {done.leads:,} leads and {done.events:,} events from {db} to "
               f"{done.path}/ in {done.partitions} partitions ({done.seconds:.1f} s)")


# Evaluation ------------------------------------------------------------------------------------

@main.command(name="run")
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@as_of_option
@click.option("--full", is_flag=True,
              help="Replay every lead, even when an earlier run of these rules could be reused.")
@workers_option
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True,
              help="local: the store's leads here; dask: a Parquet export (--events) on Dask.")
@click.option("--events", "events_dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="--engine dask: the folder `export --parquet` wrote.")
@click.option("--scheduler", metavar="ADDRESS",
              help="--engine dask: a Dask scheduler (tcp://host:8786); default: a local "
                   "cluster of --workers processes.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="--engine dask: write the results as Parquet here instead of into --db.")
def run_command(rules_file: Path, db: Path, as_of_text: str | None, full: bool,
                workers: int | None, engine: str, events_dir: Path | None,
                scheduler: str | None, out: Path | None):
    """Score every lead of the store and save the results.

    The first run of a ruleset replays every lead. Later runs of the same
    ruleset (same file content) replay only the leads with new events or a new
    profile since, and the leads whose results change with time alone (a quiet
    spell ending, a window closing, an SLA deadline); the results equal a full
    run's. Prints leads per stage and what changed since the previous run.

    With --engine dask, every lead of a Parquet export (`leadrules export
    --parquet`) is replayed on a Dask cluster, partition by partition, and the
    results go into the store as one full run, or into --out as Parquet.

    \b
    Examples:
      leadrules run rulesets/b2b.rules
      leadrules run rulesets/b2b.rules --db crm.db --as-of 2026-04-01
      leadrules run rulesets/b2b.rules --engine dask --events export/ --out results/
    """
    if engine == "dask" or events_dir or scheduler or out:
        return _run_dask(rules_file, db, as_of_text, workers, engine, events_dir, scheduler,
                         out)
    rules = _compile(rules_file)
    as_of, source = _as_of(as_of_text)
    with _existing_store(db) as store:
        run = _run_with_progress(store, rules, as_of, full=full, workers=workers)
        click.echo(f"Rules:    \"{rules.name}\" from {rules.path} (content {rules.hash[:12]})")
        click.echo(f"As of:    {format_timestamp(as_of)} ({source})")
        click.echo(f"Run {run.run_id}:    {render.run_mode(run)}; {run.events:,} events in "
                   f"{run.seconds:.2f} s")
        click.echo(f"Changes:  {render.changes(run)}")
        click.echo("\nFunnel\n" + render.funnel(rules.stages, dict(store.funnel(rules.hash))))


def _run_dask(rules_file: Path, db: Path, as_of_text: str | None, workers: int | None,
              engine: str, events_dir: Path | None, scheduler: str | None, out: Path | None):
    """`run --engine dask`: the summary of a local run, or where the Parquet went."""
    if engine != "dask":
        raise UsageError("--events, --scheduler and --out go with --engine dask")
    if events_dir is None:
        raise UsageError("--engine dask needs --events DIR, a folder `export --parquet` wrote")
    dask_run = load_distributed("dask_run")
    ruleset = dsl.load(rules_file)
    rules = compile_ruleset(ruleset)
    as_of, source = _as_of(as_of_text)
    with contextlib.ExitStack() as stack:
        store = None if out is not None else stack.enter_context(_existing_store(db))
        bar = stack.enter_context(Progress("Scoring", unit="leads"))
        done = dask_run.run_on_dask(ruleset, rules, events_dir, as_of, scheduler=scheduler,
                                    workers=workers, out=out, store=store,
                                    on_plan=lambda leads: setattr(bar, "total", leads),
                                    progress=bar.update)
        bar.close()
        click.echo(f"Rules:    \"{rules.name}\" from {rules.path} (content {rules.hash[:12]})")
        click.echo(f"As of:    {format_timestamp(as_of)} ({source})")
        begin = "connect" if scheduler else "start the cluster"
        click.echo(f"Dask:     {done.partitions} partitions of {events_dir} on {done.workers} "
                   f"workers at {done.scheduler}; {done.events:,} events in {done.seconds:.2f} s "
                   f"(+{done.startup:.1f} s to {begin})")
        if done.run is not None:
            click.echo(f"Run {done.run.run_id}:    {render.run_mode(done.run)} (no checkpoints)")
            click.echo(f"Changes:  {render.changes(done.run)}")
        else:
            click.echo(f"Wrote:    {done.leads:,} leads' results, stage moves, actions and SLA "
                       f"outcomes to {out}/")
        click.echo("\nFunnel\n" + render.funnel(rules.stages, done.stages))


def _run_with_progress(store: Store, rules, as_of: int, full: bool = False,
                       workers: int | None = None) -> RunReport:
    bar = None

    def plan(mode: str, leads: int) -> None:
        nonlocal bar
        bar = Progress("Replaying" if mode == "incremental" else "Scoring", leads, "leads")

    try:
        return run_rules(store, rules, as_of, full=full, workers=workers, on_plan=plan,
                         progress=lambda n: bar.update(n))
    finally:
        if bar is not None:
            bar.close()


rules_option = click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), metavar="RULES",
    help="Export the latest run of these rules  [default: the latest run of any]")


@main.command()
@db_option
@rules_option
@click.option("--stage", help="Only leads in this stage.",
              shell_complete=lambda ctx, param, incomplete: _complete(ctx, "stage", incomplete))
@click.option("--priority", help="Only leads with this priority (A1 ... D4).")
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the N best leads.")
@click.option("--fields", metavar="F,G", help="Also these profile fields, e.g. title,country,email.")
@format_option
def leads(db: Path, rules_file: Path | None, stage: str | None, priority: str | None,
          top: int | None, fields: str | None, output: str):
    """The results of the latest run: every lead, best score first.

    Columns: lead_id, score, fit, grade, band, priority, stage, disqualified
    (the reason, empty if none), owner, label, stage_entered_at (when the lead
    entered its stage), then the --fields. An unknown --stage or --priority
    is an error.

    \b
    Examples:
      leadrules leads --top 20
      leadrules leads --rules rulesets/b2b.rules --stage SalesLead --format csv > to-sales.csv
      leadrules leads --priority A1 --fields title,country,email --format json
    """
    from leadrules.engine.report import exports

    rules = _compile(rules_file) if rules_file is not None else None
    names = tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else ()
    with _existing_store(db) as store:
        found = exports.lead_export(store, rules, stage=stage, priority=priority, top=top,
                                    fields=names)
    run = found.run
    if output == "text":
        click.echo(f"\"{run['ruleset_name']}\" as of {format_timestamp(run['as_of'])} "
                   f"(run {run['run_id']}); {len(found.rows):,} leads")
    click.echo(exports.render(found, output), nl=False)


@main.command()
@db_option
@rules_option
@click.option("--stage", help="Only leads now in this stage.")
@click.option("--kind", type=click.Choice(["assign", "enroll", "alert", "sla"]),
              help="Only actions of this kind; sla: the SLAs open or overdue.")
@click.option("--since", metavar="RUN|DATE",
              help="Only what happened after run RUN's as-of, or since DATE.")
@click.option("--format", "output", type=OutputFormat(["text", "csv", "json", "markdown"]),
              default="csv", show_default=True)
def actions(db: Path, rules_file: Path | None, stage: str | None, kind: str | None,
            since: str | None, output: str):
    """Export the actions the rules took (assign, enroll, alert) and the SLAs
    still open or overdue, for a CRM or an email tool.

    Columns: lead_id, at, kind, value (owner, campaign, alert; for an SLA its
    outcome: pending or overdue), stage (entered, for `on entering` and SLAs),
    due (SLAs), lead_stage and owner (now), rule, cause.

    \b
    Examples:
      leadrules actions --kind enroll --since 2026-10-01 > nurture.csv
      leadrules actions --rules rulesets/b2b.rules --kind sla --format json
      leadrules actions --since 3 --stage SalesLead
    """
    from leadrules.engine.report import exports

    rules = _compile(rules_file) if rules_file is not None else None
    with _existing_store(db) as store:
        found = exports.action_export(store, rules, stage=stage, kind=kind, since=since)
    click.echo(exports.render(found, output), nl=False)


@main.command(name="report")
@click.argument("view", type=click.Choice(["funnel", "flow", "conversion", "velocity", "sla",
                                           "goals", "all"]))
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--run", "run_id", type=int, metavar="N",
              help="The run to report on  [default: the latest run of RULES]")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="The period's first day  [default: the first entry]")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), metavar="DATE",
              help="The period's last day  [default: the run's as-of]")
@click.option("--period", type=click.Choice(["week", "month", "quarter"]),
              help="A series: the flow and the cohorts per week, month or quarter.")
@click.option("--by", metavar="FIELD",
              help="Break every figure down by a profile field, owner, label, grade, band "
              "or priority.")
@click.option("--within", metavar="DAYS", help="Conversion: also the share within DAYS of "
              "entering, e.g. 30d.")
@click.option("--cohort", "cohort_stage", metavar="STAGE",
              help="Conversion: the stage the cohorts entered  [default: the first]")
@click.option("--target", "target_stage", metavar="STAGE",
              help="Conversion: the stage they should reach  [default: the last]")
@click.option("--format", "output", type=click.Choice(["text", "csv", "json", "markdown"]),
              default="text", show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report with charts to this file.")
@click.option("--fail-on", type=click.Choice(["behind", "missed"]),
              help="Goals: exit 1 when a goal is behind or missed (behind), or missed.")
def report_command(view: str, rules_file: Path, db: Path, run_id: int | None, start, end,
                   period: str | None, by: str | None, within: str | None,
                   cohort_stage: str | None, target_stage: str | None, output: str,
                   html_file: Path | None, fail_on: str | None):
    """Measure the funnel that `run` scored: flows, stages reached, cohort
    conversion, velocity, SLAs and goals, from the stored stage history.

    Figures are of one run (the latest of RULES) over a period (the whole
    history up to the run's as-of by default). docs/reports.md defines each.
    Exit status 1 with --fail-on when a goal is behind or missed.

    \b
    Examples:
      leadrules report funnel rulesets/b2b.rules
      leadrules report flow rulesets/b2b.rules --from 2026-01-01 --period month
      leadrules report conversion rulesets/b2b.rules --by country --within 30d
      leadrules report all rulesets/b2b.rules --format markdown --html report.html
      leadrules report goals rulesets/b2b.rules --fail-on behind
    """
    from leadrules.engine.report.command import report

    with _existing_store(db) as store:
        outcome = report(store, dsl.load(rules_file), view, run_id=run_id,
                         start=start and start.date(), end=end and end.date(), period=period,
                         by=by, within=within, cohort=cohort_stage, target=target_stage,
                         output=output, html=html_file, fail_on=fail_on)
    click.echo(outcome.text, nl=False)
    if html_file is not None:
        click.echo(f"HTML report: {html_file}", err=True)
    for line in outcome.failing:
        click.echo(line, err=True)
    sys.exit(1 if outcome.failing else 0)


@main.command(name="dry-run")
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--leads", "leads_file", metavar="FILE", required=True,
              help="Sample lead profiles (CSV or JSON Lines, as for ingest).")
@click.option("--events", "events_file", metavar="FILE", required=True,
              help="Sample events (CSV or JSON Lines, as for ingest).")
@click.option("--lead", "lead_id", metavar="ID", help="Only this lead.")
@as_of_option
@format_option
def dry_run(rules_file: Path, leads_file: str, events_file: str, lead_id: str | None,
            as_of_text: str | None, output: str):
    """Score sample files with a ruleset; nothing is written anywhere.

    The way to try a rule change on a few hand-written leads before it goes
    live. Leads that only appear in the events file are scored too.

    \b
    Examples:
      leadrules dry-run rulesets/b2b.rules --leads leads.csv --events events.csv
      leadrules dry-run new.rules --leads l.csv --events e.csv --lead L0007 --as-of 2026-04-01
    """
    rules = _compile(rules_file)
    as_of, source = _as_of(as_of_text)
    results = [evaluate(rules, lead, profile, events, as_of)
               for lead, profile, events in _sample_leads(leads_file, events_file, lead_id)]
    if output == "text":
        click.echo(f"\"{rules.name}\" as of {format_timestamp(as_of)} ({source}); "
                   f"{len(results):,} leads; nothing was written")
    else:
        click.echo(f"as of {format_timestamp(as_of)} ({source})", err=True)
    click.echo(render.leads_text(map(render.lead_dict, results), output))


def _sample_leads(leads_file: str, events_file: str, only: str | None):
    from leadrules.engine.store.ingest import sample_leads

    return sample_leads(leads_file, events_file, only)


@main.command()
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--leads", "leads_file", metavar="FILE",
              help="Score sample files instead of the store (with --events).")
@click.option("--events", "events_file", metavar="FILE", help="Sample events (with --leads).")
@outcome_options
@as_of_option
@click.option("--handover", metavar="STAGE",
              help="The stage where leads go to sales: its precision and recall.")
@click.option("--format", "output", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report with a ROC curve and a lift chart to this file.")
@click.option("--suggest", is_flag=True, help="Also fit the rules' points to the outcomes and "
              "print the change as a diff, for review (needs leadrules[suggest]).")
@workers_option
@reading_options
def backtest(rules_file: Path, db: Path, leads_file: str | None, events_file: str | None,
             outcomes_file: str | None, outcome_column: str | None, outcome_text: str | None,
             as_of_text: str | None, handover: str | None, output: str, html_file: Path | None,
             suggest: bool, workers: int | None, **reading):
    """Measure how well the rules rank leads whose outcome is known.

    Scores every lead (nothing is written) and compares with outcomes:
    from a file (1/0, true/false, yes/no, or the date of the conversion;
    an empty cell is unknown), or from the store's own later history with
    --outcome 'reached STAGE within N days' and a past --as-of. Reports the
    base rate, ROC AUC of score, fit and priority, lift and capture by
    decile, conversion per band, grade, priority cell, label and stage, the
    hand-over stage's precision and recall, and warnings where a worse band
    or grade converts better. docs/backtest.md explains each figure.

    The outcomes file is read as `ingest` reads a CRM export, with the same
    options (--map, --mapping, --delimiter, --encoding, --missing, --date-format,
    --timezone; docs/ingest.md).

    Exit status: 0; 1 when outcome rows are bad (each is named, nothing is
    measured); 2 for bad usage.

    \b
    Examples:
      leadrules backtest rulesets/b2b.rules --outcomes crm-export.csv --outcome-column Converted
      leadrules backtest rulesets/b2b.rules --as-of 2026-06-01 \\
          --outcome 'reached Customer within 90 days' --handover SalesLead --html bt.html
    """
    from leadrules.engine.backtest import measure
    from leadrules.engine.backtest import render as bt_render

    rules = _compile(rules_file)
    as_of, source = _as_of(as_of_text)
    from leadrules.engine.store.mapping import read_options

    outcome = measure.outcome_of(rules, outcomes_file, outcome_column, outcome_text,
                                 as_of if as_of_text is not None else None,
                                 options=read_options(**reading))
    options = dict(as_of_source=source, handover=handover, suggest=suggest)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        found = measure.measure_sample(rules, _sample_leads(leads_file, events_file, None),
                                       outcome, as_of, source=f"{leads_file} and {events_file}",
                                       **options)
    else:
        with _existing_store(db) as store, \
                Progress("Scoring", store.lead_count(), "leads") as bar:
            found = measure.measure_store(rules, store, outcome, as_of, source=f"the store {db}",
                                          workers=workers, progress=bar.update, **options)
    if html_file is not None:
        from leadrules.engine.backtest.html import write_html

        write_html(html_file, found)
    click.echo({"json": bt_render.to_json, "markdown": bt_render.markdown}.get(
        output, bt_render.text)(found), nl=False)


@main.command()
@click.argument("lead_id",
                shell_complete=lambda ctx, param, incomplete: _complete(ctx, "lead", incomplete))
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--leads", "leads_file", metavar="FILE", help="Read the lead from sample files "
              "instead of the store (with --events).")
@click.option("--events", "events_file", metavar="FILE", help="Sample events (with --leads).")
@as_of_option
@click.option("--why-not", is_flag=True,
              help="Also say, for each when rule that never fired, its closest miss.")
def explain(lead_id: str, rules_file: Path, db: Path, leads_file: str | None,
            events_file: str | None, as_of_text: str | None, why_not: bool):
    """Explain one lead: each event, the rules that fired, the score after
    each change, capped rules, stage moves, actions, and how each result came
    about.

    From the store, the default as-of time is that of the latest run of these
    rules, so the explanation matches `leadrules leads`.

    \b
    Examples:
      leadrules explain L00042 rulesets/b2b.rules
      leadrules explain L0007 new.rules --leads leads.csv --events events.csv
      leadrules explain L00042 rulesets/b2b.rules --why-not
    """
    rules = _compile(rules_file)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        ((_, profile, events),) = _sample_leads(leads_file, events_file, lead_id)
        as_of, source = _as_of(as_of_text)
    else:
        with _existing_store(db) as store:
            if not store.has_lead(lead_id):
                raise UsageError(f"{db}: no lead {lead_id!r} in the store")
            profile, events = store.lead_events(lead_id)
            run = store.last_run(rules.hash)
        if as_of_text is None and run is not None:
            as_of, source = run["as_of"], f"the as-of time of run {run['run_id']}"
        else:
            as_of, source = _as_of(as_of_text)
    result = evaluate(rules, lead_id, profile, events, as_of, trace=True)
    from leadrules.engine.scoring.explain import explain as explain_text

    click.echo(explain_text(rules, result, profile, as_of, source, why_not), nl=False)


@main.command(name="diff")
@click.argument("old_spec", metavar="OLD")
@click.argument("new_spec", metavar="[NEW]", required=False)
@click.option("--base", "base_rev", metavar="REV",
              help="Compare the one FILE given as it is at git revision REV with FILE on disk.")
@db_option
@click.option("--leads", "leads_file", metavar="FILE",
              help="Compare on sample files instead of the store (with --events).")
@click.option("--events", "events_file", metavar="FILE", help="Sample events (with --leads).")
@as_of_option
@click.option("--format", "output", type=click.Choice(["text", "markdown", "json"]),
              default="text", show_default=True,
              help="markdown: ready to paste as a pull-request comment.")
@click.option("--fail-on", "fail_on", metavar="EXPR", multiple=True,
              help="Exit 1 when METRIC OP VALUE holds, e.g. 'stage_changes > 5%' or "
              "'sales_exits > 0' (repeatable).")
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              metavar="N", help="Example leads shown per kind of change.")
@click.option("--sales-from", default="SalesLead", show_default=True, metavar="STAGE",
              help="The first sales stage: a lead there or in a later stage is in sales.")
@outcome_options
@workers_option
def diff_command(old_spec: str, new_spec: str | None, base_rev: str | None, db: Path,
                 leads_file: str | None, events_file: str | None, as_of_text: str | None,
                 output: str, fail_on: tuple[str, ...], examples: int, sales_from: str,
                 outcomes_file: str | None, outcome_column: str | None,
                 outcome_text: str | None, workers: int | None):
    """Show what a rule change does to every lead: OLD and NEW evaluated on the
    same leads and events, nothing written.

    OLD and NEW are rule files or git revisions of one: REV:PATH, with PATH
    from the repository's root (or REV:./PATH from here). With --base REV and
    one FILE, FILE as it is at REV is compared with FILE on disk. Reports the
    rules added, removed or changed (matched by meaning, not by line), how many
    leads change score, grade, band, priority, stage, disqualification, label
    or owner, a stage-to-stage table, the leads that enter or leave sales, and
    example leads with the reason they changed.

    With --outcomes FILE (or --outcome 'reached STAGE within N days' and a
    past --as-of, judged by OLD's stage moves) also the back-test of both
    sides: AUC, lift, conversion per band and grade, as `leadrules backtest`.

    Exit status: 0; 1 when a --fail-on expression holds (METRIC is one of
    score_changes, fit_changes, grade_changes, band_changes, priority_changes,
    stage_changes, disqualified_changes, label_changes, owner_changes,
    sales_entries, sales_exits, changed_leads; OP one of > >= < <= =; VALUE a
    count or a percentage of the leads compared; with outcomes also auc, NEW's
    ROC AUC, and auc_drop, OLD's minus NEW's: 'auc < 0.70', 'auc_drop > 0.01');
    2 for bad usage or a rule file with errors.

    \b
    Examples:
      leadrules diff HEAD~1:rulesets/b2b.rules rulesets/b2b.rules
      leadrules diff --base origin/main rulesets/b2b.rules --format markdown
      leadrules diff old.rules new.rules --leads leads.csv --events events.csv \\
          --as-of 2026-04-01 --fail-on 'stage_changes > 5%'
      leadrules diff old.rules new.rules --outcomes crm.csv --fail-on 'auc_drop > 0.01'
    """
    from leadrules.engine.backtest.measure import outcome_of
    from leadrules.engine.review import (
        diff_render,  # here, not at the top: the other commands start faster
    )
    from leadrules.engine.review.diff import Gate, check_gates, compare, compare_store
    from leadrules.engine.review.revisions import diff_pair

    gates = [Gate.parse(text) for text in fail_on]
    check_gates(gates, outcomes_file is not None or outcome_text is not None)
    pair = diff_pair(old_spec, new_spec, base_rev)
    as_of, source = _as_of(as_of_text)
    outcome = outcome_of(pair.old_rules, outcomes_file, outcome_column, outcome_text,
                         as_of if as_of_text is not None else None, required=False)
    options = dict(as_of_source=source, examples=examples, sales_from=sales_from,
                   outcome=outcome)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        leads = [(lead, profile, event_rows(events))
                 for lead, profile, events in _sample_leads(leads_file, events_file, None)]
        found = compare(pair, leads, as_of, source=f"{leads_file} and {events_file}", **options)
    else:
        with _existing_store(db) as store, \
                Progress("Comparing", store.lead_count(), "leads") as bar:
            found = compare_store(pair, store, as_of, source=f"the store {db}",
                                  workers=workers, progress=bar.update, **options)
    if output == "json":
        click.echo(diff_render.to_json(found, gates), nl=False)
    else:
        click.echo(diff_render.markdown(found, gates) if output == "markdown"
                   else diff_render.text(found), nl=False)
    holding = [gate for gate in gates if gate.holds(found)]
    for gate in holding:
        click.echo(gate.describe(found), err=True)
    sys.exit(1 if holding else 0)


@main.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--coverage", "show_coverage", is_flag=True,
              help="Also list every rule with the number of tests that made it fire, and the "
              "rules no test fired.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="P",
              help="Exit 1 when the tests fire fewer than P percent of a ruleset's rules; "
              "implies --coverage.")
@click.option("--format", "output", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True, help="json, or junit (JUnit XML) for CI systems.")
def rule_tests(paths: tuple[Path, ...], show_coverage: bool, min_coverage: float | None,
               output: str):
    """Run rule tests: example leads and the results the rules must give them.

    PATHS are .tests files or directories (every .tests file below them);
    default: the current directory. A test file tests the rule file named in
    its `rules` line, or the .rules file of the same name beside it. A failed
    test shows what was expected, what came out, and how it came about.
    `leadrules docs rule-tests` describes the format.

    \b
    Examples:
      leadrules test                               every .tests file below here
      leadrules test rulesets/b2b.tests --coverage
      leadrules test rulesets/ --min-coverage 100 --format junit > rule-tests.xml
    """
    from leadrules.engine.review.ruletest import render_json, render_junit, render_text, run_tests

    outcome = run_tests(paths or (Path("."),))
    coverage = show_coverage or min_coverage is not None
    if output == "json":
        click.echo(render_json(outcome, coverage, min_coverage), nl=False)
    elif output == "junit":
        click.echo(render_junit(outcome), nl=False)
    else:
        click.echo(render_text(outcome, coverage), nl=False)
    below = outcome.below(min_coverage)
    for covered in below:
        click.echo(f"coverage of {covered.rules_path} is {covered.percent:.1f}%, below "
                   f"--min-coverage {min_coverage:g}%", err=True)
    sys.exit(1 if outcome.failed or below else 0)


@main.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path):
    """Start a repository for a team's rules: rulesets/ with the b2b rules, their
    tests and sample, pre-commit hooks, a CI workflow and a README; its checks
    pass at once. Example: leadrules init marketing-rules
    """
    from leadrules.engine.review.starter import create, next_steps

    click.echo("".join(f"wrote {p}\n" for p in create(directory)) + next_steps(directory))


@main.command()
def lsp():
    """The language server for editors, over stdin and stdout: the diagnostics
    of `check` as you type, `fmt`, completion, hover, go-to-definition.

    Needs pip install 'leadrules[lsp]'; `leadrules docs editors` sets up VS
    Code, Neovim and Helix. Example (what an editor starts): leadrules lsp
    """
    from leadrules.engine.editor import serve

    serve()


@main.command()
@click.argument("topic", required=False)
@click.option("--path", "path_only", is_flag=True,
              help="Print the path of the doc or bundled file instead of its text.")
def docs(topic: str | None, path_only: bool):
    """The docs and bundled files where pip installed them: a list, or the text
    (--path: the path) of a TOPIC: a doc (`language`) or file (`b2b.rules`).

    \b
    Examples:
      leadrules docs
      leadrules docs language | less
      leadrules check "$(leadrules docs --path b2b.rules)"
      datasette leadrules.db -m "$(leadrules docs --path datasette.yaml)"
    """
    if topic is None:
        click.echo(bundled.overview())
        return
    found = bundled.find(topic)
    click.echo(str(found) if path_only else found.read_text(encoding="utf-8"), nl=path_only)


def _complete(ctx: click.Context, kind: str, incomplete: str) -> list[str]:
    """Stage names of the latest run, or lead ids, from the store the command line names (or
    LEADRULES_DB, or the default), for shell completion; nothing when there is no store."""
    db = Path(ctx.params.get("db") or os.environ.get("LEADRULES_DB") or DEFAULT_DB)
    if not db.is_file():
        return []
    try:
        with Store(db) as store:
            return store.complete(kind, incomplete)
    except LeadrulesError:  # a damaged or newer store: completion offers nothing
        return []


def _renamed(value, old: str, new: str):
    """An option's old spelling still works, with a notice; `--format` is the output format
    and `--leads` a file in every command."""
    if value is not None:
        click.echo(f"note: {old} is now {new}; the old spelling will go in a later release",
                   err=True)
    return value


def _compile(path: Path):
    return compile_ruleset(dsl.load(path))


def _as_of(text: str | None) -> tuple[int, str]:
    """The as-of time and where it came from; the wall clock only when none is given."""
    if text is None:
        return time.time_ns() // 1000, "now"
    try:
        return parse_timestamp(text), "given"
    except ValueError:
        raise UsageError(f"--as-of: {text!r} is not a time; write a date like 2026-04-01 "
                         "or a moment like 2026-04-01T09:30:00Z") from None


@main.group()
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
    with _existing_store(db) as s:
        facts = s.info()
    if output == "json":
        click.echo(json.dumps(store_render.info_json(db, facts), indent=2, ensure_ascii=False))
    else:
        click.echo(store_render.info_text(db, facts))


def _existing_store(db: Path) -> Store:
    if not db.exists():
        raise UsageError(f"{db}: no store here; create one with `leadrules ingest` "
                         "(or point --db / LEADRULES_DB at one)")
    return Store(db)


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


if __name__ == "__main__":
    main()
