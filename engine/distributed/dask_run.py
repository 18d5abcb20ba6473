"""`run --engine dask`: the partitions of a Parquet export replayed on a Dask cluster.

Each partition (one leads file and one events file of `export --parquet`) is one Dask task:
a worker reads its two files, sorts them, replays every lead with `replay_partition`, and
writes the partition's results as Parquet, or sends them back to be stored as one run. No
scheduler address: a `LocalCluster` of worker processes on this machine. A distributed run is
always full and saves no checkpoints (they are a store's, for its incremental runs).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import attrs

from leadrules.dsl.ast import Ruleset
from leadrules.dsl.errors import UsageError
from leadrules.engine.distributed import ClusterError
from leadrules.engine.distributed.parquet import (
    LAYOUT,
    META,
    Bucket,
    buckets,
    output_folders,
    read_bucket,
    replacing,
    write_part,
)
from leadrules.engine.distributed.partition import PartitionRows, replay_partition
from leadrules.engine.scoring.compiler import CompiledRuleset, compile_ruleset
from leadrules.engine.scoring.run import RunReport, Tally
from leadrules.engine.scoring.spans import default_workers
from leadrules.engine.store.store import Store

_CONNECT_SECONDS = 10


@attrs.frozen
class DaskReport:
    """What a distributed run did: `run` when it was stored into a store, `out` when it
    was written as Parquet."""

    partitions: int
    leads: int
    events: int
    stages: dict[str, int]
    workers: int
    scheduler: str
    seconds: float  # on the cluster: reading, replaying, writing
    startup: float  # starting the local cluster, or connecting to the scheduler
    run: RunReport | None = None
    out: Path | None = None


@attrs.frozen
class _Summary:
    """What a task that wrote its partition itself sends back."""

    leads: int
    events: int
    stages: Counter


def run_on_dask(ruleset: Ruleset, rules: CompiledRuleset, source: Path, as_of: int, *,
                scheduler: str | None = None, workers: int | None = None,
                out: Path | None = None,
                store: Store | None = None,
                on_plan: Callable[[int | None], None] | None = None,
                progress: Callable[[int], None] | None = None) -> DaskReport:
    """Replay every lead of the Parquet export `source` on Dask as of `as_of`, and write the
    results into `out` (Parquet) or `store` (one full run, no checkpoints). `ruleset` is
    sent to the workers, which compile it once each; `rules` is its compiled form here.
    The paths must mean the same on the workers (a shared file system) as here. Without
    `scheduler`, a LocalCluster of `workers` processes (default: one per core, at most 4).

    `on_plan(leads)` is told the export's number of leads (None if it does not say) before
    the work starts; `progress(n)` as each partition's n leads are done.
    """
    if (out is None) == (store is None):
        raise UsageError("give one of --out DIR and --db FILE for the results")
    parts, meta = buckets(Path(source))
    if on_plan:
        on_plan(meta.get("leads"))
    connecting = time.perf_counter()
    with _client(scheduler, workers or default_workers()) as client:
        started = time.perf_counter()
        shared = client.scatter(ruleset, broadcast=True)
        address = client.scheduler.address
        ready = len(client.scheduler_info()["workers"])
        if out is not None:
            with replacing(out) as folder:
                output_folders(folder)
                futures = client.map(_replay_bucket, parts, ruleset=shared, as_of=as_of,
                                     out=str(folder.resolve()), pure=False)
                totals = _gather(_finished(futures, parts), progress)
                (folder / META).write_text(json.dumps({
                    "layout": LAYOUT, "kind": "results", "ruleset": rules.name,
                    "ruleset_hash": rules.hash, "as_of": as_of, "leads": totals.leads,
                    "events": totals.events}, indent=2) + "\n")
            run = None
        else:
            futures = client.map(_replay_bucket, parts, ruleset=shared, as_of=as_of, out=None,
                                 pure=False)
            run, totals = _store_run(store, rules, as_of, meta, _finished(futures, parts),
                                     progress, started)
        seconds = time.perf_counter() - started
    return DaskReport(len(parts), totals.leads, totals.events, dict(totals.stages), ready,
                      address, seconds, started - connecting, run, out)


def _finished(futures: list, parts: list[Bucket]) -> Iterator:
    """The tasks' results in the order they finish, each let go of on the cluster once here;
    ClusterError naming the partition if a task's workers kept dying (out of memory, say)."""
    from distributed import KilledWorker, as_completed

    names = {future.key: part.name for future, part in zip(futures, parts)}
    try:
        for future in as_completed(futures):
            try:
                result = future.result()
            except KilledWorker:
                raise ClusterError(
                    f"the Dask workers replaying partition {names[future.key]} died, each time "
                    "it was tried (out of memory?); export with more --partitions, or give the "
                    "workers more memory") from None
            future.release()
            yield result
    except BaseException:
        for future in futures:  # the run failed: the other partitions are not wanted
            future.cancel()
        raise


def _gather(results: Iterator[_Summary], progress: Callable[[int], None] | None) -> _Summary:
    """The tasks' summaries added up, as they finish."""
    leads = events = 0
    stages: Counter = Counter()
    for part in results:
        leads, events = leads + part.leads, events + part.events
        stages.update(part.stages)
        if progress:
            progress(part.leads)
    return _Summary(leads, events, stages)


def _store_run(store: Store, rules: CompiledRuleset, as_of: int, meta: dict,
               results: Iterator[PartitionRows], progress: Callable[[int], None] | None,
               started: float) -> tuple[RunReport, _Summary]:
    """The partitions' rows written into the store as they come, as one full run."""
    previous = store.last_run(rules.hash)
    tally = Tally(store.current_results(rules.hash) if previous is not None else {})
    stages: Counter = Counter()
    with store.saving_run(
            {"ruleset_name": rules.name, "ruleset_path": rules.path, "ruleset_hash": rules.hash,
             "as_of": as_of, "data_version": _data_version(store, meta), "mode": "full"},
            full=True) as writer:
        for part in results:
            writer.add(part.results, part.details, ())
            tally.add(part)
            stages.update(part.stages)
            if progress:
                progress(len(part.results))
        writer.totals.update(events=tally.events, replayed=tally.replayed,
                             changed=tally.changed["any"])
    leads = store.last_run(rules.hash)["leads"]
    run = RunReport(writer.run_id, "full", as_of, leads, tally.replayed, 0, tally.events,
                    previous["run_id"] if previous else None, tally.new, tally.changed,
                    time.perf_counter() - started)
    return run, _Summary(tally.replayed, tally.events, stages)


def _data_version(store: Store, meta: dict) -> int:
    """The store data version the results are of: the export's, when it was made from this
    store (a later write there makes its leads replay in the next incremental run), else 0,
    so that the next incremental run replays every lead."""
    same = meta.get("store") == str(Path(store.path).resolve())
    return int(meta.get("data_version", 0)) if same else 0


# In the workers -----------------------------------------------------------------------------

_COMPILED: dict[str, CompiledRuleset] = {}  # per worker process: ruleset text -> compiled


def _replay_bucket(bucket: Bucket, *, ruleset: Ruleset, as_of: int, out: str | None
                   ) -> PartitionRows | _Summary:
    """One task: a partition read, sorted and replayed; written to `out`, or sent back."""
    rules = _COMPILED.get(ruleset.source)
    if rules is None:
        _COMPILED.clear()  # one ruleset at a time is what runs
        rules = _COMPILED[ruleset.source] = compile_ruleset(ruleset)
    # Every type, not just the ones rules react to: a lead's first event of any type is when
    # it entered its first stage (the stored history a local run completes in SQL).
    leads, events = read_bucket(bucket)
    rows = replay_partition(rules, leads, events, as_of, ordered=True)
    if out is None:
        return rows
    write_part(Path(out), bucket.name, rows)
    return _Summary(len(rows.results), rows.events, rows.stages)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int) -> Iterator:
    """A Dask client of the scheduler at `scheduler`, or of a new LocalCluster of `workers`
    single-threaded processes (the replay is Python: threads would share one core)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise UsageError("--engine dask needs Dask: pip install 'leadrules[dask]'") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=_CONNECT_SECONDS)
        except (OSError, TimeoutError) as error:
            raise UsageError(f"--scheduler: cannot reach a Dask scheduler at {scheduler}: "
                             f"{error}") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.wait_for_workers(workers)
        yield client
