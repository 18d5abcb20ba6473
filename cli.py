"""The `leadrules` command: thin click commands over `dsl` and `engine`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import dsl
from dsl.errors import LeadrulesError
from engine import bundled, report
from engine.compiler import compile_ruleset
from engine.events import format_timestamp
from engine.ingest import ingest_files
from engine.run import score_store
from engine.sample import write_sample
from engine.store import Store

DEMO_DB = "leadrules-demo.db"


class Group(click.Group):
    """The one place where leadrules' own errors become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LeadrulesError as error:
            click.echo(f"error: {error}" if not isinstance(error, dsl.RulesError) else str(error),
                       err=True)
            ctx.exit(error.exit_code)
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
      leadrules sample --leads 1000 --out data/
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
    last event in the sample, and prints the funnel and the top leads.

    \b
    Example:
      leadrules demo --db /tmp/demo.db --top 5
    """
    existed = db.exists()
    with Store(db) as store:
        click.echo(f"Database: {db.resolve()} ({'reused' if existed else 'created'})")
        leads_csv, events_csv = bundled.sample_paths()
        summary = ingest_files(store, leads_csv, events_csv)
        click.echo(f"Sample:   {summary.leads_read} leads and {summary.events_read} event rows read; "
                   f"{summary.events_added} events added, {summary.duplicates} duplicates skipped, "
                   f"{summary.new_leads} leads created from events")
        rules = compile_ruleset(dsl.load(bundled.ruleset_path()))
        click.echo(f"Rules:    \"{rules.name}\" from {rules.path}")
        as_of = store.counts().last_ts or 0
        with _progress(store.counts().leads, "Scoring") as bar:
            run = score_store(store, rules, as_of, progress=bar.update)
        click.echo(f"Scored:   {run.leads} leads, {run.events} events, as of "
                   f"{format_timestamp(as_of)} (the last event in the sample); run {run.run_id}")
        click.echo("\nFunnel\n" + report.funnel(rules.stages, dict(store.funnel(run.run_id))))
        if top:
            rows = [(r["lead_id"], r["score"], r["fit"], r["grade"], r["band"], r["priority"],
                     r["stage"]) for r in store.results(run.run_id)[:top]]
            click.echo(f"\nTop {len(rows)} leads\n" + report.table(
                ("lead_id", "score", "fit", "grade", "band", "priority", "stage"), rows))


@main.command()
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
def check(files: tuple[Path, ...], strict: bool):
    """Check rule files for mistakes; exit 1 if any file has errors.

    Every error names the file, line and column, shows the line, and says
    what to write instead.

    \b
    Example:
      leadrules check rulesets/b2b.rules
    """
    failed = False
    for path in files:
        analysis = dsl.analyze(dsl.read_source(path), str(path))
        for diagnostic in analysis.diagnostics:
            click.echo(diagnostic.render(analysis.ruleset.source) + "\n")
        bad = analysis.diagnostics if strict else analysis.errors
        failed = failed or bool(bad)
        click.echo(f"{path}: {_count(analysis.errors, 'error')}, "
                   f"{_count(analysis.warnings, 'warning')}" if analysis.diagnostics else f"{path}: ok")
    sys.exit(1 if failed else 0)


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
    files = write_sample(out, n_leads, seed)
    click.echo(f"Wrote {files.leads} leads to {files.leads_path}")
    click.echo(f"Wrote {files.events} events to {files.events_path}")


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _progress(length: int, label: str):
    """A progress bar on a terminal; silent when output is piped."""
    return click.progressbar(length=length, label=label, file=sys.stderr,
                             show_pos=True) if sys.stderr.isatty() else _NoProgress()


class _NoProgress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        pass


if __name__ == "__main__":
    main()
