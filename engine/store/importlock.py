"""One import at a time into a store: a lock file beside it, held while `ingest` runs.

Two imports writing one store at once would both resume the same unfinished import and count
its rows twice (two imports of one 2M-row file were once recorded as 3.86M rows). The lock is
`flock` on `STORE-import.lock`: the kernel releases it when the process ends, however it ends
(a `kill -9` included), so a crashed import never leaves the store locked. The file holds the
holder's process id and files, so the refused import can say which import is running.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

from leadrules.dsl.errors import UsageError

try:
    import fcntl
except ImportError:  # Windows: no flock; imports are not guarded there
    fcntl = None


def lock_path(store_path: str) -> Path:
    """Where the import lock of a store file lives."""
    return Path(store_path + "-import.lock")


@contextlib.contextmanager
def import_lock(store_path: str, files: list[str],
                running: Callable[[list[str]], str | None]) -> Iterator[None]:
    """Hold the store's import lock for the block; UsageError (exit 2) naming the running
    import if another process holds it. `files`: the sources (as `imports` names them) this
    import reads; `running(files)` describes the store's running import of one of those
    files (from its `imports` table), or returns None."""
    if store_path == ":memory:" or fcntl is None:
        yield
        return
    path = lock_path(store_path)
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise UsageError(f"{path}: cannot create the store's import lock: "
                         f"{e.strerror or e}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UsageError(_refusal(store_path, handle, running)) from None
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps({"pid": os.getpid(), "files": files}).encode(), 0)
        yield
    finally:
        os.close(handle)  # releases the lock


def _refusal(store_path: str, handle: int, running: Callable[[list[str]], str | None]) -> str:
    """What a second import is told: which import holds the store, and what to do."""
    try:
        holder = json.loads(os.pread(handle, 1 << 16, 0) or b"{}")
    except ValueError:
        holder = {}
    files = holder.get("files") or []
    what = running(files) or ("an import of " + ", ".join(files or ["some file"]))
    pid = f" (process {holder['pid']})" if "pid" in holder else ""
    return (f"{store_path}: another import is running into this store: {what}{pid}; "
            "wait until it finishes, then run this one again")
