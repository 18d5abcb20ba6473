"""The statements of a rule file text, read back from the user's cache directory when this code
parsed the same text at the same path before, so that a command on an unchanged rule file neither
imports Lark nor parses. Statements kept by other code (another version of the parser, of Lark or
of Python) are never read.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import pickle
import sys
from pathlib import Path

from leadrules.dsl import cache


def statements(text: str, path: str) -> tuple[list, list]:
    """`dsl.parser.parse_statements(text, path)`: read back when this code parsed this text at
    this path before (the statements' spans name the path), else parsed and kept. A file that
    cannot be read back, whatever the reason, is parsed and written again."""
    where = cache.folder()
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
    cache.write(kept, pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
    cache.forget_stale(where, "rules-*")  # also what a process stopped while writing left
    return parsed


def parse(text: str, path: str) -> tuple[list, list]:
    """`dsl.parser.parse_statements`, imported on first use: importing it, and Lark with it,
    takes 30 ms of a command's start, which a command with a cached rule file skips."""
    from leadrules.dsl.parser import parse_statements

    return parse_statements(text, path)


@functools.cache
def _code() -> bytes:
    """A digest of what turns text into statements: the parser, its bounds, the writer that
    measures statements (`fmt`'s), the AST and diagnostic classes, the grammar, Lark's version
    (its `__init__.py`, read, not imported) and Python's. Statements kept by other code are
    never read."""
    digest = hashlib.sha256(sys.version.encode())
    here = Path(__file__).parent
    names = ("parser.py", "bounds.py", "write.py", "ast.py", "errors.py", "grammar.lark")
    sources = [here / name for name in names]
    lark = importlib.util.find_spec("lark")
    if lark is not None and lark.origin:
        sources.append(Path(lark.origin))
    for source in sources:
        digest.update(source.read_bytes())
    return digest.digest()
