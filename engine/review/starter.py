"""`leadrules init`: a starter repository for a team's rules, whose checks pass from the start."""

from __future__ import annotations

import json
import os
import string
from importlib.metadata import PackageNotFoundError, distribution, version
from pathlib import Path

from leadrules.dsl.errors import UsageError
from leadrules.engine import bundled

# What the starter holds: its path -> the bundled file it is written from. Files in starter/
# have no leading dot, because package data globs skip dotfiles.
FILES = {
    "rulesets/b2b.rules": "b2b.rules",
    "rulesets/b2b.tests": "b2b.tests",
    "rulesets/sample/leads.csv": "sample/leads.csv",
    "rulesets/sample/events.csv": "sample/events.csv",
    ".pre-commit-config.yaml": "starter/pre-commit-config.yaml",
    ".github/workflows/rules.yml": "starter/rules.yml",
    ".gitignore": "starter/gitignore",
    "requirements.txt": "starter/requirements.txt",
    "README.md": "starter/README.md",
}
TEMPLATES = {"requirements.txt", "README.md"}  # these name leadrules' $version, $requirement


def _version() -> str:
    try:
        return version("leadrules")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.1.0"


def requirement() -> str:
    """The requirement that installs this leadrules again: from git at its commit when pip
    installed it so (PEP 610's direct_url.json says), else by version."""
    try:
        origin = json.loads(distribution("leadrules").read_text("direct_url.json") or "{}")
    except (PackageNotFoundError, ValueError):
        origin = {}
    vcs, url = origin.get("vcs_info", {}), origin.get("url", "")
    if vcs.get("vcs") == "git" and vcs.get("commit_id") and not url.startswith("file:"):
        return f"leadrules @ git+{url}@{vcs['commit_id']}"
    return f"leadrules=={_version()}"


def _text(target: str, source: str) -> str:
    text = bundled.file_path(source).read_text(encoding="utf-8")
    if target not in TEMPLATES:
        return text
    return string.Template(text).substitute(version=_version(), requirement=requirement())


def create(directory: Path) -> list[Path]:
    """Write the starter files into `directory` (made if missing) and return their paths.
    Nothing is written if any of them exists already: UsageError names them."""
    there = [target for target in FILES if (directory / target).exists()]
    if there:
        more = f" (and {len(there) - 1} more of the starter's files)" if len(there) > 1 else ""
        raise UsageError(f"{directory / there[0]}: is there already{more}; leadrules init "
                         "overwrites nothing: give it a new or empty folder")
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: is a file, not a folder")
    texts = {target: _text(target, source) for target, source in FILES.items()}
    written = []
    for target, text in texts.items():
        path = directory / target
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8", newline="") as out:  # "x": never overwrite
            out.write(text)
        written.append(path)
    return written


def next_steps(directory: Path) -> str:
    """What to do after `leadrules init DIR`, as a few lines of shell."""
    here = os.path.relpath(directory)
    return "\n".join([
        "Next:", f"  cd {here}", "  git init && git add . && git commit -m 'Our lead-scoring rules'",
        "  pip install -r requirements.txt pre-commit && pre-commit install",
        "  leadrules check rulesets/ && leadrules test rulesets/"])
