"""A working table made by a forked process with a connection of its own, while the report's
connection makes another: `scope.prepare` reads `stage_moves` twice, so that each read has a
core of its own (as `run` forks its workers: two threads would wait on SQLite's allocator).
The process writes a scratch database file, which the report's connection attaches (as
SCHEMA) and unlinks: the file goes when the connection closes. Then the process can measure
the views that read only that table and the store's own tables (`work`), while the report's
connection measures the others; their figures come back pickled."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from typing import Callable

from leadrules.dsl.errors import LeadrulesError
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
    its own to `store`'s file (fork before a write transaction, as `run` does), then
    `work(that connection's store)`, if any. `attach` waits for the table, `result` for the
    work's; `close` removes the file whatever happened."""

    def __init__(self, store: Store, script: str, work: Callable[[Store], object] | None):
        fd, self.path = tempfile.mkstemp(prefix="leadrules-report-", suffix=".db")
        os.close(fd)
        self._done: dict[str, object] = {}  # what the process sent: "made", "result"
        self._last = "made" if work is None else "result"  # then it ends
        self._inbox, outbox = multiprocessing.Pipe(duplex=False)
        self._process = multiprocessing.get_context("fork").Process(
            target=_make, args=(store.path, self.path, script, work, outbox), daemon=True)
        try:
            self._process.start()
        except OSError:  # no process to be had (the caller makes the table)
            self.close()
            raise
        finally:
            outbox.close()  # the process's end: reading meets its end when the process ends

    def attach(self, store: Store) -> bool:
        """Wait for the table and attach its database to `store`'s connection; False if the
        process could not make it (the caller makes the table itself, and meets the error)."""
        if not self._wait("made"):
            return False
        store.scratch(_attach(self.path) + CACHE.format(SCHEMA))
        return True

    def result(self) -> object | None:
        """What `work` returned (waits for it); None without work, or if it failed."""
        return self._done["result"] if self._wait("result") else None

    def _wait(self, what: str) -> bool:
        while what not in self._done and not self._inbox.closed:
            try:
                key, value = self._inbox.recv()
            except EOFError:  # the process ended without it
                self._end()
                return False
            self._done[key] = value
            if key == self._last:
                self._end()
        return what in self._done

    def _end(self) -> None:
        self._inbox.close()
        self._process.join()

    def close(self) -> None:
        """Remove the file (a connection that attached it reads on until it closes)."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _attach(path: str) -> str:
    quoted = "'" + path.replace("'", "''") + "'"
    return f"ATTACH DATABASE {quoted} AS {SCHEMA};\n"


def _make(path: str, scratch: str, script: str, work: Callable[[Store], object] | None,
          outbox) -> None:
    """In the forked process: the table, then the work's result, each sent when done. An error
    of the project's ends the process quietly: the report's connection then does the work and
    meets the error; any other leaves its traceback on stderr."""
    try:
        with Store(path) as store:
            # a scratch file: no journal, no syncing; a crash loses nothing of the store
            store.scratch(f"{_attach(scratch)}PRAGMA {SCHEMA}.journal_mode = OFF;\n"
                          f"PRAGMA {SCHEMA}.synchronous = OFF;\n{CACHE.format(SCHEMA)}{script}")
            outbox.send(("made", None))
            if work is not None:
                outbox.send(("result", work(store)))
    except (LeadrulesError, BrokenPipeError):  # or the report went without the result
        raise SystemExit(1)
