"""A working table made by a forked process with a connection of its own, while the report's
connection makes another: `scope.prepare` reads `stage_moves` twice, so that each read has a
core of its own (as `run` forks its workers: two threads would wait on SQLite's allocator).
The process writes a scratch database file, which the report's connection attaches (as
SCHEMA) and unlinks: the file goes when the connection closes."""

from __future__ import annotations

import multiprocessing
import os
import tempfile

from leadrules.engine.errors import StoreError
from leadrules.engine.store.store import Store

SCHEMA = "report_work"
CACHE = "PRAGMA {}.cache_size = -65536;\n"  # as large as the store's: the table stays in it


def usable(store: Store) -> bool:
    """Whether another process can help: the store is a file (not in memory) and processes
    fork (POSIX: so an open file can also be unlinked)."""
    return store.path != ":memory:" and "fork" in multiprocessing.get_all_start_methods()


def detach(store: Store) -> None:
    """Detach the scratch database of an earlier report on this connection, if any."""
    if SCHEMA in [name for _, name, _ in store.read("PRAGMA database_list")]:  # all read:
        # a cursor left open on the list would keep the database in use
        store.scratch(f"DETACH DATABASE {SCHEMA};\n")


class Beside:
    """`script`, on tables of SCHEMA, run from now on by a process forked with a connection of
    its own to `store`'s file (fork before a write transaction, as `run` does). `attach` waits
    for it; `close` removes the file whatever happened."""

    def __init__(self, store: Store, script: str):
        fd, self.path = tempfile.mkstemp(prefix="leadrules-report-", suffix=".db")
        os.close(fd)
        self._process = multiprocessing.get_context("fork").Process(
            target=_make, args=(store.path, self.path, script), daemon=True)
        self._process.start()

    def attach(self, store: Store) -> bool:
        """Wait for the table and attach its database to `store`'s connection; False if the
        process could not make it (the caller makes the table itself, and meets the error)."""
        self._process.join()
        if self._process.exitcode != 0:
            return False
        store.scratch(_attach(self.path) + CACHE.format(SCHEMA))
        return True

    def close(self) -> None:
        """Remove the file (a connection that attached it reads on until it closes)."""
        self._process.join()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _attach(path: str) -> str:
    quoted = "'" + path.replace("'", "''") + "'"
    return f"ATTACH DATABASE {quoted} AS {SCHEMA};\n"


def _make(path: str, scratch: str, script: str) -> None:
    """In the forked process: the table, or exit status 1 (any error but a StoreError also
    leaves its traceback on stderr)."""
    try:
        with Store(path) as store:
            # a scratch file: no journal, no syncing; a crash loses nothing of the store
            store.scratch(f"{_attach(scratch)}PRAGMA {SCHEMA}.journal_mode = OFF;\n"
                          f"PRAGMA {SCHEMA}.synchronous = OFF;\n{CACHE.format(SCHEMA)}{script}")
    except StoreError:
        raise SystemExit(1)
