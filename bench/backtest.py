"""Back-test benchmark: `leadrules backtest` against a full `leadrules run` of the same store.

    python bench/backtest.py [--leads 100000] [--runs 3] [--work DIR] [--db STORE --outcomes FILE]

Without --db, the sample of --leads leads (seed 1) is generated with its outcomes and ingested
into DIR/store.db once (not timed; reused when DIR already holds it). Then, in each run, each
command runs in a subprocess of its own, in this order, with rulesets/b2b.rules:

  run (full)    `leadrules run --full --as-of 2026-11-01` on a fresh copy of the store (the copy
                is not timed): every lead replayed, results and checkpoints written
  backtest      `leadrules backtest --outcomes FILE --handover SalesLead --as-of 2026-11-01
                --format json`: every lead replayed, nothing written, the figures computed
  time split    `leadrules backtest --outcome 'reached Customer within 90 days' --as-of
                2026-08-01 --format json`: every lead replayed once up to the as-of time,
                checkpointed, and resumed over the 90 days after it

Printed: each command's seconds per run, their medians, and the median of the per-run ratios
backtest / run and time split / run (the target: at most 1.2). The machine's cores are shared,
so only ratios measured in the same run mean much.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rulesets" / "b2b.rules"
AS_OF, SPLIT_AS_OF = "2026-11-01", "2026-08-01"
SPLIT = "reached Customer within 90 days"
TARGET = 1.2


def leadrules(*args: str) -> float:
    """Seconds that `leadrules ARGS` took, in a subprocess; its output is dropped."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "leadrules", *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"leadrules {' '.join(args)} failed:\n{done.stderr}")
    return seconds


def build(work: Path, leads: int) -> tuple[Path, Path]:
    """The store and outcomes file of a generated sample, made once per work directory."""
    db, outcomes = work / "store.db", work / "outcomes.csv"
    if db.exists() and outcomes.exists():
        return db, outcomes
    data = work / "data"
    leadrules("sample", "--leads", str(leads), "--outcomes", "--out", str(data))
    leadrules("ingest", "--db", str(db), "--leads", str(data / "leads.csv"),
              "--events", str(data / "events.csv"))
    shutil.move(data / "outcomes.csv", outcomes)
    shutil.rmtree(data)
    return db, outcomes


def one_run(db: Path, outcomes: Path, scratch: Path) -> dict[str, float]:
    copy = scratch / "run.db"
    shutil.copyfile(db, copy)
    try:
        times = {"run (full)": leadrules("run", str(RULES), "--db", str(copy), "--full",
                                         "--as-of", AS_OF)}
    finally:
        for path in scratch.glob("run.db*"):
            path.unlink()
    times["backtest"] = leadrules("backtest", str(RULES), "--db", str(db), "--outcomes",
                                  str(outcomes), "--handover", "SalesLead", "--as-of", AS_OF,
                                  "--format", "json")
    times["time split"] = leadrules("backtest", str(RULES), "--db", str(db), "--outcome", SPLIT,
                                    "--as-of", SPLIT_AS_OF, "--format", "json")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, help="where the generated store is kept")
    parser.add_argument("--db", type=Path, help="an existing store (with --outcomes)")
    parser.add_argument("--outcomes", type=Path, help="its outcomes file")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="leadrules-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    db, outcomes = (args.db, args.outcomes) if args.db else build(work, args.leads)
    runs = []
    for k in range(args.runs):
        runs.append(one_run(db, outcomes, work))
        print(f"run {k + 1}: " + ", ".join(f"{name} {s:.2f} s" for name, s in runs[-1].items()),
              flush=True)
    names = list(runs[0])
    print("\n" + "  ".join(f"{name:>12}" for name in ["", *names]))
    print("  ".join(f"{x:>12}" for x in ["median s", *(
        f"{statistics.median(r[n] for r in runs):.2f}" for n in names)]))
    ratios = {n: statistics.median(r[n] / r["run (full)"] for r in runs) for n in names[1:]}
    for name, ratio in ratios.items():
        verdict = "meets" if ratio <= TARGET else "misses"
        print(f"{name} / run (full): {ratio:.2f} (median of {len(runs)} per-run ratios; "
              f"{verdict} the target of at most {TARGET})")
    print(json.dumps({"runs": runs, "ratios": ratios}))


if __name__ == "__main__":
    main()
