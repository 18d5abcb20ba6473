"""The `leadrules` command's subcommands, a module per kind of work; cli.py assembles them
into one group and turns their errors into messages and exit codes."""
