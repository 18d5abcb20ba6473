"""The measuring commands: report (the funnel, goals) and backtest (the rules against outcomes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from leadrules import dsl
from leadrules.dsl.errors import UsageError
from leadrules.engine.commands.common import (
    as_of_option,
    as_of_time,
    compile_rules,
    db_option,
    existing_store,
    outcome_options,
    quiet_option,
    reading_options,
    sample_leads_of,
    workers_option,
)
from leadrules.engine.progress import Progress


@click.command(name="report")
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
@quiet_option
def report_command(view: str, rules_file: Path, db: Path, run_id: int | None, start, end,
                   period: str | None, by: str | None, within: str | None,
                   cohort_stage: str | None, target_stage: str | None, output: str,
                   html_file: Path | None, fail_on: str | None, quiet: bool = False):
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
    from leadrules.engine.report.command import report, views_of

    with existing_store(db) as store, \
            Progress("Measuring", views_of(view, html_file is not None), "views",
                     quiet=quiet) as bar:
        outcome = report(store, dsl.load(rules_file), view, run_id=run_id,
                         start=start and start.date(), end=end and end.date(), period=period,
                         by=by, within=within, cohort=cohort_stage, target=target_stage,
                         output=output, html=html_file, fail_on=fail_on, progress=bar.update)
    click.echo(outcome.text, nl=False)
    if html_file is not None:
        click.echo(f"HTML report: {html_file}", err=True)
    for line in outcome.failing:
        click.echo(line, err=True)
    sys.exit(1 if outcome.failing else 0)


@click.command()
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
@quiet_option
def backtest(rules_file: Path, db: Path, leads_file: str | None, events_file: str | None,
             outcomes_file: str | None, outcome_column: str | None, outcome_text: str | None,
             as_of_text: str | None, handover: str | None, output: str, html_file: Path | None,
             suggest: bool, workers: int | None, quiet: bool = False, **reading):
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

    rules = compile_rules(rules_file)
    as_of, source = as_of_time(as_of_text)
    from leadrules.engine.store.mapping import read_options

    outcome = measure.outcome_of(rules, outcomes_file, outcome_column, outcome_text,
                                 as_of if as_of_text is not None else None,
                                 options=read_options(**reading))
    options = dict(as_of_source=source, handover=handover, suggest=suggest)
    if (leads_file is None) != (events_file is None):
        raise UsageError("--leads and --events go together")
    if leads_file is not None:
        found = measure.measure_sample(rules, sample_leads_of(leads_file, events_file, None),
                                       outcome, as_of, source=f"{leads_file} and {events_file}",
                                       **options)
    else:
        with existing_store(db) as store, \
                Progress("Scoring", store.lead_count(), "leads", quiet=quiet) as bar:
            found = measure.measure_store(rules, store, outcome, as_of, source=f"the store {db}",
                                          workers=workers, progress=bar.update, **options)
    if html_file is not None:
        from leadrules.engine.backtest.html import write_html

        write_html(html_file, found)
    click.echo({"json": bt_render.to_json, "markdown": bt_render.markdown}.get(
        output, bt_render.text)(found), nl=False)

COMMANDS = [report_command, backtest]
