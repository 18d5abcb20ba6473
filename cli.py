"""The `leadrules` command: thin click commands over `dsl` and `engine`."""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path

import click

import dsl
from dsl.errors import LeadrulesError
from dsl.format import format_source
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
      leadrules fmt --check rulesets/     lay rule files out the one canonical way
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
        counts = store.counts()
        as_of = counts.last_ts or 0
        with _progress(counts.leads, "Scoring") as bar:
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
    analyses = [_analyze_file(path) for path in _rule_files(files)]
    failed = any(a.diagnostics if strict else a.errors for a in analyses)
    if output == "json":
        click.echo(json.dumps({"ok": not failed, "files": [
            {"path": a.ruleset.path, "errors": len(a.errors), "warnings": len(a.warnings),
             "diagnostics": [d.to_dict() for d in a.diagnostics]} for a in analyses]},
            indent=2, ensure_ascii=False))
    else:
        for a in analyses:
            for diagnostic in a.diagnostics:
                click.echo(diagnostic.render(a.ruleset.source) + "\n")
            click.echo(f"{a.ruleset.path}: {_count(a.errors, 'error')}, "
                       f"{_count(a.warnings, 'warning')}" if a.diagnostics else
                       f"{a.ruleset.path}: ok")
    sys.exit(1 if failed else 0)


def _rule_files(paths: tuple[Path, ...]) -> list[Path]:
    """The files named, with each directory replaced by the .rules files below it."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.rules")) if path.is_dir() else [path])
    return found


def _analyze_file(path: Path) -> dsl.Analysis:
    """The analysis of a rule file; a file that is not UTF-8 is one bad-encoding diagnostic."""
    try:
        return dsl.analyze(dsl.read_source(path), str(path))
    except dsl.RulesError as error:
        source = next(iter(error.sources.values()), "")
        return dsl.Analysis(dsl.Ruleset((), str(path), source), error.diagnostics)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
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
    changed, broken = [], False
    files = _rule_files(files)
    for path in files:
        try:
            source = dsl.read_source(path)
            formatted = format_source(source, str(path))
        except dsl.RulesError as error:
            click.echo(error.render() + "\n", err=True)
            broken = True
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
    unchanged = len(files) - len(changed)
    verb = "would be reformatted" if check_only or diff else "reformatted"
    click.echo(f"{_count(changed, 'file')} {verb}, {unchanged} unchanged", err=True)
    sys.exit(1 if broken or (check_only and changed) else 0)


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
