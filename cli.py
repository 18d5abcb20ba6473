"""The `leadrules` command: thin click commands over `dsl` and `engine`."""

from __future__ import annotations

import difflib
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from leadrules import dsl
from leadrules.dsl.errors import LeadrulesError, UsageError
from leadrules.engine import bundled
from leadrules.engine import tables as report
from leadrules.engine.events import format_timestamp, parse_timestamp
from leadrules.engine.scoring import render
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate, event_rows
from leadrules.engine.scoring.run import RunReport, run_rules
from leadrules.engine.store import render as store_render
from leadrules.engine.store.store import Store

if TYPE_CHECKING:
    pass

DEMO_DB = "leadrules-demo.db"
DEFAULT_DB = "leadrules.db"

as_of_option = click.option(
    "--as-of", "as_of_text", metavar="TIME",
    help="Evaluate as of this moment (2026-04-01 or 2026-04-01T09:30:00Z); default: now.")
format_option = click.option(
    "--format", "output", type=click.Choice(["table", "csv", "json"]), default="table",
    show_default=True, help="table for people; csv or json for a CRM or a spreadsheet.")

workers_option = click.option(
    "--workers", type=click.IntRange(min=1), metavar="N",
    help="Processes for a store of 5,000 leads or more  [default: one per core, at most 4]")

db_option = click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_DB,
    envvar="LEADRULES_DB", show_default=True, show_envvar=True,
    help="The SQLite store (`leadrules ingest` creates it).")


class Group(click.Group):
    """The one place where leadrules' own errors become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LeadrulesError as error:
            click.echo(f"error: {error}" if not isinstance(error, dsl.RulesError) else str(error),
                       err=True)
            ctx.exit(error.exit_code)
        except BrokenPipeError:  # `leadrules leads | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as error:  # a file we were asked to write could not be written
            click.echo(f"error: {error.filename or ''}: {error.strerror}", err=True)
            ctx.exit(1)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadrules")
def main():
    """Lead scoring and funnel rules as text: check them, try them, run them.

    \b
    Examples:
      leadrules demo                      score the bundled sample with the b2b rules
      leadrules check rulesets/b2b.rules  find mistakes in a rule file
      leadrules fmt --check rulesets/     lay rule files out the one canonical way
      leadrules sample --leads 1000 --out data/
      leadrules ingest --leads data/leads.csv --events data/events.csv
      leadrules run rulesets/b2b.rules    score every lead of the store
      leadrules test rulesets/            run the rule tests
      leadrules diff --base main rulesets/b2b.rules   what a rule change does to the leads
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

    FILES may be rule files or directories (every .rules file below them).
    Every error names the file, line and column, shows the line, and says
    what to write instead. Warnings (a line that can never be chosen, a stage
    no move leads into) are shown but fail only with --strict.

    \b
    Examples:
      leadrules check rulesets/b2b.rules
      leadrules check --strict --format json rulesets/*.rules
    """
    analyses, unreadable = [], []
    for path in _rule_files(files):
        try:
            analyses.append(_analyze_file(path))
        except UsageError as error:  # one missing file does not hide what the others hold
            unreadable.append(str(error))
    failed = any(a.diagnostics if strict else a.errors for a in analyses)
    if output == "json":
        click.echo(json.dumps({"ok": not failed and not unreadable, "files": [
            {"path": a.ruleset.path, "errors": len(a.errors), "warnings": len(a.warnings),
             "diagnostics": [d.to_dict() for d in a.diagnostics]} for a in analyses],
            "unreadable": unreadable}, indent=2, ensure_ascii=False))
    else:
        for a in analyses:
            for diagnostic in a.diagnostics:
                click.echo(diagnostic.render(a.ruleset.source) + "\n")
            click.echo(f"{a.ruleset.path}: {_count(a.errors, 'error')}, "
                       f"{_count(a.warnings, 'warning')}" if a.diagnostics else
                       f"{a.ruleset.path}: ok")
    for message in unreadable:
        click.echo(f"error: {message}", err=True)
    sys.exit(2 if unreadable else 1 if failed else 0)


def _rule_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files named, with each directory replaced by the .rules files below it."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.rules")) if path.is_dir() else [path])
    return found


def _analyze_file(path: Path) -> dsl.Analysis:
    """The analysis of a rule file; a file that is not UTF-8 is one bad-encoding diagnostic."""
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
    A file with syntax errors is reported and left as it is.

    \b
    Examples:
      leadrules fmt rulesets/b2b.rules
      leadrules fmt --check rulesets/*.rules     # in CI or a pre-commit hook
      leadrules fmt --diff campaign.rules
    """
    from leadrules.dsl.format import (
        format_source,  # here: it imports the parser, which `run` need not
    )

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
            unreadable.append(str(error))
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
    for message in unreadable:
        click.echo(f"error: {message}", err=True)
    sys.exit(2 if unreadable else 1 if broken or (check_only and changed) else 0)


def _replace(path: Path, text: str) -> None:
    """Write the file through a temporary file beside it, so a crash never leaves half a file."""
    temporary = path.with_name(f".{path.name}.leadrules-fmt")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


@main.command()
@click.option("--leads", "n_leads", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of leads to generate.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed; the same seed gives the same files.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write leads.csv and events.csv into.")
def sample(n_leads: int, seed: int, out: Path):
    """Generate realistic sample leads and events as CSV.

    German and English B2B profiles, a year of marketing and sales events with
    a heavy tail per lead, some rows out of order and some event ids repeated,
    as real exports have.

    \b
    Example:
      leadrules sample --leads 10000 --seed 7 --out data/
    """
    from leadrules.engine.sample.generator import write_sample

    files = write_sample(out, n_leads, seed)
    click.echo(f"Wrote {files.leads} leads to {files.leads_path}")
    click.echo(f"Wrote {files.events} events to {files.events_path}")


@main.command(name="ingest")
@db_option
@click.option("--leads", "leads_file", metavar="FILE",
              help="Lead profiles: lead_id plus one column (or JSON key) per field.")
@click.option("--events", "events_file", metavar="FILE",
              help="Events: event_id, lead_id, type, ts plus one column per property.")
@click.option("--format", "input_format", type=click.Choice(["csv", "jsonl"]),
              help="Read the files as this format instead of going by their names.")
@click.option("--rules", type=click.Path(dir_okay=False, path_type=Path),
              help="Rule file whose `fields` types (number, date, boolean) lead cells must have.")
@click.option("--rejects", "rejects_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the rejected rows to this file (.jsonl for JSON Lines, else CSV).")
@click.option("--max-rejects", type=click.IntRange(min=0), metavar="N",
              help="Stop once more than N rows are rejected (what came before stays imported).")
@click.option("-q", "--quiet", is_flag=True, help="No progress and no summary; errors only.")
def ingest_command(db: Path, leads_file: str | None, events_file: str | None,
                   input_format: str | None, rules: Path | None, rejects_file: Path | None,
                   max_rejects: int | None, quiet: bool):
    """Import leads and events from CSV or JSON Lines files into the store.

    Files ending in .csv or .jsonl (also .ndjson), optionally .gz, or - for
    stdin. Events whose id is stored already are skipped, so importing a file
    twice adds nothing; events without an event_id get one from their content.
    Bad rows are rejected with file, line, column and reason, and the good rows
    are still imported. An interrupted import (Ctrl-C, a crash) is resumed by
    running the same command again.

    Exit status: 0 when every row was taken, 1 when some were rejected, 2 when
    the input is unusable (a missing file, no header).

    \b
    Examples:
      leadrules ingest --leads leads.csv --events events.csv
      leadrules ingest --events export.jsonl.gz --rejects rejects.csv
      zcat events.csv.gz | leadrules ingest --events - --max-rejects 100
    """
    # Imported here, not at the top (as in demo, sample, dry-run and explain), so that the
    # commands that do not need them start faster.
    from leadrules.engine.store.ingest import field_types, ingest

    if rejects_file is not None and not rejects_file.resolve().parent.is_dir():
        raise UsageError(f"{rejects_file}: its directory does not exist (--rejects)")
    types = field_types(dsl.load(rules)) if rules is not None else None
    with Store(db) as store, _IngestProgress(quiet) as progress:
        outcome = ingest(store, leads_file, events_file, format=input_format, types=types,
                        max_rejects=max_rejects, progress=progress.update)
        if rejects_file is not None:
            store_render.write_rejects(rejects_file, store.iter_rejects(outcome.import_ids))
        if not quiet:
            click.echo(store_render.ingest_summary(db, outcome))
        for line in store_render.reject_lines(store, outcome, rejects_file):
            click.echo(line, err=True)
    sys.exit(1 if outcome.rejected else 0)


# Evaluation ------------------------------------------------------------------------------------

@main.command(name="run")
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@as_of_option
@click.option("--full", is_flag=True,
              help="Replay every lead, even when an earlier run of these rules could be reused.")
@workers_option
def run_command(rules_file: Path, db: Path, as_of_text: str | None, full: bool,
                workers: int | None):
    """Score every lead of the store and save the results.

    The first run of a ruleset replays every lead. Later runs of the same
    ruleset (same file content) replay only the leads with new events or a new
    profile since, and the leads whose results change with time alone (a quiet
    spell ending, a window closing, an SLA deadline); the results equal a full
    run's. Prints leads per stage and what changed since the previous run.

    \b
    Examples:
      leadrules run rulesets/b2b.rules
      leadrules run rulesets/b2b.rules --db crm.db --as-of 2026-04-01
    """
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


def _run_with_progress(store: Store, rules, as_of: int, full: bool = False,
                       workers: int | None = None) -> RunReport:
    bar = None

    def plan(mode: str, leads: int) -> None:
        nonlocal bar
        bar = _progress(leads, "Replaying" if mode == "incremental" else "Scoring").__enter__()

    try:
        return run_rules(store, rules, as_of, full=full, workers=workers, on_plan=plan,
                         progress=lambda n: bar.update(n))
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


rules_option = click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), metavar="RULES",
    help="Export the latest run of these rules  [default: the latest run of any]")


@main.command()
@db_option
@rules_option
@click.option("--stage", help="Only leads in this stage.")
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
    if output == "table":
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
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="csv",
              show_default=True)
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
              help="A series: flows, cohorts and SLA entries per week, month or quarter.")
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
    if output == "table":
        click.echo(f"\"{rules.name}\" as of {format_timestamp(as_of)} ({source}); "
                   f"{len(results):,} leads; nothing was written")
    else:
        click.echo(f"as of {format_timestamp(as_of)} ({source})", err=True)
    click.echo(render.leads_text(map(render.lead_dict, results), output))


def _sample_leads(leads_file: str, events_file: str, only: str | None):
    """(lead_id, profile, events) of sample files, by lead_id; leads of events included."""
    from leadrules.engine.store.ingest import read_events, read_leads

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


@main.command()
@click.argument("lead_id")
@click.argument("rules_file", metavar="RULES", type=click.Path(dir_okay=False, path_type=Path))
@db_option
@click.option("--leads", "leads_file", metavar="FILE", help="Read the lead from sample files "
              "instead of the store (with --events).")
@click.option("--events", "events_file", metavar="FILE", help="Sample events (with --leads).")
@as_of_option
def explain(lead_id: str, rules_file: Path, db: Path, leads_file: str | None,
            events_file: str | None, as_of_text: str | None):
    """Explain one lead: each event, the rules that fired, the score after
    each change, capped rules, stage moves, actions, and how each result came
    about.

    From the store, the default as-of time is that of the latest run of these
    rules, so the explanation matches `leadrules leads`.

    \b
    Examples:
      leadrules explain L00042 rulesets/b2b.rules
      leadrules explain L0007 new.rules --leads leads.csv --events events.csv
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

    click.echo(explain_text(rules, result, profile, as_of, source), nl=False)


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
@workers_option
def diff_command(old_spec: str, new_spec: str | None, base_rev: str | None, db: Path,
                 leads_file: str | None, events_file: str | None, as_of_text: str | None,
                 output: str, fail_on: tuple[str, ...], examples: int, sales_from: str,
                 workers: int | None):
    """Show what a rule change does to every lead: OLD and NEW evaluated on the
    same leads and events, nothing written.

    OLD and NEW are rule files or git revisions of one: REV:PATH, with PATH
    from the repository's root (or REV:./PATH from here). With --base REV and
    one FILE, FILE as it is at REV is compared with FILE on disk. Reports the
    rules added, removed or changed (matched by meaning, not by line), how many
    leads change score, grade, band, priority, stage, disqualification, label
    or owner, a stage-to-stage table, the leads that enter or leave sales, and
    example leads with the reason they changed.

    Exit status: 0; 1 when a --fail-on expression holds (METRIC is one of
    score_changes, fit_changes, grade_changes, band_changes, priority_changes,
    stage_changes, disqualified_changes, label_changes, owner_changes,
    sales_entries, sales_exits, changed_leads; OP one of > >= < <= =; VALUE a
    count or a percentage of the leads compared); 2 for bad usage or a rule
    file with errors.

    \b
    Examples:
      leadrules diff HEAD~1:rulesets/b2b.rules rulesets/b2b.rules
      leadrules diff --base origin/main rulesets/b2b.rules --format markdown
      leadrules diff old.rules new.rules --leads leads.csv --events events.csv \\
          --as-of 2026-04-01 --fail-on 'stage_changes > 5%'
    """
    from leadrules.engine.review import (
        diff_render,  # here, not at the top: the other commands start faster
    )
    from leadrules.engine.review.diff import Gate, compare, compare_store

    gates = [Gate.parse(text) for text in fail_on]
    pair = _diff_pair(old_spec, new_spec, base_rev)
    as_of, source = _as_of(as_of_text)
    options = dict(as_of_source=source, examples=examples, sales_from=sales_from)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        leads = [(lead, profile, event_rows(events))
                 for lead, profile, events in _sample_leads(leads_file, events_file, None)]
        found = compare(pair, leads, as_of, source=f"{leads_file} and {events_file}", **options)
    else:
        with _existing_store(db) as store, _progress(store.lead_count(), "Comparing") as bar:
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


def _diff_pair(old: str, new: str | None, base: str | None):
    """Both sides read, checked and compiled; a rule file with errors exits 2, because 1 means
    that a --fail-on expression held."""
    from leadrules.engine.review.diff import Pair

    try:
        sides = _diff_sides(old, new, base)
        return Pair.of(*(dsl.analyze(s.text, s.name).raise_for_errors() for s in sides))
    except dsl.RulesError as error:
        error.exit_code = 2
        raise


def _diff_sides(old: str, new: str | None, base: str | None) -> tuple:
    from leadrules.engine.review.revisions import read_base, read_file, read_rules

    if base is not None:
        if new is not None:
            raise UsageError("--base REV compares one FILE with itself at REV; give one FILE, "
                             "or OLD and NEW without --base")
        return read_base(base, old), read_file(old)
    if new is None:
        raise UsageError("give OLD and NEW (rule files or REV:PATH), or --base REV and one FILE")
    return read_rules(old), read_rules(new)


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
    The format is described in docs/rule-tests.md.

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


def _progress(length: int, label: str):
    """A progress bar on a terminal; silent when output is piped."""
    return click.progressbar(length=length, label=label, file=sys.stderr,
                             show_pos=True) if sys.stderr.isatty() else _NoProgress()


class _IngestProgress:
    """One line on a terminal, redrawn per batch: file, share read, rows, rows per second."""

    def __init__(self, quiet: bool):
        self.active = not quiet and sys.stderr.isatty()
        self.started: dict[str, float] = {}
        self.drawn = False

    def __enter__(self) -> _IngestProgress:
        return self

    def __exit__(self, *exc_info) -> None:
        if self.drawn:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def update(self, kind: str, source, rows: int) -> None:
        if not self.active:
            return
        started = self.started.setdefault(source.name, time.perf_counter())
        elapsed = time.perf_counter() - started
        share = f" {100 * source.position / source.size:3.0f}%" if source.size else ""
        rate = f", {rows / elapsed:,.0f} rows/s" if elapsed > 0 else ""
        sys.stderr.write(f"\r{kind} {source.name}:{share} {rows:,} rows{rate}\033[K")
        sys.stderr.flush()
        self.drawn = True


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


if __name__ == "__main__":
    main()
