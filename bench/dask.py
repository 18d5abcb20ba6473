"""Distributed benchmark: a local `run` against `run --engine dask`, and one skewed lead.

    python bench/dask.py [--sizes 100000] [--runs 3] [--workers 2] [--work DIR] [--skip-skew]

For each size (leads in the generated sample; cached in the work dir with its store and its
Parquet export, made once and not timed, the export timed apart), each run times, as a user
types them, each in its own process:

  local         leadrules run RULES --full --workers N            (into a copy of the store)
  dask --out    leadrules run RULES --engine dask --out DIR --workers N
  dask --db     leadrules run RULES --engine dask --db COPY --workers N

and after the runs it checks that both Dask runs gave the local run's results, stage moves,
actions and SLA outcomes lead for lead (it stops if not).

The skew check adds one lead with 200,000 events to a 2,000-lead sample, and measures the
peak RSS of each of 2 Dask worker processes (their own VmHWM) with and without it, next to a
local run's, and that the skewed lead's result equals the local run's. See docs/scale.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this file's folder comes first on sys.path, where this file would stand in
# for the `dask` package itself.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
RULES = ROOT / "rulesets" / "b2b.rules"
AS_OF = "2026-11-01"
SKEW_EVENTS = 200_000
TABLES = {"results": "lead_id", "stage_moves": "lead_id, seq", "actions": "lead_id, seq",
          "sla": "lead_id, seq"}


def leadrules(*args: object) -> tuple[float, str]:
    """Run `leadrules ARGS` in a process of its own: its wall time and its output."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "leadrules", *map(str, args)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"leadrules {' '.join(map(str, args))} failed:\n{done.stderr}")
    return seconds, done.stdout


def prepare(work: Path, leads: int) -> tuple[Path, Path, float]:
    """The sample's store and its Parquet export (made once), and the export's time."""
    store, export = work / f"s{leads}.db", work / f"s{leads}.parquet"
    if not store.exists():
        sample = work / f"s{leads}"
        leadrules("sample", "--leads", leads, "--out", sample)
        leadrules("ingest", "--db", store, "--leads", sample / "leads.csv", "--events",
                  sample / "events.csv", "-q")
    seconds, _ = leadrules("export", "--parquet", export, "--db", store)
    return store, export, seconds


def stored_rows(db: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(db)
    (key,) = conn.execute("SELECT ruleset FROM rulesets").fetchone()
    out = {}
    for table, order in TABLES.items():
        columns = [c[1] for c in conn.execute(f"PRAGMA table_info({table})")
                   if c[1] not in ("ruleset", "run_id")]
        out[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE ruleset = ? "
                                  f"ORDER BY {order}", (key,)).fetchall()
    return out


def parquet_rows(folder: Path) -> dict[str, list[tuple]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = {}
    for table in TABLES:
        data = pq.read_table(folder / table)
        columns = [c.cast(pa.int64()) if pa.types.is_timestamp(c.type) else c
                   for c in data.columns]
        out[table] = sorted(zip(*(c.to_pylist() for c in columns)))
    return out


def bench_size(work: Path, leads: int, runs: int, workers: int) -> dict:
    store, export, export_seconds = prepare(work, leads)
    times: dict[str, list[float]] = {"local": [], "dask --out": [], "dask --db": []}
    reported: dict[str, list[float]] = {"dask --out": [], "dask --db": []}
    for run in range(runs):
        local, copy = work / "local.db", work / "copy.db"
        for path in (local, copy):
            shutil.copy(store, path)
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        order = [("local", ("--db", local, "--full")),
                 ("dask --out", ("--engine", "dask", "--events", export, "--out", work / "out")),
                 ("dask --db", ("--engine", "dask", "--events", export, "--db", copy))]
        for name, args in order if run % 2 == 0 else order[::-1]:
            seconds, output = leadrules("run", RULES, "--as-of", AS_OF, "--workers", workers,
                                        *args)
            times[name].append(seconds)
            if name in reported:
                line = next(x for x in output.splitlines() if x.startswith("Dask:"))
                reported[name].append(float(line.split(" events in ")[1].split(" s")[0]))
            print(f"  {leads:,} leads, run {run + 1}: {name:<10} {seconds:6.1f} s", flush=True)
    expected = stored_rows(local)
    if parquet_rows(work / "out") != {t: sorted(rows) for t, rows in expected.items()}:
        sys.exit("dask --out differs from the local run")
    if stored_rows(copy) != expected:
        sys.exit("dask --db differs from the local run")
    counts = {table: len(rows) for table, rows in expected.items()}
    print(f"  equal lead for lead: {counts}", flush=True)
    return {"leads": leads, "export": export_seconds, "counts": counts,
            "partitions": json.loads((export / "_leadrules.json").read_text())["partitions"],
            "times": times, "reported": reported}


# The skewed lead ------------------------------------------------------------------------------

def skewed_store(work: Path) -> tuple[Path, Path]:
    """A 2,000-lead sample, and a copy of it with one more lead of SKEW_EVENTS events."""
    from leadrules.engine.events import Event, parse_timestamp
    from leadrules.engine.store.store import Store

    base, skewed = work / "skew-base.db", work / "skew.db"
    if not skewed.exists():
        sample = work / "s2000"
        leadrules("sample", "--leads", 2000, "--out", sample)
        leadrules("ingest", "--db", base, "--leads", sample / "leads.csv", "--events",
                  sample / "events.csv", "-q")
        shutil.copy(base, skewed)
        start = parse_timestamp("2025-11-02")
        kinds = ("page_visit", "email_click", "email_open", "content_request")
        with Store(skewed) as store:
            store.upsert_leads([("SKEW", {"title": "CEO", "employees": "5000",
                                          "industry": "IT", "country": "DE"})])
            store.add_events((Event(f"skew{i:06d}", "SKEW", kinds[i % 4], start + i * 150_000_000,
                                    {"topic": "pricing"} if i % 4 == 0 else {})
                              for i in range(SKEW_EVENTS)), ingested_at=start)
    return base, skewed


def skew_child(db: str, export: str, workers: int) -> None:
    """In a process of its own: a Dask run of `export` on a LocalCluster, then each worker's
    peak RSS, and the result of lead SKEW; one JSON line."""
    import resource

    from distributed import LocalCluster

    from leadrules import dsl
    from leadrules.engine.distributed.dask_run import run_on_dask
    from leadrules.engine.events import parse_timestamp
    from leadrules.engine.scoring.compiler import compile_ruleset

    ruleset = dsl.load(RULES)
    rules = compile_ruleset(ruleset)
    out = Path(export).with_suffix(".out")
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster:
        from distributed import Client

        with Client(cluster) as client:
            run_on_dask(ruleset, rules, Path(export), parse_timestamp(AS_OF),
                        scheduler=cluster.scheduler_address, out=out)
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    skew = [r for r in parquet_rows(out)["results"] if r[0] == "SKEW"]
    print(json.dumps({"peaks_mib": sorted(round(kb / 1024) for kb in peaks.values()),
                      "skew": skew}))


def local_peak(db: Path) -> tuple[float, int]:
    """A local full run with one process (--workers 1): wall seconds and peak RSS in MiB."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/env", "python3", "-c", (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
        "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"),
        sys.executable, "-m", "leadrules", "run", str(RULES), "--db", str(db), "--as-of", AS_OF,
        "--full", "--workers", "1"], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, round(int(done.stdout) / 1024)


def bench_skew(work: Path, workers: int) -> dict:
    base, skewed = skewed_store(work)
    out = {}
    for name, db in (("without", base), ("with", skewed)):
        export = work / f"{db.stem}.parquet"
        leadrules("export", "--parquet", export, "--db", db, "--partitions", 4)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--skew-child", str(db), str(export),
                               str(workers)], capture_output=True, text=True, check=True)
        child = json.loads(done.stdout.splitlines()[-1])
        seconds, peak = local_peak(db)
        out[name] = {"dask_peaks_mib": child["peaks_mib"], "dask_s": time.perf_counter() - started,
                     "local_peak_mib": peak, "local_s": seconds, "skew": child["skew"]}
        print(f"  skew {name}: {out[name]}", flush=True)
    conn = sqlite3.connect(skewed)
    local = conn.execute("SELECT lead_id, score, fit, grade, band, priority, stage, disqualified, "
                         "owner, label, sla, bant, events, next_due FROM results "
                         "WHERE lead_id = 'SKEW'").fetchall()
    if [tuple(r) for r in out["with"]["skew"]] != local:
        sys.exit(f"the skewed lead differs: dask {out['with']['skew']}, local {local}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/leadrules-bench-dask"))
    parser.add_argument("--skip-skew", action="store_true")
    parser.add_argument("--skew-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.skew_child:
        return skew_child(args.skew_child[0], args.skew_child[1], int(args.skew_child[2]))
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"Python {platform.python_version()}, {platform.system()}, work dir {args.work}")
    results = [bench_size(args.work, int(n), args.runs, args.workers)
               for n in args.sizes.split(",")]
    for r in results:
        local = statistics.median(r["times"]["local"])
        print(f"\n{r['leads']:,} leads ({r['partitions']} partitions; export {r['export']:.1f} s)")
        for name, values in r["times"].items():
            ratio = statistics.median(v / w for v, w in zip(values, r["times"]["local"]))
            inner = (f", on the cluster {statistics.median(r['reported'][name]):.1f} s"
                     if name in r["reported"] else "")
            print(f"  {name:<11} median {statistics.median(values):6.1f} s "
                  f"({', '.join(f'{v:.1f}' for v in values)}), vs local {ratio:.2f}{inner}")
        print(f"  local median {local:.1f} s")
    if not args.skip_skew:
        print("\nSkewed lead:", json.dumps(bench_skew(args.work, args.workers), indent=1))


if __name__ == "__main__":
    main()
