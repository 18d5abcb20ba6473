"""Rule text from a file on disk or from a git revision (`HEAD~1:rulesets/b2b.rules`)."""

from __future__ import annotations

import os
import posixpath
import subprocess
from pathlib import Path

import attrs

from leadrules import dsl
from leadrules.dsl import MAX_RULE_FILE_BYTES
from leadrules.dsl.errors import UsageError


@attrs.frozen
class RuleText:
    """The text of one side of a comparison and the name it is shown under."""

    name: str
    text: str


def read_rules(spec: str) -> RuleText:
    """A rule file, or `REV:PATH` as git means it (PATH from the repository's root, or
    `REV:./PATH` from the current directory) when no file of that name exists."""
    if Path(spec).exists() or ":" not in spec:
        return read_file(spec)
    rev, path = spec.split(":", 1)
    if not rev or not path:
        raise UsageError(f"{spec}: no such rule file, and not REV:PATH (a git revision and a "
                         "path in it, like HEAD~1:rulesets/b2b.rules)")
    if path.startswith(("./", "../")):  # from the current directory: shown from the root
        prefix = _git(["rev-parse", "--show-prefix"], spec).strip()
        path = posixpath.normpath(posixpath.join(prefix, path))
    name = f"{rev}:{path}"
    return RuleText(name, _blob(rev, path, name))


def read_file(path: str) -> RuleText:
    """A rule file on disk, whatever its name looks like."""
    return RuleText(path, dsl.read_source(path))


def read_base(rev: str, file: str) -> RuleText:
    """FILE (a path on disk, from the current directory) as it was at revision REV."""
    top = Path(_git(["rev-parse", "--show-toplevel"], f"--base {rev}").strip())
    try:
        inside = Path(os.path.abspath(file)).relative_to(top.resolve())
    except ValueError:
        try:  # the current directory may sit below a symbolic link
            inside = Path(file).resolve().relative_to(top.resolve())
        except ValueError:
            raise UsageError(f"{file}: not inside the git repository at {top}") from None
    name = f"{rev}:{inside.as_posix()}"
    return RuleText(name, _blob(rev, inside.as_posix(), name))


def _blob(rev: str, path: str, name: str) -> str:
    """The text of PATH at REV; UsageError naming what is wrong: git, the repository, the
    revision, or the path."""
    _git(["rev-parse", "--show-toplevel"], name)
    try:
        _git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"], name)
    except UsageError:
        raise UsageError(f"{name}: unknown revision {rev!r}") from None
    try:
        data = _git(["cat-file", "blob", f"{rev}:{path}"], name, text=False)
    except UsageError:
        raise UsageError(f"{name}: no file {path!r} at revision {rev!r}") from None
    if len(data) > MAX_RULE_FILE_BYTES:
        raise UsageError(f"{name}: {len(data) / 1e6:.1f} MB is too large for a rule file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{name}: not UTF-8 text; rule files are UTF-8") from None


def _git(args: list[str], name: str, text: bool = True):
    """git's output; UsageError when git is missing, the current directory is not in a git
    repository, or the command fails."""
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=text)
    except FileNotFoundError:
        raise UsageError(f"{name}: reading a git revision needs git, which is not "
                         "installed") from None
    if done.returncode != 0:
        message = done.stderr if text else done.stderr.decode("utf-8", "replace")
        if "not a git repository" in message:
            raise UsageError(f"{name}: the current directory is not in a git repository, so "
                             "there is no revision to read")
        raise UsageError(message.strip() or f"git {args[0]} failed")
    return done.stdout


def diff_pair(old: str, new: str | None, base: str | None):
    """Both sides of `diff` read, checked and compiled; a rule file with errors exits 2,
    because 1 means that a --fail-on expression held."""
    from leadrules.engine.review.diff import Pair

    try:
        sides = _diff_sides(old, new, base)
        return Pair.of(*(dsl.analyze(s.text, s.name).raise_for_errors() for s in sides))
    except dsl.RulesError as error:
        error.exit_code = 2
        raise


def _diff_sides(old: str, new: str | None, base: str | None) -> tuple[RuleText, RuleText]:
    if base is not None:
        if new is not None:
            raise UsageError("--base REV compares one FILE with itself at REV; give one FILE, "
                             "or OLD and NEW without --base")
        return read_base(base, old), read_file(old)
    if new is None:
        raise UsageError("give OLD and NEW (rule files or REV:PATH), or --base REV and one FILE")
    return read_rules(old), read_rules(new)
