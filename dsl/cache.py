"""What leadrules keeps in the user's cache directory, so that its commands start faster:
Lark's parser tables (`dsl.parser`), and the statements of rule files it parsed before
(`statements`), with which a command that reads a known rule file neither imports Lark nor
parses.

Both kinds of file are read with pickle, which can run code, so they live in the user's own
cache directory, never in a shared temporary one. LEADRULES_NO_CACHE=1 turns both off. Files
unused for STALE_DAYS days are deleted when a new one of their kind is written.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pickle
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


def statements(text: str, path: str) -> tuple[list, list]:
    """`dsl.parser.parse_statements(text, path)`: read back when this code parsed this text at
    this path before (the statements' spans name the path), else parsed and kept. A file that
    cannot be read back, whatever the reason, is parsed and written again."""
    where = folder()
    if where is None:
        return parse(text, path)
    key = hashlib.sha256(_code() + f"{path}\0{text}".encode("utf-8", "surrogatepass"))
    kept = where / f"rules-{key.hexdigest()[:32]}.pickle"
    try:
        parsed = pickle.loads(kept.read_bytes())
    except Exception:  # missing, damaged or unreadable: all mean "parse it"
        parsed = None
    if isinstance(parsed, tuple) and len(parsed) == 2:
        return parsed
    parsed = parse(text, path)
    _write(kept, pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
    forget_stale(where, "rules-*")  # also what a process stopped while writing left
    return parsed


def parse(text: str, path: str) -> tuple[list, list]:
    """`dsl.parser.parse_statements`, imported on first use: importing it, and Lark with it,
    takes 30 ms of a command's start, which a command with a cached rule file skips."""
    from dsl.parser import parse_statements

    return parse_statements(text, path)


@functools.cache
def _code() -> bytes:
    """A digest of what turns text into statements: the parser, the AST and diagnostic
    classes, the grammar, Lark's version (its `__init__.py`, read, not imported) and Python's.
    Statements kept by other code are never read."""
    digest = hashlib.sha256(sys.version.encode())
    here = Path(__file__).parent
    sources = [here / name for name in ("parser.py", "ast.py", "errors.py", "grammar.lark")]
    lark = importlib.util.find_spec("lark")
    if lark is not None and lark.origin:
        sources.append(Path(lark.origin))
    for source in sources:
        digest.update(source.read_bytes())
    return digest.digest()


def _write(path: Path, data: bytes) -> None:
    """Write a cache file whole or not at all (another process may be reading it)."""
    part = path.with_name(f"{path.name}.{os.getpid()}.part")
    try:
        part.write_bytes(data)
        os.replace(part, path)
    except OSError:  # a full disk or a read-only cache: the next start parses again
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
