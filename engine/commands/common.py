"""Options, helpers and conventions that the `leadrules` commands share."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from leadrules import dsl
from leadrules.dsl.errors import LeadrulesError, UsageError
from leadrules.engine import bundled
from leadrules.engine.events import parse_timestamp
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.store.store import Store

DEMO_DB = "leadrules-demo.db"


DEFAULT_DB = "leadrules.db"


quiet_option = click.option("-q", "--quiet", is_flag=True,
                            help="No progress display (there is none when stderr is piped).")
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


rules_option = click.option(
    "--rules", "rules_file", type=click.Path(dir_okay=False, path_type=Path), metavar="RULES",
    help="Export the latest run of these rules  [default: the latest run of any]")


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


STDIN_NAME = "<stdin>"


def stdin_text() -> str:
    """Standard input as rule text: UTF-8, a byte order mark dropped."""
    data = sys.stdin.buffer.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as bad:
        raise UsageError(f"{STDIN_NAME}: byte 0x{data[bad.start]:02x} at offset {bad.start} "
                         "is not UTF-8; send the rules as UTF-8") from None


def complete(ctx: click.Context, kind: str, incomplete: str) -> list[str]:
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


def renamed(value, old: str, new: str):
    """An option's old spelling still works, with a notice; `--format` is the output format
    and `--leads` a file in every command."""
    if value is not None:
        click.echo(f"note: {old} is now {new}; the old spelling will go in a later release",
                   err=True)
    return value


def compile_rules(path: Path):
    return compile_ruleset(dsl.load(path))


def as_of_time(text: str | None) -> tuple[int, str]:
    """The as-of time and where it came from; the wall clock only when none is given."""
    if text is None:
        return time.time_ns() // 1000, "now"
    try:
        return parse_timestamp(text), "given"
    except ValueError:
        raise UsageError(f"--as-of: {text!r} is not a time; write a date like 2026-04-01 "
                         "or a moment like 2026-04-01T09:30:00Z") from None


def existing_store(db: Path) -> Store:
    if not db.exists():
        raise UsageError(f"{db}: no store here; create one with `leadrules ingest` "
                         "(or point --db / LEADRULES_DB at one)")
    return Store(db)


def count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def sample_leads_of(leads_file: str, events_file: str, only: str | None):
    from leadrules.engine.store.ingest import sample_leads

    return sample_leads(leads_file, events_file, only)


def message(error: LeadrulesError) -> str:
    """`error: ...`, and for a missing file that ships with leadrules, where its copy is."""
    return f"error: {error}{bundled.missing_hint(getattr(error, 'missing', None))}"
