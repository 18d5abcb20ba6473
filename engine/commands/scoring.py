"""The scoring commands: demo, run, leads, actions, dry-run, explain."""

from __future__ import annotations

import contextlib
from pathlib import Path

import attrs
import click

from leadrules import dsl
from leadrules.dsl.errors import UsageError
from leadrules.engine import bundled
from leadrules.engine import tables as report
from leadrules.engine.commands.common import (
    DEMO_DB,
    OutputFormat,
    as_of_option,
    as_of_time,
    compile_rules,
    complete,
    db_option,
    existing_store,
    format_option,
    quiet_option,
    rules_option,
    sample_leads_of,
    workers_option,
)
from leadrules.engine.distributed import load as load_distributed
from leadrules.engine.events import format_timestamp
from leadrules.engine.progress import Progress
from leadrules.engine.scoring import render
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate
from leadrules.engine.scoring.run import RunReport, run_rules
from leadrules.engine.store.store import Store


@click.command()
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


# Evaluation ------------------------------------------------------------------------------------

@click.command(name="run")
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
@quiet_option
def run_command(rules_file: Path, db: Path, as_of_text: str | None, full: bool,
                workers: int | None, engine: str, events_dir: Path | None,
                scheduler: str | None, out: Path | None, quiet: bool):
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
                         out, quiet)
    rules = compile_rules(rules_file)
    as_of, source = as_of_time(as_of_text)
    with existing_store(db) as store:
        run = _run_with_progress(store, rules, as_of, full=full, workers=workers, quiet=quiet)
        click.echo(f"Rules:    \"{rules.name}\" from {rules.path} (content {rules.hash[:12]})")
        click.echo(f"As of:    {format_timestamp(as_of)} ({source})")
        click.echo(f"Run {run.run_id}:    {render.run_mode(run)}; {run.events:,} events in "
                   f"{run.seconds:.2f} s")
        click.echo(f"Changes:  {render.changes(run)}")
        click.echo("\nFunnel\n" + render.funnel(rules.stages, dict(store.funnel(rules.hash))))


def _run_dask(rules_file: Path, db: Path, as_of_text: str | None, workers: int | None,
              engine: str, events_dir: Path | None, scheduler: str | None, out: Path | None,
              quiet: bool = False):
    """`run --engine dask`: the summary of a local run, or where the Parquet went."""
    if engine != "dask":
        raise UsageError("--events, --scheduler and --out go with --engine dask")
    if events_dir is None:
        raise UsageError("--engine dask needs --events DIR, a folder `export --parquet` wrote")
    dask_run = load_distributed("dask_run")
    ruleset = dsl.load(rules_file)
    rules = compile_ruleset(ruleset)
    as_of, source = as_of_time(as_of_text)
    with contextlib.ExitStack() as stack:
        store = None if out is not None else stack.enter_context(existing_store(db))
        bar = stack.enter_context(Progress("Scoring", unit="leads", quiet=quiet))
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
                       workers: int | None = None, quiet: bool = False) -> RunReport:
    bar = None

    def plan(mode: str, leads: int) -> None:
        nonlocal bar
        bar = Progress("Replaying" if mode == "incremental" else "Scoring", leads, "leads",
                       quiet=quiet)

    try:
        return run_rules(store, rules, as_of, full=full, workers=workers, on_plan=plan,
                         progress=lambda n: bar.update(n))
    finally:
        if bar is not None:
            bar.close()


@click.command()
@db_option
@rules_option
@click.option("--stage", help="Only leads in this stage.",
              shell_complete=lambda ctx, param, incomplete: complete(ctx, "stage", incomplete))
@click.option("--priority", help="Only leads with this priority (A1 ... D4).")
@click.option("--top", type=click.IntRange(min=1), metavar="N", help="Only the N best leads.")
@click.option("--fields", metavar="F,G",
              help="Also these profile fields, e.g. title,country,email.")
@format_option
@quiet_option
def leads(db: Path, rules_file: Path | None, stage: str | None, priority: str | None,
          top: int | None, fields: str | None, output: str, quiet: bool):
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

    rules = compile_rules(rules_file) if rules_file is not None else None
    names = tuple(f.strip() for f in fields.split(",") if f.strip()) if fields else ()
    with existing_store(db) as store:
        found = exports.lead_export(store, rules, stage=stage, priority=priority, top=top,
                                    fields=names)
        run = found.run
        if output == "text":
            found = attrs.evolve(found, rows=list(found.rows))
            click.echo(f"\"{run['ruleset_name']}\" as of {format_timestamp(run['as_of'])} "
                       f"(run {run['run_id']}); {len(found.rows):,} leads")
        every = stage is None and priority is None
        total = min(run["leads"], top or run["leads"]) if every else None
        with Progress("Exporting", total, "leads", quiet=quiet) as bar:
            found = attrs.evolve(found, rows=_counted(found.rows, bar))
            for chunk in exports.chunks(found, output):
                click.echo(chunk, nl=False)


def _counted(rows, bar: Progress):
    """The rows, each counted on `bar` as it is read (a million leads take 10 s to export)."""
    for row in rows:
        bar.update(1)
        yield row


@click.command()
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

    rules = compile_rules(rules_file) if rules_file is not None else None
    with existing_store(db) as store:
        found = exports.action_export(store, rules, stage=stage, kind=kind, since=since)
    click.echo(exports.render(found, output), nl=False)


@click.command(name="dry-run")
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
    rules = compile_rules(rules_file)
    as_of, source = as_of_time(as_of_text)
    results = [evaluate(rules, lead, profile, events, as_of)
               for lead, profile, events in sample_leads_of(leads_file, events_file, lead_id)]
    if output == "text":
        click.echo(f"\"{rules.name}\" as of {format_timestamp(as_of)} ({source}); "
                   f"{len(results):,} leads; nothing was written")
    else:
        click.echo(f"as of {format_timestamp(as_of)} ({source})", err=True)
    click.echo(render.leads_text(map(render.lead_dict, results), output))


@click.command()
@click.argument("lead_id",
                shell_complete=lambda ctx, param, incomplete: complete(ctx, "lead", incomplete))
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
    rules = compile_rules(rules_file)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        ((_, profile, events),) = sample_leads_of(leads_file, events_file, lead_id)
        as_of, source = as_of_time(as_of_text)
    else:
        with existing_store(db) as store:
            if not store.has_lead(lead_id):
                raise UsageError(f"{db}: no lead {lead_id!r} in the store")
            profile, events = store.lead_events(lead_id)
            run = store.last_run(rules.hash)
        if as_of_text is None and run is not None:
            as_of, source = run["as_of"], f"the as-of time of run {run['run_id']}"
        else:
            as_of, source = as_of_time(as_of_text)
    result = evaluate(rules, lead_id, profile, events, as_of, trace=True)
    from leadrules.engine.scoring.explain import explain as explain_text

    click.echo(explain_text(rules, result, profile, as_of, source, why_not), nl=False)

COMMANDS = [demo, run_command, leads, actions, dry_run, explain]
