"""`leadrules report all` against a full `leadrules run` of the same store (issue 15).

    python bench/report.py --db big.db [--small-db small.db] [--runs 3] [--as-of 2026-10-31]

The store must hold leads and events (`leadrules sample --count 100000 --out data/` and
`leadrules ingest --db big.db --leads data/leads.csv --events data/events.csv`; not timed).
Each run measures, in subprocesses: a full `leadrules run --full` of the bundled rules, then
`leadrules report all` of that run. The ratio report / run is the median of the per-run ratios.
With --small-db (a smaller store, e.g. 10,000 leads, ingested the same way), the script also
runs and reports on it, to compare the report's peak memory across store sizes.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

RULES = Path(__file__).resolve().parent.parent / "rulesets" / "b2b.rules"
TARGET = 0.20  # report all / full run, at most


def leadrules(*args: str) -> list[str]:
    """The command line of `leadrules ARGS` in this interpreter."""
    return [sys.executable, "-m", "leadrules", *args]


def settle(path: str) -> None:
    """Untimed: write back dirty pages and read the store into the OS page cache, so that each
    measurement starts warm (this VM reclaims cold page cache within seconds)."""
    subprocess.run(["sync"], check=False)
    for name in (path, path + "-wal"):
        if os.path.exists(name):
            with open(name, "rb") as f:
                while f.read(1 << 24):
                    pass


def measure(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of a command, in a wrapper process of its own, so that
    getrusage(RUSAGE_CHILDREN) is the command's alone (its largest process, if it forks)."""
    wrapper = ("import resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
               "print(time.perf_counter() - t, "
               "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode)\n")
    out = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True,
                         text=True, check=True).stdout.split()
    seconds, kib, code = float(out[0]), int(out[1]), int(out[2])
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(command)}")
    return seconds, kib / 1024


def facts(db: str) -> tuple[int, int, int]:
    """Leads, events and stored stage moves of a store."""
    with sqlite3.connect(db) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                     for table in ("leads", "events", "stage_moves"))


def one(db: str, as_of: str) -> dict:
    settle(db)
    run = measure(leadrules("run", str(RULES), "--db", db, "--as-of", as_of, "--full"))
    settle(db)
    report = measure(leadrules("report", "all", str(RULES), "--db", db))
    return {"run": run, "report": report, "ratio": report[0] / run[0]}


def summary(name: str, db: str, runs: list[dict]) -> dict:
    leads, events, moves = facts(db)
    med = statistics.median
    found = {"run_s": med(r["run"][0] for r in runs), "run_mib": med(r["run"][1] for r in runs),
             "report_s": med(r["report"][0] for r in runs),
             "report_mib": med(r["report"][1] for r in runs),
             "ratio": med(r["ratio"] for r in runs)}
    print(f"\n{name}: {leads:,} leads, {events:,} events, {moves:,} stage moves stored")
    print(f"  leadrules run --full   {found['run_s']:7.2f} s  peak {found['run_mib']:6.0f} MiB")
    print(f"  leadrules report all   {found['report_s']:7.2f} s  peak "
          f"{found['report_mib']:6.0f} MiB")
    each = ", ".join(f"{r['ratio']:.3f}" for r in runs)
    print(f"  report / run           {found['ratio']:7.3f}  (per run: {each})")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the large store (e.g. 100k leads)")
    parser.add_argument("--small-db", help="a smaller store, for the memory comparison")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--as-of", default="2026-10-31")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; {time.strftime('%F %T')}")
    stores = [("large", args.db)] + ([("small", args.small_db)] if args.small_db else [])
    found = {}
    for name, db in stores:
        runs = []
        for i in range(args.runs):
            runs.append(one(db, args.as_of))
            print(f"{name} run {i + 1}: run {runs[-1]['run'][0]:.2f} s, report "
                  f"{runs[-1]['report'][0]:.2f} s (load {os.getloadavg()[0]:.1f})", flush=True)
        found[name] = summary(name, db, runs)
    ratio = found["large"]["ratio"]
    print(f"\n{'PASS' if ratio <= TARGET else 'FAIL'}: report all / full run = {ratio:.3f} "
          f"(target <= {TARGET})")
    if "small" in found:
        growth = found["large"]["report_mib"] / found["small"]["report_mib"]
        print(f"memory: report all peak {found['small']['report_mib']:.0f} MiB (small) -> "
              f"{found['large']['report_mib']:.0f} MiB (large), x{growth:.2f}")


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
