"""`python -m leadrules`: the same command as `leadrules`."""

from leadrules.cli import main

main(prog_name="leadrules")
