"""Scoring benchmark: `leadrules run` against a plain read of the store and a hand-written scorer.

    python bench/evaluate.py [--sizes 10000,100000] [--runs 3] [--seed 1] [--work DIR] [--keep]

For each size (leads in the generated sample) the store is built once with engine.ingest.ingest,
what `leadrules ingest` runs (not timed). Then, in each run, every measurement runs in a
subprocess of its own, on the same rows, scored as of 2026-11-01T00:00:00Z with
rulesets/b2b.rules:

  read floor     a plain sqlite3 loop over the rows a scoring run reads, in its order, doing
                 nothing with them: the leads scan and the events scan (lead_id, ts, event_id)
  hand-written   score_leads() below: the b2b rules written out by hand as one plain Python
                 function over the same rows; its (lead_id, score, stage) are compared with
                 the engine's after every engine run
  run (full)     `leadrules run` on a fresh copy of the store with no earlier run; again with
                 `--workers 1` when `leadrules run --help` offers that option
  incremental    1% more events (new ids, existing leads, the last 3 days before the as-of
                 time) imported into the full run's store, then the same `leadrules run` again

See bench/README.md for the columns and the targets.
"""

from __future__ import annotations

import csv
import itertools
import json
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import deque
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RULES = ROOT / "rulesets" / "b2b.rules"
AS_OF = "2026-11-01T00:00:00Z"  # after the sample's last event: the whole year counts
NEW_SHARE = 0.01   # incremental: new events as a share of the events in the store
NEW_DAYS = 3       # ... with timestamps in the last NEW_DAYS days before the as-of time
LEADS_SQL = "SELECT lead_id, profile FROM leads ORDER BY lead_id"
EVENTS_SQL = "SELECT lead_id, ts, event_id, type, props FROM events ORDER BY lead_id, ts, event_id"
SHOW_MISMATCHES = 5


# The b2b rules written out by hand ----------------------------------------------------------
# rulesets/b2b.rules as one plain function: what a programmer would write for these rules alone,
# reading the rows a scoring run reads, in the same order. Its results must equal the engine's.

DAY = 86_400_000_000                       # timestamps are microseconds since the epoch, UTC
SCORE_LOW, SCORE_HIGH = 0, 150             # score between 0 and 150
QUIET_SPELL, QUIET_POINTS = 30 * DAY, -10  # when no activity for 30 days then -10
CLICK_POINTS, CLICK_TIMES, CLICK_WINDOW = 15, 3, 30 * DAY   # +15 at most 3 times per 30 days
PAGE_POINTS, PAGE_TOPICS = 10, frozenset({"product", "pricing"})
BANT_FLAGS = ("budget", "authority", "need", "timeline")
TRUE_WORDS = frozenset({"true", "yes", "1"})

STAGES = ("Name", "Interaction", "TargetCustomer", "Lead", "SalesLead", "Opportunity", "Customer")
NAME, INTERACTION, TARGET, LEAD, SALES_LEAD, OPPORTUNITY, CUSTOMER = range(len(STAGES))
DISQUALIFIED = "Disqualified"

(CONTENT, CLICK, OPEN, PAGE, WEBINAR, SHOW, UNSUB, QUALIFIED, CONTACTED, REJECTED, OPPORTUNITY_NEW,
 WON, LOST) = range(13)
# declared event type -> (kind, fixed points, activity); other types are ignored entirely
EVENT_KINDS = {
    "content_request": (CONTENT, 20, True),
    "email_click": (CLICK, 0, True),              # points below: capped
    "email_open": (OPEN, 0, False),
    "page_visit": (PAGE, 0, True),                # points below: by topic
    "webinar_signup": (WEBINAR, 25, True),
    "trade_show_visit": (SHOW, 30, True),
    "newsletter_unsubscribe": (UNSUB, -20, True),
    "sales_qualification": (QUALIFIED, 0, False),
    "sales_contacted": (CONTACTED, 0, False),
    "sales_rejected": (REJECTED, 0, False),
    "opportunity_created": (OPPORTUNITY_NEW, 0, False),
    "deal_won": (WON, 0, False),
    "deal_lost": (LOST, 0, False),
}
FIT_TITLES = {"Geschäftsführer": 30, "Marketing-Leitung": 30, "CEO": 30, "CMO": 30,
              "Fachbereichsleiter": 20, "Head of Department": 20, "Marketing-Manager": 10}
FIT_INDUSTRIES = {"Anlagenbau": 30, "IT": 20}


def _number(text):
    """A profile cell as a number (int, else a finite Decimal), or None."""
    from decimal import Decimal, InvalidOperation

    if text is None:
        return None
    text = str(text).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def fit_of(profile: dict) -> int:
    """The fit points of a profile (the `fit` lines)."""
    fit = FIT_TITLES.get(profile.get("title"), 0) + FIT_INDUSTRIES.get(profile.get("industry"), 0)
    employees = _number(profile.get("employees"))
    if employees is not None:
        if employees > 10000:
            fit += 30
        elif employees > 5000:
            fit += 20
    return fit


def is_disqualified(profile: dict) -> bool:
    """The `disqualify` lines: competitors, students, applicants."""
    email, title = profile.get("email") or "", profile.get("title") or ""
    return email.endswith("@wettbewerber.de") or "Student" in title or "Bewerber" in title


def next_stage(stage: int, kind: int | None, score: int, graded: bool, bant_all: bool) -> int:
    """The stage after one step: an event of `kind`, or a quiet-spell timer (kind None).

    The first move out of the current stage that holds, then again from the new stage; no
    stage is entered twice in one step. (Where a stage has two moves, their triggers exclude
    each other, so a move to an entered stage never hides the other one.)
    """
    entered = 1 << stage
    while True:
        if stage == NAME:
            target = INTERACTION if kind is not None and EVENT_ACTIVITY[kind] else None
        elif stage == INTERACTION:
            target = TARGET if graded else None
        elif stage == TARGET:
            target = LEAD if score >= 51 else None
        elif stage == LEAD:
            target = SALES_LEAD if score >= 76 and bant_all else None
        elif stage == SALES_LEAD:
            target = LEAD if kind == REJECTED else OPPORTUNITY if kind == OPPORTUNITY_NEW else None
        elif stage == OPPORTUNITY:
            target = CUSTOMER if kind == WON else LEAD if kind == LOST else None
        else:
            target = None
        if target is None or entered & (1 << target):
            return stage
        stage = target
        entered |= 1 << target


EVENT_ACTIVITY = [False] * 13
for _kind, _points, _activity in EVENT_KINDS.values():
    EVENT_ACTIVITY[_kind] = _activity


def score_lead(profile: dict, rows, as_of: int) -> tuple[int, str]:
    """One lead's (score, stage) from its events (rows of EVENTS_SQL in (ts, event_id) order)."""
    if is_disqualified(profile):
        return 0, DISQUALIFIED
    loads, kinds = json.loads, EVENT_KINDS
    graded = fit_of(profile) >= 30                  # grade A, B or C
    score, stage, bant_all = 0, NAME, False
    quiet_due = None                                # when the pending quiet-spell timer fires
    clicks: deque[int] = deque()                    # times of clicks that earned points
    for _, ts, _, type_, props in rows:
        if ts > as_of:
            break
        spec = kinds.get(type_)
        if spec is None:
            continue
        kind, points, activity = spec
        if quiet_due is not None and ts > quiet_due:  # the timer fires before this event
            quiet_due = None
            score = max(score + QUIET_POINTS, SCORE_LOW)
            stage = next_stage(stage, None, score, graded, bant_all)
        if kind == CLICK:
            while clicks and clicks[0] <= ts - CLICK_WINDOW:
                clicks.popleft()
            if len(clicks) < CLICK_TIMES:
                clicks.append(ts)
                points = CLICK_POINTS
        elif kind == PAGE:
            if loads(props).get("topic") in PAGE_TOPICS:
                points = PAGE_POINTS
        if points:
            score = min(max(score + points, SCORE_LOW), SCORE_HIGH)
        if kind == QUALIFIED:
            flags = loads(props)
            bant_all = all(str(flags.get(f, "")).strip().lower() in TRUE_WORDS
                           for f in BANT_FLAGS)
        elif kind == LOST or kind == REJECTED:
            bant_all = False
        if activity:
            quiet_due = ts + QUIET_SPELL
        stage = next_stage(stage, kind, score, graded, bant_all)
    if quiet_due is not None and as_of > quiet_due:
        score = max(score + QUIET_POINTS, SCORE_LOW)
        stage = next_stage(stage, None, score, graded, bant_all)
    return score, STAGES[stage]


def score_leads(conn: sqlite3.Connection, as_of: int) -> list[tuple[str, int, str]]:
    """(lead_id, score, stage) of every lead: the leads scan merged with the events scan."""
    loads = json.loads
    groups = itertools.groupby(conn.execute(EVENTS_SQL), key=itemgetter(0))
    pending = next(groups, None)
    results = []
    for lead_id, profile in conn.execute(LEADS_SQL):
        while pending is not None and pending[0] < lead_id:
            pending = next(groups, None)
        if pending is not None and pending[0] == lead_id:
            score, stage = score_lead(loads(profile), pending[1], as_of)
            pending = next(groups, None)
        else:
            score, stage = score_lead(loads(profile), (), as_of)
        results.append((lead_id, score, stage))
    return results


# Children: each measurement runs in a process of its own and prints one JSON line. ---------

# The same measuring and connecting as the ingest benchmark.
from bench.ingest import (  # noqa: E402
    _connect,
    _memory,
    arguments,
    machine,
    med,
    mib,
    sample,
    settle,
    sizes_and_work,
)


def child_floor(db: str, types: str = "") -> dict:
    """Read the leads and the events (of the comma-separated types, when given) in a scoring
    run's order, and do nothing with them."""
    conn = _connect(db)
    start = _memory()
    events_sql, params = EVENTS_SQL, ()
    if types:
        names = types.split(",")
        events_sql = EVENTS_SQL.replace(
            "ORDER BY", f"WHERE type IN ({', '.join('?' * len(names))}) ORDER BY")
        params = tuple(names)
    t0 = time.perf_counter()
    for row in conn.execute(LEADS_SQL):
        pass
    for row in conn.execute(events_sql, params):
        pass
    seconds = time.perf_counter() - t0
    hwm = _memory()["VmHWM"]
    (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    return {"rows": rows, "seconds": seconds, "rss_start": start["VmRSS"], "hwm": hwm}


def used_types() -> frozenset[str]:
    """The event types some rule of RULES reacts to: the rows `leadrules run` reads."""
    from leadrules import dsl
    from leadrules.engine.scoring.compiler import compile_ruleset

    return compile_ruleset(dsl.load(RULES)).used


def child_hand(db: str, as_of: str, out: str) -> dict:
    """score_leads, timed; then (not timed) its results written to `out` as CSV."""
    conn = _connect(db)
    moment = _micros(as_of)
    start = _memory()
    t0 = time.perf_counter()
    results = score_leads(conn, moment)
    seconds = time.perf_counter() - t0
    hwm = _memory()["VmHWM"]
    (rows,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("lead_id", "score", "stage"))
        writer.writerows(results)
    return {"rows": rows, "leads": len(results), "seconds": seconds,
            "rss_start": start["VmRSS"], "hwm": hwm}


def child_exec(*command: str) -> dict:
    """Run a command; its wall time and peak RSS (largest process among it and its waited-for
    descendants, from getrusage(RUSAGE_CHILDREN); this wrapper is not counted)."""
    import resource

    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    return {"seconds": seconds, "hwm": peak, "returncode": proc.returncode,
            "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]}


def child_ingest(db: str, leads: str, events: str) -> dict:
    """leadrules.engine.store.ingest.ingest of a leads file and/or an events file ('-' for none), as
    `leadrules ingest` does it; what it stored."""
    from leadrules.engine.store.ingest import ingest
    from leadrules.engine.store.store import Store

    with Store(db) as store:
        report = ingest(store, leads=None if leads == "-" else leads,
                        events=None if events == "-" else events)
    return {"files": [{"kind": f.kind, "rows": f.rows, "added": f.added,
                       "duplicates": f.duplicates, "rejected": f.rejected}
                      for f in report.files]}


def child_main(argv: list[str]) -> None:
    kind, *args = argv
    result = {"floor": child_floor, "hand": child_hand, "exec": child_exec,
              "ingest": child_ingest}[kind](*args)
    print(json.dumps(result))


# The parent: store, new events, runs, comparisons, medians, the table. ---------------------

def _micros(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", *args],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.exit(f"child {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def leadrules_exe() -> str:
    """The `leadrules` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("leadrules")
    found = str(beside) if beside.exists() else shutil.which("leadrules")
    if found is None:
        sys.exit("no `leadrules` command next to this Python or on PATH; "
                 "pip install -e '.[test]' first")
    return found


def leadrules(*args: str, allow=(0,)) -> dict:
    """`leadrules ARGS` in the exec wrapper (wall time, peak RSS); exits when it fails. For
    `run`, "own" is the time the run reports itself ("Run N: ... in 1.23 s"): the work, without
    the interpreter's start, the imports and compiling the rules."""
    result = run_child("exec", leadrules_exe(), *args)
    if result["returncode"] not in allow:
        sys.exit(f"`leadrules {' '.join(args)}` exited with {result['returncode']}:\n"
                 f"{result['stdout']}{result['stderr']}")
    own = re.search(r"^Run \d+:.* in ([0-9.]+) s$", result["stdout"], re.MULTILINE)
    if own:
        result["own"] = float(own.group(1))
    return result


def commands() -> dict:
    """What the installed leadrules offers: run (and --workers), leads; why not when it does not."""
    exe = leadrules_exe()
    found = {}
    for name in ("run", "leads"):
        proc = subprocess.run([exe, name, "--help"], capture_output=True, text=True)
        found[name] = proc.returncode == 0
        found[f"{name}_help"] = proc.stdout
        found[f"{name}_why"] = (proc.stderr.strip().splitlines() or ["?"])[-1]
    found["workers"] = found["run"] and "--workers" in found["run_help"]
    return found


def compile_bytecode() -> str:
    """Compile leadrules' modules to bytecode where they are installed, as `pip install` does,
    and say so. An editable install is run from its sources, and with PYTHONDONTWRITEBYTECODE
    set (as on these machines) every command would compile them anew, 75 ms of each start."""
    import compileall

    where = subprocess.run(
        [sys.executable, "-c", "from leadrules import cli, dsl, engine; print(cli.__file__); "
         "print(dsl.__path__[0]); print(engine.__path__[0])"],
        capture_output=True, text=True, check=True).stdout.split()
    installed = Path(where[0]).parent
    ok = all([compileall.compile_file(where[0], quiet=1),
              *(compileall.compile_dir(d, quiet=1) for d in where[1:])])
    if not ok:
        sys.exit(f"cannot compile leadrules' modules in {installed}")
    return f"bytecode: leadrules' modules compiled ahead, as pip install does ({installed})"


def checkpoint(db: Path) -> None:
    """Fold the WAL into the database file, so that copying the one file copies the store."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    wal = Path(f"{db}-wal")
    if wal.exists() and wal.stat().st_size:
        sys.exit(f"{wal} is not empty after a checkpoint; is another process using {db}?")


def fresh_copy(base: Path, dst: Path) -> Path:
    shutil.copyfile(base, dst)
    return dst


def ingest(db: Path, leads: str, events: str) -> None:
    """Import files into a store with engine.ingest.ingest (what `leadrules ingest` runs) in a
    child; exits when a row is rejected."""
    files = run_child("ingest", str(db), leads, events)["files"]
    if any(f["rejected"] for f in files):
        sys.exit(f"ingest into {db} rejected rows: {files}")


def build_store(meta: dict, db: Path, cached: Path) -> dict:
    """`leadrules ingest` of the sample into a new store (not timed), and what it holds. The
    store is made once per schema version and kept as `cached` (beside the sample: at a million
    leads the import takes minutes); each size's runs start from a copy of it."""
    t0 = time.perf_counter()
    if not cached.exists():
        ingest(cached, meta["leads_path"], meta["events_path"])
        checkpoint(cached)
    shutil.copyfile(cached, db)
    seconds = time.perf_counter() - t0
    conn = sqlite3.connect(db)
    (leads,) = conn.execute("SELECT count(*) FROM leads").fetchone()
    (events,) = conn.execute("SELECT count(*) FROM events").fetchone()
    conn.close()
    return {"leads": leads, "events": events, "ingest_s": seconds,
            "db_bytes": db.stat().st_size}


# What the new events of the incremental run look like: props as the sample writes them.
_TOPICS = (("product", 34), ("pricing", 22), ("blog", 20), ("docs", 10), ("case-studies", 10),
           ("careers", 4))
_ASSETS = ("whitepaper-lead-scoring", "checklist-crm-migration", "ebook-marketing-automation")


def _new_props(rng: random.Random, type_: str) -> dict[str, str]:
    if type_ == "page_visit":
        return {"topic": rng.choices([t for t, _ in _TOPICS], [w for _, w in _TOPICS])[0]}
    if type_ == "content_request":
        return {"asset": rng.choice(_ASSETS)}
    if type_ in ("email_open", "email_click", "webinar_signup"):
        return {"campaign": "newsletter"}
    if type_ == "sales_qualification":
        return {flag: "yes" if rng.random() < 0.8 else "no" for flag in BANT_FLAGS}
    if type_ in ("sales_rejected", "deal_lost"):
        return {"reason": "timing"}
    if type_ in ("opportunity_created", "deal_won"):
        return {"amount": "12000"}
    return {}


def new_events(db: Path, out: Path, as_of: str, seed: int) -> dict:
    """Write NEW_SHARE x the store's events as a CSV with the sample's columns: new event ids,
    leads drawn uniformly from the store's leads, types in the store's proportions (events up
    to the as-of time), timestamps uniform over the NEW_DAYS days before the as-of time."""
    from leadrules.engine.sample.generator import EVENT_COLUMNS

    conn = sqlite3.connect(db)
    lead_ids = [lead_id for (lead_id,) in conn.execute(LEADS_SQL.replace(", profile", ""))]
    (total,) = conn.execute("SELECT count(*) FROM events").fetchone()
    types = conn.execute("SELECT type, count(*) FROM events WHERE ts <= ? GROUP BY type "
                         "ORDER BY type", (_micros(as_of),)).fetchall()
    conn.close()
    rng = random.Random(seed)
    count = max(1, round(total * NEW_SHARE))
    end = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    span = NEW_DAYS * 86_400
    rows, leads = [], set()
    for i in range(count):
        lead_id = rng.choice(lead_ids)
        type_ = rng.choices([t for t, _ in types], [n for _, n in types])[0]
        ts = end - timedelta(seconds=rng.randint(1, span))
        props = _new_props(rng, type_)
        rows.append({"event_id": f"N{seed}-{i + 1:07d}", "lead_id": lead_id, "type": type_,
                     "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), **props})
        leads.add(lead_id)
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, EVENT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return {"events": count, "leads": len(leads), "path": str(out)}


def engine_results(db: Path, have_leads: bool) -> dict[str, tuple[int, str]]:
    """The engine's (score, stage) per lead after the latest run: `leadrules leads --format csv`,
    or, where that command is missing, the latest run's ruleset's rows of the results table."""
    if have_leads:
        command = [leadrules_exe(), "leads", "--db", str(db), "--format", "csv"]
        proc = subprocess.run(command, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"`{' '.join(command)}` exited with {proc.returncode}:\n{proc.stderr}")
        return {row["lead_id"]: (int(row["score"]) if row["score"] else None, row["stage"])
                for row in csv.DictReader(proc.stdout.splitlines())}
    conn = sqlite3.connect(db)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
    # schema 3 and later keep one current row per lead and ruleset content (schema 5 names the
    # ruleset by a number); schema 2 rows per run
    latest = "(SELECT ruleset_hash FROM runs ORDER BY run_id DESC LIMIT 1)"
    where = (f"ruleset = (SELECT ruleset FROM rulesets WHERE hash = {latest})"
             if "ruleset" in columns else f"ruleset_hash = {latest}"
             if "ruleset_hash" in columns else "run_id = (SELECT max(run_id) FROM runs)")
    rows = conn.execute(f"SELECT lead_id, score, stage FROM results WHERE {where}").fetchall()
    conn.close()
    return {lead_id: (score, stage) for lead_id, score, stage in rows}


def read_hand(path: Path) -> dict[str, tuple[int, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return {row["lead_id"]: (int(row["score"]), row["stage"]) for row in csv.DictReader(f)}


def compare(hand: dict, engine: dict) -> dict:
    """Leads whose (score, stage) differ, and leads only one side has."""
    differ = [(lead, hand[lead], engine[lead]) for lead in sorted(hand.keys() & engine.keys())
              if hand[lead] != engine[lead]]
    return {"compared": len(hand.keys() & engine.keys()), "mismatches": len(differ),
            "first": differ[:SHOW_MISMATCHES],
            "only_hand": sorted(hand.keys() - engine.keys())[:SHOW_MISMATCHES],
            "only_hand_n": len(hand.keys() - engine.keys()),
            "only_engine": sorted(engine.keys() - hand.keys())[:SHOW_MISMATCHES],
            "only_engine_n": len(engine.keys() - hand.keys())}


def one_run(base: Path, run_dir: Path, as_of: str, have: dict, hand_ref: dict) -> dict:
    """One run of every measurement for one size; engine results checked against hand_ref."""
    run_dir.mkdir(parents=True)
    result: dict = {}
    settle(base)
    result["floor"] = run_child("floor", str(base))
    settle(base)
    result["floor_used"] = run_child("floor", str(base), ",".join(sorted(used_types())))
    settle(base)
    hand_out = run_dir / "hand.csv"
    result["hand"] = run_child("hand", str(base), as_of, str(hand_out))
    if "full" not in hand_ref:
        hand_ref["full"] = read_hand(hand_out)
    if not have["run"]:
        return result
    rules = str(RULES)
    variants = [("run", ())] + ([("run1", ("--workers", "1"))] if have["workers"] else [])
    for key, extra in variants:
        db = fresh_copy(base, run_dir / f"{key}.db")
        settle(db)
        result[key] = leadrules("run", rules, "--db", str(db), "--as-of", as_of, *extra)
        result[f"check:{key}"] = compare(hand_ref["full"], engine_results(db, have["leads"]))
    # incremental: the full run's store, 1% more events, the same run again
    db = run_dir / "run.db"
    ingest(db, "-", hand_ref["new"]["path"])
    checkpoint(db)
    if "incremental" not in hand_ref:  # the hand-written scores after the new events, once
        inc_out = run_dir / "hand-incremental.csv"
        run_child("hand", str(db), as_of, str(inc_out))
        hand_ref["incremental"] = read_hand(inc_out)
    settle(db)
    result["incremental"] = leadrules("run", rules, "--db", str(db), "--as-of", as_of)
    result["check:incremental"] = compare(hand_ref["incremental"],
                                          engine_results(db, have["leads"]))
    return result


def per_run(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def print_check(name: str, checks: list[dict]) -> int:
    """One line per engine run kind: mismatches per run, and the first mismatching leads."""
    counts = [c["mismatches"] + c["only_hand_n"] + c["only_engine_n"] for c in checks]
    first = checks[0]
    print(f"  {name:<34} {first['compared']:>8,} leads compared, mismatches per run: "
          f"{', '.join(str(n) for n in counts)}")
    shown = next((c for c in checks if c["mismatches"]), None)
    if shown:
        print(f"    first {len(shown['first'])} of {shown['mismatches']:,}: "
              "lead_id  hand-written (score, stage)  engine (score, stage)")
        for lead, hand, engine in shown["first"]:
            print(f"      {lead}  {hand[0]!s:>4} {hand[1]!s:<16} {engine[0]!s:>4} {engine[1]}")
    for side in ("hand", "engine"):
        missing = next((c for c in checks if c[f"only_{side}_n"]), None)
        if missing:
            other = "engine" if side == "hand" else "hand-written function"
            print(f"    {missing[f'only_{side}_n']:,} leads missing from the {other}'s "
                  f"results, e.g. {', '.join(missing[f'only_{side}'])}")
    return max(counts)


def report(size: int, store: dict, new: dict, runs: list[dict], have: dict,
           startup: dict | None) -> dict:
    n = len(runs)
    events = store["events"]
    rate = lambda seconds: events / seconds  # noqa: E731  (events in the store per second)
    print(f"\n== {size:,} leads: {events:,} events in the store ({store['up_to_as_of']:,} up to "
          f"the as-of time), {store['leads']:,} leads, DB {store['db_bytes'] / 2**20:.0f} MiB; "
          f"medians of {n} run{'s' * (n > 1)} ==")
    floor = [r["floor"]["seconds"] for r in runs]
    hand = [r["hand"]["seconds"] for r in runs]
    floor_used = [r["floor_used"]["seconds"] for r in runs]
    rows = [("read floor (sqlite3 scan)", floor, [r["floor"]["hwm"] for r in runs]),
            ("read floor, types the rules use", floor_used,
             [r["floor_used"]["hwm"] for r in runs]),
            ("hand-written Python", hand, [r["hand"]["hwm"] for r in runs])]
    keys = [k for k in ("run", "run1") if have["run"] and k in runs[0]]
    names = {"run": "leadrules run (full)", "run1": "leadrules run --workers 1"}
    for key in keys:
        rows.append((names[key], [r[key]["seconds"] for r in runs], [r[key]["hwm"] for r in runs]))
    print(f"\n  {'measurement':<34} {'events/s':>10} {'seconds':>8} {'peak RSS MiB':>13} "
          f"{'x floor time':>13} {'events/s vs hand':>17}")
    for name, secs, hwm in rows:
        vs_floor = med(s / f for f, s in zip(floor, secs))
        vs_hand = med(h / s for h, s in zip(hand, secs))
        print(f"  {name:<34} {med(map(rate, secs)):>10,.0f} {med(secs):>8.2f} {mib(med(hwm)):>13} "
              f"{vs_floor:>13.2f} {vs_hand:>17.2f}")
    out: dict = {"events": events, "leads": store["leads"]}
    if not have["run"]:
        print(f"  {'leadrules run':<34} n/a: not available ({have['run_why']})")
        return out
    full = [r["run"]["seconds"] for r in runs]
    inc = [r["incremental"]["seconds"] for r in runs]
    inc_ratio = [i / f for i, f in zip(inc, full)]
    print(f"  {'leadrules run (incremental, +1%)':<34} {'':>10} {med(inc):>8.2f} "
          f"{mib(med(r['incremental']['hwm'] for r in runs)):>13}   {med(inc_ratio):.3f} x "
          "the full run's time (median of per-run ratios)")
    print(f"  (incremental: {new['events']:,} new events on {new['leads']:,} leads, the "
          f"{NEW_DAYS} days before the as-of time)")
    if all("own" in r[key] for r in runs for key in (*keys, "incremental")):
        print("  the runs' own times (as `leadrules run` reports them: no interpreter start, "
              "imports or rule compiling):")
        for key in keys:
            own = [r[key]["own"] for r in runs]
            print(f"    {names[key]:<32} {med(own):>6.2f} s  {med(map(rate, own)):>10,.0f} "
                  f"events/s  {med(s / f for f, s in zip(floor, own)):>5.2f} x floor time  "
                  f"{med(h / s for h, s in zip(hand, own)):>5.2f} x hand events/s")
        own_inc = [r["incremental"]["own"] / r["run"]["own"] for r in runs]
        print(f"    {'leadrules run (incremental, +1%)':<32} "
              f"{med(r['incremental']['own'] for r in runs):>6.2f} s  {med(own_inc):.3f} x the "
              "full run's own time")
        own1 = [r["run1" if "run1" in keys else "run"]["own"] for r in runs]
        out["own"] = {"hand_ratio": [h / r["run"]["own"] for h, r in zip(hand, runs)],
                      "floor_ratio": [o / f for o, f in zip(own1, floor)],
                      "floor_used_ratio": [o / f for o, f in zip(own1, floor_used)],
                      "inc_ratio": own_inc}
    if not have["workers"]:
        print("  (`leadrules run --help` shows no --workers option: no single-core row)")
    if startup is not None:
        print(f"  (`leadrules run --help` alone, the interpreter and imports: "
              f"{startup['seconds']:.2f} s, {mib(startup['hwm'])} MiB; the run rows include "
              "that, the floor and hand-written rows time only their loop)")
    out["hand_ratio"] = [h / f for h, f in zip(hand, full)]      # run events/s / hand events/s
    single = "run1" if "run1" in keys else "run"
    out["single"] = single
    out["floor_ratio"] = [r[single]["seconds"] / r["floor"]["seconds"] for r in runs]
    out["floor_used_ratio"] = [r[single]["seconds"] / r["floor_used"]["seconds"] for r in runs]
    out["inc_ratio"] = inc_ratio
    out["hwm"] = med(r["run"]["hwm"] for r in runs)
    out["hwm1"] = med(r[single]["hwm"] for r in runs)
    if n > 1:
        print(f"  per run: run/hand-written events/s {per_run(out['hand_ratio'])}; "
              f"{single} s / floor s {per_run(out['floor_ratio'])}; "
              f"incremental/full {per_run(inc_ratio)}")
    stdout = runs[0]["run"]["stdout"].strip().splitlines()
    if stdout:
        print("  leadrules run said (first run):")
        for line in stdout[:4]:
            print(f"    {line}")
    print("\n  hand-written (lead_id, score, stage) against the engine's, after each engine run "
          f"({'leadrules leads' if have['leads'] else 'results table: no `leadrules leads` yet'})")
    worst = 0
    for key in (*keys, "incremental"):
        worst = max(worst, print_check(names.get(key, "leadrules run (incremental)"),
                                       [r[f"check:{key}"] for r in runs]))
    out["mismatches"] = worst
    return out


def measure_size(size: int, meta: dict, size_dir: Path, as_of: str, args, have: dict) -> dict:
    """Build the store, write the new events, do every run, print the size's report."""
    base = size_dir / "store.db"
    from leadrules.engine.store.schema import SCHEMA_VERSION

    store = build_store(meta, base,
                        Path(meta["leads_path"]).parent / f"store-v{SCHEMA_VERSION}.db")
    conn = sqlite3.connect(base)
    (store["up_to_as_of"],) = conn.execute("SELECT count(*) FROM events WHERE ts <= ?",
                                           (_micros(as_of),)).fetchone()
    conn.close()
    new = new_events(base, size_dir / "new-events.csv", as_of, args.seed)
    checkpoint(base)
    print(f"  {size:,} leads: store built by engine.ingest.ingest (or copied from the one it "
          f"built before) in {store['ingest_s']:.0f} s (not timed), {new['events']:,} new "
          "events for the incremental run", flush=True)
    startup = leadrules("run", "--help") if have["run"] else None
    hand_ref = {"new": new}
    runs = []
    for k in range(args.runs):
        t0 = time.perf_counter()
        runs.append(one_run(base, size_dir / f"run-{k + 1}", as_of, have, hand_ref))
        print(f"  {size:,} leads, run {k + 1}/{args.runs}: {time.perf_counter() - t0:.0f} s",
              flush=True)
        if not args.keep:
            shutil.rmtree(size_dir / f"run-{k + 1}")
    return report(size, store, new, runs, have, startup)


def targets(results: dict, have: dict) -> None:
    print("\ntargets")
    if not have["run"]:
        print(f"  n/a   every target needs `leadrules run`, which is not available "
              f"({have['run_why']})")
        return

    def line(ok: bool, text: str) -> None:
        print(f"  {'PASS' if ok else 'FAIL'}  {text}")

    def own(key: str, fmt) -> str:
        """The same ratio with the runs' own times, when every size has them."""
        if not all("own" in r for r in results.values()):
            return ""
        figures = ", ".join(fmt(med(r["own"][key]), s) for s, r in results.items())
        return f"; with the runs' own times: {figures}"

    hand = {s: med(r["hand_ratio"]) for s, r in results.items()}
    line(all(x >= 1 for x in hand.values()), "leadrules run (full) events/s >= hand-written "
         f"events/s ({', '.join(f'{x:.2f} x at {s:,}' for s, x in hand.items())}"
         f"{own('hand_ratio', lambda x, s: f'{x:.2f} x at {s:,}')})")
    single = next(iter(results.values()))["single"]
    label = "--workers 1" if single == "run1" else "(no --workers option: the default run)"
    floor = {s: med(r["floor_ratio"]) for s, r in results.items()}
    line(all(x <= 2.5 for x in floor.values()), f"leadrules run {label} seconds <= 2.5 x the "
         f"read floor's ({', '.join(f'{x:.2f} x at {s:,}' for s, x in floor.items())}"
         f"{own('floor_ratio', lambda x, s: f'{x:.2f} x at {s:,}')})")
    used = {s: med(r["floor_used_ratio"]) for s, r in results.items()}
    figures = ", ".join(f"{x:.2f} x at {s:,}" for s, x in used.items())
    line(all(x <= 2.5 for x in used.values()), f"the same, against reading only the event types "
         f"the rules use, as the run does ({figures}"
         f"{own('floor_used_ratio', lambda x, s: f'{x:.2f} x at {s:,}')})")
    inc = {s: med(r["inc_ratio"]) for s, r in results.items()}
    line(all(x < 0.10 for x in inc.values()), "incremental run (+1% events) < 10% of the full "
         f"run's time ({', '.join(f'{100 * x:.1f}% at {s:,}' for s, x in inc.items())}"
         f"{own('inc_ratio', lambda x, s: f'{100 * x:.1f}% at {s:,}')})")
    sizes = sorted(results)
    small, large = results[sizes[0]], results[sizes[-1]]
    if len(sizes) > 1:
        # With --workers 1 one process does all the work, so its peak is the run's; the
        # default run may spread it over processes, of which ru_maxrss shows the largest.
        key = "hwm1" if single == "run1" else "hwm"
        grow = large[key] / small[key]
        leads = large["leads"] / small["leads"]
        events = large["events"] / small["events"]
        extra = (f"; default run, largest process: {mib(small['hwm'])} -> {mib(large['hwm'])} "
                 f"MiB = {large['hwm'] / small['hwm']:.2f} x" if single == "run1" else "")
        line(grow <= leads, f"peak RSS of leadrules run {label} grows no faster than the leads: "
             f"{mib(small[key])} MiB at {sizes[0]:,} -> {mib(large[key])} MiB at "
             f"{sizes[-1]:,} = {grow:.2f} x (leads {leads:.2f} x, events {events:.2f} x){extra}")
    else:
        print("  (the peak RSS target needs two sizes)")
    bad = {s: r["mismatches"] for s, r in results.items() if r.get("mismatches")}
    line(not bad, "hand-written and engine agree on (lead_id, score, stage)"
         + (f": mismatches at {', '.join(f'{s:,} ({n:,})' for s, n in bad.items())}"
            if bad else ""))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child_main(sys.argv[2:])
        return
    parser = arguments(__doc__, "stores")
    parser.add_argument("--as-of", default=AS_OF, help=f"scoring time (default {AS_OF})")
    args = parser.parse_args()
    sizes, work = sizes_and_work(args)
    as_of = args.as_of

    print("leadrules scoring benchmark")
    print(machine())
    print(compile_bytecode())
    have = commands()
    print(f"sizes {', '.join(f'{s:,}' for s in sizes)} leads, {args.runs} runs each, seed "
          f"{args.seed}, {RULES.relative_to(ROOT)} as of {as_of}, work dir {work}")
    print(f"leadrules run: {'yes' if have['run'] else 'NOT AVAILABLE (' + have['run_why'] + ')'}"
          f"{', --workers: ' + ('yes' if have['workers'] else 'no') if have['run'] else ''}; "
          f"leadrules leads: {'yes' if have['leads'] else 'not available, results table read'}")
    print("\nsamples (not part of any measurement)")
    metas = {size: sample(work, size, args.seed) for size in sizes}

    results = {}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for size in sizes:
        size_dir = work / f"eval-{stamp}-{size}"
        size_dir.mkdir(parents=True)
        try:
            results[size] = measure_size(size, metas[size], size_dir, as_of, args, have)
        finally:
            if not args.keep:
                shutil.rmtree(size_dir, ignore_errors=True)
    targets(results, have)


if __name__ == "__main__":
    main()
