"""The user's cache directory, where leadrules keeps what makes its commands start faster:
Lark's parser tables (`dsl.parser`), and the statements of rule files it parsed before
(`dsl.statements`), with which a command that reads a known rule file neither imports Lark nor
parses. This module knows the directory and how its files are written; it imports nothing of
leadrules, so both of its users may import it.

Both kinds of file are read with pickle, which can run code, so they live in the user's own
cache directory, never in a shared temporary one. LEADRULES_NO_CACHE=1 turns both off. Files
unused for STALE_DAYS days are deleted when a new one of their kind is written.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

STALE_DAYS = 30


def folder() -> Path | None:
    """The leadrules cache directory, made if need be: `$XDG_CACHE_HOME/leadrules`, else
    `~/.cache/leadrules` (`%LOCALAPPDATA%` on Windows). None when LEADRULES_NO_CACHE is set, or
    when there is no such directory and it cannot be made."""
    if os.environ.get("LEADRULES_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.environ.get("LOCALAPPDATA") if sys.platform == "win32" else None)
    try:
        where = (Path(base) if base else Path.home() / ".cache") / "leadrules"
        where.mkdir(parents=True, exist_ok=True)
    except (OSError, RuntimeError):  # RuntimeError: no home directory
        return None
    return where


def forget_stale(where: Path, pattern: str) -> None:
    """Delete the files of `pattern` not read (nor written) for STALE_DAYS days, so that old
    versions, removed virtualenvs and rule files edited since leave nothing behind. Where
    reading does not touch a file (noatime), one in use may go too; it is made again."""
    cutoff = time.time() - STALE_DAYS * 86_400
    for old in where.glob(pattern):
        try:
            seen = old.stat()
            if max(seen.st_atime, seen.st_mtime) < cutoff:
                old.unlink()
        except OSError:  # gone already, or not ours to delete
            pass


def write(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (another process may be reading it)."""
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    except OSError:  # a full disk or a read-only cache: the next start parses again
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
