"""Work over a store's leads in forked processes, each taking a range of lead ids.

`run` and `diff` replay every lead of a store; with two cores or more, lead_id ranges go to
worker processes that read their range themselves, and the results come back in lead_id order.
The work is handed to the workers by fork, because compiled rules hold closures, which do not
pickle; what a worker returns must pickle.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from typing import Callable, Iterator

from leadrules.engine.store.store import Store

# A whole-store job over at least this many leads is split over worker processes.
PARALLEL_LEADS = 5000
_CHUNKS_PER_WORKER = 8  # finer chunks keep the progress bar moving and the workers even
# At most this many leads in a chunk of `split`: the writer waits for the first chunk, and at a
# million leads 1% new events touch 188k leads: 16 chunks kept it idle for 1.1 s, chunks of
# 2,500 leads for 0.3 s (an incremental run 10.7-11.0 s -> 9.9-10.3 s)
_CHUNK_LEADS = 2500

_JOB: tuple | None = None  # (store path, work, job) for the forked workers


def default_workers() -> int:
    """One worker per core, at most 4."""
    return min(os.cpu_count() or 1, 4)


def worth_forking(store: Store, leads: int, workers: int) -> bool:
    """Whether splitting `leads` over `workers` processes pays, and the store can be shared."""
    return (workers > 1 and leads >= PARALLEL_LEADS and store.path != ":memory:"
            and "fork" in multiprocessing.get_all_start_methods())


def over_spans(store: Store, work: Callable[[Store, tuple, object], object], job: object,
               workers: int, stack: contextlib.ExitStack) -> Iterator:
    """`work(store, span, job)` for contiguous lead_id ranges (start, stop) covering every lead,
    in forked processes with a store of their own; the results in lead_id order. The processes
    are forked here, before the caller opens a write transaction, and end with `stack`."""
    return over_chunks(store, work, job, store.lead_spans(workers * _CHUNKS_PER_WORKER),
                       workers, stack)


def over_chunks(store: Store, work: Callable[[Store, object, object], object], job: object,
                chunks: list, workers: int, stack: contextlib.ExitStack) -> Iterator:
    """`work(store, chunk, job)` for each of `chunks` (each picklable, e.g. some lead ids), as
    `over_spans` does it; the results in the order of `chunks`."""
    global _JOB
    _JOB = (store.path, work, job)
    stack.callback(_forget)
    pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
    return pool.imap(_span, chunks)


def split(items: list, workers: int) -> list[list]:
    """`items` in order, cut into about equal consecutive chunks for `over_chunks`: at least
    `_CHUNKS_PER_WORKER` per worker, of at most about `_CHUNK_LEADS` items."""
    parts = min(len(items), max(workers * _CHUNKS_PER_WORKER,
                                -(-len(items) // _CHUNK_LEADS))) or 1
    return [items[len(items) * k // parts:len(items) * (k + 1) // parts] for k in range(parts)]


def _forget() -> None:
    global _JOB
    _JOB = None


def _span(chunk):
    path, work, job = _JOB
    with Store(path) as store:
        return work(store, chunk, job)
