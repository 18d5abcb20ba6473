"""The `leadrules` command: one click group over the commands of engine/commands, and the one
place where leadrules' errors become messages and exit codes."""

from __future__ import annotations

import os
import sys

import click

from leadrules import dsl
from leadrules.dsl.errors import LeadrulesError
from leadrules.engine.commands import data, measure, rules, scoring
from leadrules.engine.commands.common import message

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


class Group(click.Group):
    """The one place where leadrules' own errors become messages and exit codes."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except LeadrulesError as error:
            click.echo(message(error) if not isinstance(error, dsl.RulesError) else str(error),
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


for _module in (scoring, data, rules, measure):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
