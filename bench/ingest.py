"""Ingest benchmark: leadrules against plain sqlite3, and the events table's layout.

    python bench/ingest.py [--sizes 10000,100000] [--runs 3] [--seed 1] [--work DIR] [--keep]
                          [--targets-only]

For each size (leads in the generated sample) and each run, every measurement runs in its own
subprocess on a fresh database, so each one's peak RSS (VmHWM) is its own:

  leadrules   engine.ingest.ingest(Store(db), leads=...), then (timed apart) events=..., then
              10% more events (new ids) appended to that full store
  plain       the baseline's rows into a rowid table with no key and no index (issue 18's
              "raw SQLite load"), INSERT ... executemany
  baseline    the same event rows with plain sqlite3: csv.reader, parse_timestamp, props as
              JSON, INSERT OR IGNORE ... executemany in transactions of 5000 rows, into the
              schema, indexes and pragmas Store creates; the floor for this schema in Python
  rowid       the baseline's insert into a rowid events table, index (lead_id, ts), unique
              index on event_id
  ts-text     the baseline's insert into Store's layout with ts as canonical ISO text
  read        one ordered scan (lead_id, ts, event_id) of each layout, folded in Python
              (events and len(props) per lead); ts-text parses each ts back to an integer
  evaluator   Store.iter_lead_rows over the leadrules database (row tuples, profiles parsed)

See bench/README.md for the columns and the targets.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from operator import itemgetter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BATCH_ROWS = 5000  # what engine.ingest commits per transaction (engine.ingest.BATCH_ROWS)
INGESTED_AT = 1_790_000_000_000_000
READ_SQL = "SELECT lead_id, ts, event_id, type, props FROM events ORDER BY lead_id, ts, event_id"
INSERT_SQL = ("INSERT OR IGNORE INTO events (lead_id, ts, event_id, type, props, ingested_at) "
              "VALUES (?, ?, ?, ?, ?, ?)")
LAYOUTS = ("keyed", "rowid", "ts-text")
LAYOUT_NAMES = {
    "keyed": "(1) WITHOUT ROWID, key (lead_id, ts, event_id)",
    "rowid": "(2) rowid table, index (lead_id, ts)",
    "ts-text": "(3) as (1), ts as ISO text, parsed on read",
}


# Children: each measurement runs in a process of its own and prints one JSON line. ---------

def _memory() -> dict[str, int]:
    """VmRSS and VmHWM (peak) of this process in KiB."""
    found = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line.split(":")[0]] = int(line.split()[1])
    except OSError:
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        found = {"VmRSS": peak, "VmHWM": peak}
    return found


def _connect(db: str) -> sqlite3.Connection:
    """A plain sqlite3 connection with the pragmas Store._open sets."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=5000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _events_ddl(layout: str) -> list[str]:
    """Statements that turn Store's events table into `layout` (none for Store's own)."""
    from leadrules.engine.store.schema import _SCHEMA_1

    if layout == "keyed":
        return []
    if layout == "plain":  # a rowid table, no key, no index: what a raw bulk load writes
        return ["DROP TABLE events;", "CREATE TABLE events (lead_id TEXT, ts INTEGER, "
                "event_id TEXT, type TEXT, props TEXT, ingested_at INTEGER);"]
    table = re.search(r"CREATE TABLE IF NOT EXISTS events \(.*?\) WITHOUT ROWID;", _SCHEMA_1,
                      re.S).group(0)
    index = re.search(r"CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events\(event_id\);",
                      _SCHEMA_1).group(0)
    if layout == "ts-text":
        table, n = re.subn(r"\bts(\s+)INTEGER\b", r"ts\1TEXT", table)
        assert n == 1, "events.ts column not found in _SCHEMA_1"
        extra = []
    else:  # rowid
        table, n = re.subn(r",\s*PRIMARY KEY \(lead_id, ts, event_id\)\s*\) WITHOUT ROWID;",
                           "\n);", table)
        assert n == 1, "events primary key not found in _SCHEMA_1"
        extra = ["CREATE INDEX events_lead_ts ON events(lead_id, ts);"]
    return ["DROP TABLE events;", table, index, *extra]


def child_leadrules(db: str, leads: str, events: str, extra: str) -> dict:
    """leadrules' import: the leads file, the events file into the fresh store, then `extra`
    (10% more events, new ids) appended to the full store; wall and process time of each."""
    from leadrules.engine.store.ingest import ingest
    from leadrules.engine.store.store import Store

    start = _memory()
    with Store(db) as store:
        t0 = time.perf_counter()
        lead_report = ingest(store, leads=leads).files[0]
        t1, p1 = time.perf_counter(), time.process_time()
        report = ingest(store, events=events).files[0]
        t2, p2 = time.perf_counter(), time.process_time()
        hwm = _memory()["VmHWM"]
        db_bytes = os.path.getsize(db)
        more = ingest(store, events=extra).files[0]
        t3, p3 = time.perf_counter(), time.process_time()
    return {"leads_rows": lead_report.rows, "leads_s": t1 - t0, "rows": report.rows,
            "seconds": t2 - t1, "cpu": p2 - p1, "added": report.added,
            "duplicates": report.duplicates, "new_leads": report.new_leads,
            "rejected": report.rejected, "rss_start": start["VmRSS"], "hwm": hwm,
            "db_bytes": db_bytes, "append_rows": more.rows, "append_added": more.added,
            "append_s": t3 - t2, "append_cpu": p3 - p2}


def child_insert(db: str, events: str, layout: str) -> dict:
    """The plain-sqlite3 floor: the rows leadrules would store, by executemany."""
    from leadrules.engine.events import format_timestamp, parse_timestamp
    from leadrules.engine.store.ingest import content_id
    from leadrules.engine.store.store import Store

    Store(db).close()  # Store's schema, indexes and journal mode
    conn = _connect(db)
    conn.execute("BEGIN IMMEDIATE")
    for statement in _events_ddl(layout):
        conn.execute(statement)
    conn.execute("COMMIT")
    as_text = layout == "ts-text"
    encode = json.JSONEncoder(sort_keys=True, ensure_ascii=False).encode
    start = _memory()
    t0, p0 = time.perf_counter(), time.process_time()
    rows = 0
    insert_sql = INSERT_SQL.replace("OR IGNORE ", "") if layout == "plain" else INSERT_SQL
    with open(events, encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader)]
        i_id, i_lead, i_type, i_ts = (header.index(c) for c in ("event_id", "lead_id", "type",
                                                                 "ts"))
        props_at = [(i, name) for i, name in enumerate(header)
                    if name not in ("event_id", "lead_id", "type", "ts")]
        batch = []
        for cells in reader:
            rows += 1
            ts = parse_timestamp(cells[i_ts])
            props = {name: v for i, name in props_at if (v := cells[i].strip())}
            lead_id, type_ = cells[i_lead].strip(), cells[i_type].strip()
            event_id = cells[i_id].strip() or content_id(lead_id, type_, ts, props)
            batch.append((lead_id, format_timestamp(ts) if as_text else ts, event_id, type_,
                          encode(props), INGESTED_AT))
            if len(batch) >= BATCH_ROWS:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(insert_sql, batch)
                conn.execute("COMMIT")
                batch = []
        if batch:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(insert_sql, batch)
            conn.execute("COMMIT")
    seconds, cpu = time.perf_counter() - t0, time.process_time() - p0
    (stored,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    return {"rows": rows, "seconds": seconds, "cpu": cpu, "stored": stored,
            "rss_start": start["VmRSS"],
            "hwm": _memory()["VmHWM"], "db_bytes": os.path.getsize(db)}


def child_read(db: str, layout: str) -> dict:
    """One ordered scan of all events, grouped by lead: events and props length per lead."""
    from leadrules.engine.events import parse_timestamp

    conn = _connect(db)
    plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + READ_SQL)]
    parse = layout == "ts-text"
    t0 = time.perf_counter()
    leads = events = size = 0
    last = None
    for _, group in itertools.groupby(conn.execute(READ_SQL), key=itemgetter(0)):
        n = s = 0
        for _, ts, _, _, props in group:
            if parse:
                ts = parse_timestamp(ts)
            n += 1
            s += len(props)
            last = ts
        leads += 1
        events += n
        size += s
    seconds = time.perf_counter() - t0
    conn.close()
    assert last is None or isinstance(last, int)
    return {"rows": events, "leads": leads, "props_chars": size, "seconds": seconds,
            "plan": plan, "hwm": _memory()["VmHWM"]}


def child_evaluator(db: str) -> dict:
    """The evaluator's scan as it is: Store.iter_lead_rows, every event type, leads merged."""
    from leadrules.engine.store.store import Store

    with Store(db) as store:
        t0 = time.perf_counter()
        leads = events = 0
        for _, _, lead_events in store.iter_lead_rows():
            leads += 1
            events += len(lead_events)
        seconds = time.perf_counter() - t0
    return {"rows": events, "leads": leads, "seconds": seconds, "hwm": _memory()["VmHWM"]}


def child_main(argv: list[str]) -> None:
    kind, *args = argv
    result = {"leadrules": child_leadrules, "insert": child_insert, "read": child_read,
              "evaluator": child_evaluator}[kind](*args)
    print(json.dumps(result))


# The parent: samples, runs, medians, the table. ------------------------------------------

def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"child {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sample(work: Path, leads: int, seed: int) -> dict:
    """The generated files for (leads, seed), made once and kept in the work directory."""
    from leadrules.engine.sample.generator import write_sample

    out = work / f"sample-{leads}-seed{seed}"
    meta_path = out / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        print(f"  sample {leads} leads: cached in {out} (generated in {meta['gen_s']:.1f} s)")
        return meta
    t0 = time.perf_counter()
    files = write_sample(out, leads, seed)
    meta = {"leads": files.leads, "events": files.events, "gen_s": time.perf_counter() - t0,
            "leads_path": str(files.leads_path), "events_path": str(files.events_path),
            "events_bytes": files.events_path.stat().st_size}
    meta_path.write_text(json.dumps(meta))
    print(f"  sample {leads} leads: generated in {meta['gen_s']:.1f} s -> {out}")
    return meta


def settle(*paths: str) -> None:
    """Untimed, before each measurement: flush earlier writes, and read the files it reads
    into the OS page cache, so each one starts alike (a VM may drop cached pages meanwhile)."""
    os.sync()
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.read(1 << 20):
                pass


def extra_events(meta: dict) -> str:
    """10% more events for the append: the first tenth of the events file's rows with new ids
    (`N` before each), made once beside the sample."""
    path = Path(meta["events_path"]).with_name("events-append-10pct.csv")
    if not path.exists():
        with open(meta["events_path"], encoding="utf-8", newline="") as f, \
                open(path, "w", encoding="utf-8", newline="") as out:
            out.write(next(f))
            for line in itertools.islice(f, meta["events"] // 10):
                out.write("N" + line)
    return str(path)


def one_run(meta: dict, run_dir: Path, targets_only: bool = False) -> dict:
    run_dir.mkdir(parents=True)
    dbs = {layout: str(run_dir / f"{layout}.db") for layout in (*LAYOUTS, "plain")}
    lr_db = str(run_dir / "leadrules.db")
    extra = extra_events(meta)
    settle(meta["leads_path"], meta["events_path"], extra)
    result = {"leadrules": run_child("leadrules", lr_db, meta["leads_path"], meta["events_path"],
                                     extra)}
    layouts = ("keyed", "plain") if targets_only else (*LAYOUTS, "plain")
    for layout in layouts:
        settle(meta["events_path"])
        result[f"insert:{layout}"] = run_child("insert", dbs[layout], meta["events_path"], layout)
    lr = result["leadrules"]
    if not targets_only:
        for layout in LAYOUTS:
            settle(dbs[layout])
            result[f"read:{layout}"] = run_child("read", dbs[layout], layout)
        settle(lr_db)
        result["evaluator"] = run_child("evaluator", lr_db)
    stored = {result[f"insert:{layout}"]["stored"] for layout in layouts if layout != "plain"}
    if stored != {lr["added"]} or any(result[f"read:{x}"]["rows"] != lr["added"]
                                      for x in LAYOUTS if f"read:{x}" in result):
        sys.exit(f"row counts differ: leadrules added {lr['added']}, baseline stored {stored}")
    if not 0.99 * lr["append_rows"] <= lr["append_added"] <= lr["append_rows"]:
        sys.exit(f"the append added {lr['append_added']} of {lr['append_rows']} new events")
    return result


def machine() -> str:
    from importlib.metadata import version

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"Python {platform.python_version()} ({platform.python_implementation()}), "
            f"SQLite {sqlite3.sqlite_version}, sqlite-utils {version('sqlite-utils')}\n"
            f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu})")


def med(values) -> float:
    return statistics.median(list(values))


def rate(r: dict) -> float:
    return r["rows"] / r["seconds"]


def mib(kib: float) -> str:
    return f"{kib / 1024:.0f}"


def report(size: int, meta: dict, runs: list[dict]) -> dict:
    n = len(runs)
    lr = [r["leadrules"] for r in runs]
    base = [r["insert:keyed"] for r in runs]
    ratios = [rate(a) / rate(b) for a, b in zip(lr, base)]
    print(f"\n== {size:,} leads: {meta['events']:,} event rows, events.csv "
          f"{meta['events_bytes'] / 2**20:.1f} MiB; medians of {n} run{'s' * (n > 1)} ==")
    print(f"  stored {lr[0]['added']:,} events ({lr[0]['duplicates']:,} repeated ids skipped), "
          f"{lr[0]['leads_rows']:,} lead rows, {lr[0]['new_leads']:,} leads created from events")
    print("\n  ingest (events file)            events/s  seconds  peak RSS MiB  +work  "
          "DB MiB  vs baseline")
    rows = (("leadrules ingest()", lr, ratios),
            ("baseline sqlite3 executemany", base, None))
    for name, rs, rat in rows:
        ratio = f"{med(rat):.2f} x" if rat else "1"
        print(f"  {name:<30} {med(map(rate, rs)):>9,.0f} {med(r['seconds'] for r in rs):>8.2f} "
              f"{mib(med(r['hwm'] for r in rs)):>13} "
              f"{mib(med(r['hwm'] - r['rss_start'] for r in rs)):>6} "
              f"{med(r['db_bytes'] for r in rs) / 2**20:>7.0f}  {ratio:>11}")
    if n > 1:
        print(f"  leadrules/baseline per run: {', '.join(f'{x:.2f}' for x in ratios)}")
    leads_rate = med(r["leads_rows"] / r["leads_s"] for r in lr)
    print(f"  leads file (leadrules, timed apart): {leads_rate:,.0f} rows/s, "
          f"{med(r['leads_s'] for r in lr):.2f} s")

    out = {"ratio": med(ratios), "hwm": med(r["hwm"] for r in lr),
           "base_hwm": med(r["hwm"] for r in base), **speed(runs)}
    if "read:keyed" not in runs[0]:
        return out
    print(f"\n  {'layout of events (unique index on event_id in each)':<52} insert rows/s  vs (1)"
          f"  read rows/s  vs (1)  DB MiB")
    keyed_read = [rate(r["read:keyed"]) for r in runs]
    keyed_ins = [rate(r["insert:keyed"]) for r in runs]
    for layout in LAYOUTS:
        ins = [rate(r[f"insert:{layout}"]) for r in runs]
        rd = [rate(r[f"read:{layout}"]) for r in runs]
        ins_ratio = med(a / b for a, b in zip(ins, keyed_ins))
        rd_ratio = med(a / b for a, b in zip(rd, keyed_read))
        db = med(r[f"insert:{layout}"]["db_bytes"] for r in runs) / 2**20
        print(f"  {LAYOUT_NAMES[layout]:<52} {med(ins):>13,.0f} {ins_ratio:>6.2f}x "
              f"{med(rd):>12,.0f} {rd_ratio:>6.2f}x {db:>7.0f}")
        out[layout] = {"read_ratio": rd_ratio, "insert_ratio": ins_ratio}
    ev = [rate(r["evaluator"]) for r in runs]
    print(f"  {'evaluator scan: Store.iter_lead_rows on (1)':<52} {'':>13} {'':>7} "
          f"{med(ev):>12,.0f} {med(a / b for a, b in zip(ev, keyed_read)):>6.2f}x")
    if n > 1:
        per_run = [(rate(r["read:keyed"]) / rate(r["read:rowid"]),
                    rate(r["read:keyed"]) / rate(r["read:ts-text"])) for r in runs]
        print(f"  read (1)/(2), (1)/(3) per run: "
              f"{'  '.join(f'{a:.2f}/{b:.2f}' for a, b in per_run)}")
    print(f"  (1)/(2) read: {1 / out['rowid']['read_ratio']:.2f}x faster from (1); "
          f"(2)/(1) insert: {out['rowid']['insert_ratio']:.2f}x; "
          f"integer ts reads {1 / out['ts-text']['read_ratio']:.2f}x faster than parsed text")
    for layout in LAYOUTS:
        print(f"  plan {layout}: {'; '.join(runs[0][f'read:{layout}']['plan'])}")
    return out


def speed(runs: list[dict]) -> dict:
    """Issue 18's figures: leadrules' import rate by process time (fresh store, and 10% more
    appended to it) beside a plain sqlite3 executemany into a rowid table, in the same runs."""
    lr = [r["leadrules"] for r in runs]
    plain = [r["insert:plain"] for r in runs]
    fresh = [r["rows"] / r["cpu"] for r in lr]
    append = [r["append_rows"] / r["append_cpu"] for r in lr]
    raw = [r["rows"] / r["cpu"] for r in plain]
    vs_raw = [a / b for a, b in zip(fresh, raw)]
    print("\n  rows/s by process time (wall)          fresh store          append 10%"
          "   vs plain rowid load")
    print(f"  {'leadrules ingest()':<38} {med(fresh):>8,.0f} ({med(rate(r) for r in lr):>7,.0f})"
          f"  {med(append):>8,.0f} ({med(r['append_rows'] / r['append_s'] for r in lr):>7,.0f})"
          f"   {med(vs_raw):.2f} x")
    print(f"  {'plain sqlite3 executemany, rowid table':<38} {med(raw):>8,.0f} "
          f"({med(rate(r) for r in plain):>7,.0f})")
    if len(runs) > 1:
        print(f"  per run, fresh / append / vs plain: "
              f"{'; '.join(f'{a:,.0f} / {b:,.0f} / {c:.2f}' for a, b, c in zip(fresh, append, vs_raw))}")
    return {"fresh": med(fresh), "append": med(append), "raw": med(raw), "vs_raw": med(vs_raw),
            "fresh_wall": med(rate(r) for r in lr), "rows": lr[0]["rows"],
            "append_rows": lr[0]["append_rows"]}


def arguments(doc: str, made: str) -> argparse.ArgumentParser:
    """The options both benchmark scripts take; `made`: what each run makes in --work."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000",
                        help="leads per generated sample, comma-separated (default 10000,100000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (default 3)")
    parser.add_argument("--seed", type=int, default=1, help="sample seed (default 1)")
    parser.add_argument("--work", type=Path,
                        default=Path(tempfile.gettempdir()) / "leadrules-bench",
                        help=f"samples are cached here, {made} made here (default "
                             "$TMPDIR/leadrules-bench)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {made} of every run")
    return parser


def sizes_and_work(args: argparse.Namespace) -> tuple[list[int], Path]:
    """The sizes asked for, and the work directory, made if missing."""
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    return [int(s.replace("_", "")) for s in args.sizes.split(",")], work


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2:])
        return
    parser = arguments(__doc__, "databases")
    parser.add_argument("--targets-only", action="store_true",
                        help="measure only leadrules and the two plain loads the targets "
                             "compare (no layouts, no reads)")
    args = parser.parse_args()
    sizes, work = sizes_and_work(args)

    print("leadrules ingest benchmark")
    print(machine())
    print(f"sizes {', '.join(f'{s:,}' for s in sizes)} leads, {args.runs} runs each, seed "
          f"{args.seed}, batches of {BATCH_ROWS} rows, work dir {work}")
    print("\nsamples (not part of any measurement)")
    metas = {size: sample(work, size, args.seed) for size in sizes}

    results = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for size in sizes:
        runs = []
        for k in range(args.runs):
            run_dir = work / f"run-{stamp}-{size}-{k + 1}"
            t0 = time.perf_counter()
            runs.append(one_run(metas[size], run_dir, args.targets_only))
            print(f"  {size:,} leads, run {k + 1}/{args.runs}: {time.perf_counter() - t0:.0f} s",
                  flush=True)
            if not args.keep:
                shutil.rmtree(run_dir)
        results[size] = report(size, metas[size], runs)

    print("\ntargets (issue 18: rows/s of process time, medians of per-run rates)")
    print(f"  load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for size, r in results.items():
        print(f"  {'PASS' if r['fresh'] >= 100_000 else 'FAIL'}  {size:,} leads: import "
              f"{r['rows']:,} rows into a fresh store >= 100,000 rows/s: {r['fresh']:,.0f} "
              f"(plain sqlite3 executemany into a rowid table: {r['raw']:,.0f}; "
              f"{r['vs_raw']:.2f} x)")
        print(f"  {'PASS' if r['append'] >= 50_000 else 'FAIL'}  {size:,} leads: append "
              f"{r['append_rows']:,} rows (10%) to the full store >= 50,000 rows/s: "
              f"{r['append']:,.0f}")
    print("targets (issue 4)")
    ok_rate = all(r["ratio"] >= 0.5 for r in results.values())
    detail = ", ".join(f"{r['ratio']:.2f} x at {s:,}" for s, r in results.items())
    print(f"  {'PASS' if ok_rate else 'FAIL'}  leadrules ingest >= 0.5 x baseline events/s "
          f"({detail})")
    small, large = min(sizes), max(sizes)
    if small != large:
        grow = results[large]["hwm"] / results[small]["hwm"]
        base_grow = results[large]["base_hwm"] / results[small]["base_hwm"]
        print(f"  {'PASS' if grow <= 1.5 else 'FAIL'}  peak RSS at {large:,} leads <= 1.5 x at "
              f"{small:,}: {mib(results[large]['hwm'])} MiB vs {mib(results[small]['hwm'])} MiB "
              f"= {grow:.2f} x (baseline: {base_grow:.2f} x)")
    else:
        print("  (peak RSS target needs two sizes)")


if __name__ == "__main__":
    main()
