"""The commands on rule files: check, fmt, test, diff, and init, lsp and docs."""

from __future__ import annotations

import difflib
import json
import os
import sys
from pathlib import Path

import click

from leadrules import dsl
from leadrules.dsl.errors import UsageError
from leadrules.engine import bundled
from leadrules.engine.commands.common import (
    STDIN_NAME,
    as_of_option,
    as_of_time,
    count,
    db_option,
    existing_store,
    message,
    outcome_options,
    quiet_option,
    reading_options,
    sample_leads_of,
    stdin_text,
    workers_option,
)
from leadrules.engine.progress import Progress
from leadrules.engine.scoring.evaluate import event_rows


@click.command()
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
            click.echo(f"{a.ruleset.path}: {count(a.errors, 'error')}, "
                       f"{count(a.warnings, 'warning')}" if a.diagnostics else
                       f"{a.ruleset.path}: ok")
    for error in unreadable:
        click.echo(message(error), err=True)
    sys.exit(2 if unreadable else 1 if failed else 0)


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
        return dsl.analyze(stdin_text(), STDIN_NAME)
    try:
        return dsl.analyze(dsl.read_source(path), str(path), cached=True)
    except dsl.RulesError as error:
        source = next(iter(error.sources.values()), "")
        return dsl.Analysis(dsl.Ruleset((), str(path), source), error.diagnostics)


@click.command()
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
    click.echo(f"{count(changed, 'file')} {verb}, {unchanged} unchanged", err=True)
    for error in unreadable:
        click.echo(message(error), err=True)
    sys.exit(2 if unreadable else 1 if broken or (check_only and changed) else 0)


def _format_stdin(format_source, check_only: bool, diff: bool) -> None:
    """`fmt -`: the formatted text of stdin on stdout (or, with --check or --diff, only what
    would change); exit 1 when it does not parse or, with --check, when it would change."""
    source = stdin_text()
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


@click.command(name="test")
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


@click.command(name="diff")
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
@reading_options
@quiet_option
def diff_command(old_spec: str, new_spec: str | None, base_rev: str | None, db: Path,
                 leads_file: str | None, events_file: str | None, as_of_text: str | None,
                 output: str, fail_on: tuple[str, ...], examples: int, sales_from: str,
                 outcomes_file: str | None, outcome_column: str | None,
                 outcome_text: str | None, workers: int | None, quiet: bool, **reading):
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
    sides: AUC, lift, conversion per band and grade, as `leadrules backtest`
    (the outcomes file read with ingest's options, as backtest reads it).

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
    from leadrules.engine.review.diff import Gate, check_gates
    from leadrules.engine.review.revisions import diff_pair
    from leadrules.engine.store.mapping import read_options

    gates = [Gate.parse(text) for text in fail_on]
    check_gates(gates, outcomes_file is not None or outcome_text is not None)
    pair = diff_pair(old_spec, new_spec, base_rev)
    as_of, source = as_of_time(as_of_text)
    outcome = outcome_of(pair.old_rules, outcomes_file, outcome_column, outcome_text,
                         as_of if as_of_text is not None else None, required=False,
                         options=read_options(**reading))
    options = dict(as_of_source=source, examples=examples, sales_from=sales_from,
                   outcome=outcome)
    found = _compared(pair, db, leads_file, events_file, as_of, workers, options, quiet)
    if output == "json":
        click.echo(diff_render.to_json(found, gates), nl=False)
    else:
        click.echo(diff_render.markdown(found, gates) if output == "markdown"
                   else diff_render.text(found), nl=False)
    holding = [gate for gate in gates if gate.holds(found)]
    for gate in holding:
        click.echo(gate.describe(found), err=True)
    sys.exit(1 if holding else 0)


def _compared(pair, db: Path, leads_file: str | None, events_file: str | None, as_of: int,
              workers: int | None, options: dict, quiet: bool = False):
    """The diff of a pair of rulesets over sample files, or over the store with progress."""
    from leadrules.engine.review.diff import compare, compare_store

    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        leads = [(lead, profile, event_rows(events))
                 for lead, profile, events in sample_leads_of(leads_file, events_file, None)]
        return compare(pair, leads, as_of, source=f"{leads_file} and {events_file}", **options)
    with existing_store(db) as store, \
            Progress("Comparing", store.lead_count(), "leads", quiet=quiet) as bar:
        return compare_store(pair, store, as_of, source=f"the store {db}", workers=workers,
                             progress=bar.update, **options)


@click.command()
@click.argument("directory", type=click.Path(path_type=Path))
def init(directory: Path):
    """Start a repository for a team's rules: rulesets/ with the b2b rules, their
    tests and sample, pre-commit hooks, a CI workflow and a README; its checks
    pass at once. Example: leadrules init marketing-rules
    """
    from leadrules.engine.review.starter import create, next_steps

    click.echo("".join(f"wrote {p}\n" for p in create(directory)) + next_steps(directory))


@click.command()
def lsp():
    """The language server for editors, over stdin and stdout: the diagnostics
    of `check` as you type, `fmt`, completion, hover, go-to-definition.

    Needs pip install 'leadrules[lsp]'; `leadrules docs editors` sets up VS
    Code, Neovim and Helix. Example (what an editor starts): leadrules lsp
    """
    from leadrules.engine.editor import serve

    serve()


@click.command()
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

COMMANDS = [check, fmt, rule_tests, diff_command, init, lsp, docs]
