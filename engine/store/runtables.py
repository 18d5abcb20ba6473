"""How a run's rows are laid out and written (schema version 8): each run table is a `_base`
table, which a full run writes in key order, and a `_recent` one, which holds every row of the
leads that incremental runs replayed since; the view of each table's name shows both, the
recent rows hiding their leads' base rows (engine/store/views.py). See docs/architecture.md,
"Two tables each, and a view"."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from leadrules.engine.store.records import executescript
from leadrules.engine.store.schema import (
    CHECKPOINT_COLUMNS,
    DETAIL_COLUMNS,
    RESULT_COLUMNS,
    RUN_TABLES,
    date_entries,
    stage_entries,
)

# The recent tables are folded into the base ones when they hold this share of a ruleset's
# leads: the incremental runs' writes grow with the recent tables (the pages they touch), and a
# fold costs what rewriting every lead's rows in place cost before (0.7 s of CPU at 100k leads
# with 12% of them recent).
FOLD_SHARE = 0.25


class RunWriter:
    """Writes the parts of one run inside `Store.saving_run`'s transaction: a full run into the
    `_base` tables, emptied for its ruleset, in key order; an incremental one into the `_recent`
    tables, where each replayed lead's rows replace the ones it had."""

    def __init__(self, conn: sqlite3.Connection, ruleset: int, run_id: int, replace: bool):
        self._conn, self._key, self.run_id = conn, ruleset, run_id
        self._replace = replace
        self.totals: dict[str, int] = {}  # `runs` columns known at the end: events, replayed...
        self.unchanged: list[str] = []  # leads looked at and left as stored (no replay)

    def add(self, results: list[tuple], details: dict[str, list[tuple]],
            checkpoints: Iterable[tuple], kept: Iterable[tuple[str, int, int]] = (),
            unchanged: Iterable[str] = ()) -> None:
        """Rows in RESULT_COLUMNS, DETAIL_COLUMNS of their table, CHECKPOINT_COLUMNS. `kept`:
        (lead_id, moves, actions) of replayed leads whose first stored stage moves and actions
        stay (those before the checkpoint a replay resumed from; 0 for a replay from the start).
        Their other stored details go first, also those that the previous run's timers at its
        as-of time added after the checkpoint: a resumed replay makes them again, or not.
        `unchanged`: leads whose stored rows hold but for the date of their entry (see
        `complete_history`)."""
        key = int(self._key)
        self.unchanged.extend(unchanged)
        if self._replace:
            self._keep(list(kept))
        # The ruleset's and the run's numbers are written into the statements (both are
        # integers this store made), so that the rows go to SQLite as they are.
        where = "_recent" if self._replace else "_base"
        for table, columns, fixed, rows in (
                ("results", RESULT_COLUMNS, (key, self.run_id), results),
                *((t, DETAIL_COLUMNS[t], (key,), details.get(t, ())) for t in DETAIL_COLUMNS),
                ("checkpoints", CHECKPOINT_COLUMNS, (key,), checkpoints)):
            names = ("ruleset", "run_id")[:len(fixed)] + columns
            values = ", ".join([*map(str, map(int, fixed)), *"?" * len(columns)])
            self._conn.executemany(
                f"{'INSERT OR REPLACE' if self._replace else 'INSERT'} INTO {table}{where} "
                f"({', '.join(names)}) VALUES ({values})", rows)

    def _keep(self, kept: list[tuple[str, int, int]]) -> None:
        """The kept stage moves and actions of replayed leads, in the recent tables: copied
        there from the base tables for a lead replayed first since the full run (before its
        result, written next, hides its base rows); its other recent details deleted. One
        statement per table over a TEMP table of `kept`, not one per lead (CROSS JOIN: SQLite
        would rather scan the base table)."""
        key = int(self._key)
        self._conn.execute("CREATE TEMP TABLE IF NOT EXISTS run_kept (lead_id TEXT PRIMARY KEY, "
                           "moves INTEGER, actions INTEGER) WITHOUT ROWID")
        self._conn.execute("DELETE FROM temp.run_kept")
        self._conn.executemany("INSERT OR REPLACE INTO temp.run_kept VALUES (?, ?, ?)", kept)
        for table, column in (("stage_moves", "moves"), ("actions", "actions")):
            self._conn.execute(
                f"INSERT INTO {table}_recent SELECT b.* FROM temp.run_kept k "
                f"CROSS JOIN {table}_base b ON b.ruleset = {key} AND b.lead_id = k.lead_id "
                f"AND b.seq <= k.{column} "
                f"WHERE NOT EXISTS (SELECT 1 FROM results_recent r WHERE r.ruleset = {key} "
                "AND r.lead_id = k.lead_id)")
            self._conn.execute(
                f"DELETE FROM {table}_recent WHERE ruleset = {key} AND lead_id IN "
                f"(SELECT lead_id FROM temp.run_kept) AND seq > (SELECT k.{column} FROM "
                f"temp.run_kept k WHERE k.lead_id = {table}_recent.lead_id)")
        self._conn.execute(f"DELETE FROM sla_recent WHERE ruleset = {key} AND lead_id IN "
                           "(SELECT lead_id FROM temp.run_kept)")


def clear(conn: sqlite3.Connection, key: int) -> None:
    """A ruleset's rows gone from both tables of each run table: a full run writes them anew."""
    for table in RUN_TABLES:
        for where in ("_recent", "_base"):
            conn.execute(f"DELETE FROM {table}{where} WHERE ruleset = ?", (key,))


def result_counts(conn: sqlite3.Connection, key: int | None, column: str) -> dict:
    """A ruleset's current results counted by `column` of `results`: the base table's counts,
    less those of the base rows that recent ones hide, plus the recent table's (without the
    view's join per row: a third of a 100k-lead incremental run's reads went to it)."""
    counts: dict = {}
    for sign, sql in (
            (1, f"SELECT {column}, count(*) FROM results_base WHERE ruleset = ?1 GROUP BY 1"),
            (-1, f"SELECT b.{column}, count(*) FROM results_recent r JOIN results_base b "
                 "ON b.ruleset = r.ruleset AND b.lead_id = r.lead_id WHERE r.ruleset = ?1 "
                 "GROUP BY 1"),
            (1, f"SELECT {column}, count(*) FROM results_recent WHERE ruleset = ?1 "
                "GROUP BY 1")):
        for value, n in conn.execute(sql, (key,)):
            counts[value] = counts.get(value, 0) + sign * n
    return {value: n for value, n in counts.items() if n}


def complete_history(conn: sqlite3.Connection, key: int, run_id: int, full: bool,
                     unchanged: Iterable[str] = ()) -> None:
    """Every lead's entry into its first stage, dated (integers this store made): the leads the
    run replayed; those whose entry is undated yet, whose first event (of a type no rule reacts
    to, so not one that makes a lead replay) may have come due by the run's as-of; and the
    `unchanged` leads, whose new events were all of such types."""
    (as_of,) = conn.execute("SELECT as_of FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    where = "_base" if full else "_recent"
    executescript(conn, stage_entries(
        f"r.ruleset = {key} AND r.run_id = {run_id}", as_of=str(int(as_of)),
        results=f"results{where}", moves=f"stage_moves{where}"))
    if full:
        return
    # the leads not replayed: entries undated yet, and the leads the run left unchanged
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS run_unchanged "
                 "(lead_id TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.execute("DELETE FROM temp.run_unchanged")
    conn.executemany("INSERT OR IGNORE INTO temp.run_unchanged VALUES (?)",
                     ((lead,) for lead in unchanged))
    # An undated entry can come due only when the as-of moves on: at the previous run's,
    # every event by then dated its lead (11k undated leads of the 100k sample, 0.05 s).
    (before,) = conn.execute(
        "SELECT p.as_of FROM runs p JOIN runs u ON u.ruleset_hash = p.ruleset_hash "
        "WHERE u.run_id = ?1 AND p.run_id < ?1 ORDER BY p.run_id DESC LIMIT 1",
        (run_id,)).fetchone() or (None,)
    passes = ["lead_id IN (SELECT lead_id FROM temp.run_unchanged)"]
    if before is None or before < as_of:
        passes.append("ts IS NULL")
    hidden = ("NOT EXISTS (SELECT 1 FROM results_recent n WHERE n.ruleset = {0}.ruleset "
              "AND n.lead_id = {0}.lead_id)")
    for moves, shown in (("stage_moves_recent", "1"),
                         ("stage_moves_base", hidden.format("stage_moves_base"))):
        for leads in passes:
            executescript(conn, date_entries(key, as_of, moves, f"{leads} AND {shown}"))


def fold(conn: sqlite3.Connection, key: int) -> None:
    """Move a ruleset's recent rows into its base tables once they hold FOLD_SHARE of its
    leads (in the run's transaction)."""
    ((recent,),) = conn.execute("SELECT count(*) FROM results_recent WHERE ruleset = ?", (key,))
    ((base,),) = conn.execute("SELECT count(*) FROM results_base WHERE ruleset = ?", (key,))
    if recent == 0 or recent < FOLD_SHARE * max(base, 1):
        return
    for table in RUN_TABLES:
        conn.execute(f"DELETE FROM {table}_base WHERE ruleset = ?1 AND lead_id IN "
                     "(SELECT lead_id FROM results_recent WHERE ruleset = ?1)", (key,))
        conn.execute(f"INSERT INTO {table}_base SELECT * FROM {table}_recent WHERE ruleset = ?",
                     (key,))
    for table in (*RUN_TABLES[1:], RUN_TABLES[0]):  # results last: it says which leads
        conn.execute(f"DELETE FROM {table}_recent WHERE ruleset = ?", (key,))
