"""What the command-line tests share: running `leadrules` in-process, and golden files."""

import os
import shutil
from pathlib import Path

from click.testing import CliRunner, Result

from leadrules.cli import main


def invoke(*args, input: str | None = None) -> Result:
    """`leadrules ARGS` in-process, with stdout and stderr apart (and `input` as stdin)."""
    try:  # click < 8.2 mixes stderr into stdout unless told not to
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def golden(path: Path, actual: str) -> str:
    """The expected text in `path`; with LEADRULES_UPDATE_GOLDEN set, `actual` is written
    there first (review the diff)."""
    if os.environ.get("LEADRULES_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def work_in(tmp_path: Path, monkeypatch, *files: Path) -> Path:
    """Make `tmp_path` the current directory, with a copy of each file under its own name."""
    monkeypatch.chdir(tmp_path)
    for path in files:
        shutil.copy(path, path.name)
    return tmp_path
