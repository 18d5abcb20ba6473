"""SQL views a person or Datasette reads directly: times as ISO text, the latest results of each
ruleset by name, and per ruleset its profile fields and event properties as columns."""

from __future__ import annotations

import re
import sqlite3

# The columns of `results` a view shows as they are (schema.RESULT_COLUMNS but next_due); this
# module does not import the schema, which makes the views after every migration.
RESULT_COLUMNS = ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified",
                  "owner", "label", "sla", "bant", "events")


def iso(column: str) -> str:
    """SQL for a stored timestamp (microseconds since the epoch, UTC) as engine.events'
    format_timestamp writes it: 2026-03-01T09:30:00Z, with a fraction only when it has one."""
    rest = f"(({column} % 1000000) + 1000000) % 1000000"  # floored, as divmod is
    return (f"strftime('%Y-%m-%dT%H:%M:%S', ({column} - {rest}) / 1000000, 'unixepoch') || "
            f"CASE WHEN {rest} = 0 THEN '' ELSE '.' || rtrim(printf('%06d', {rest}), '0') END "
            "|| 'Z'")


# The version of each ruleset, by name, that ran last: the one whose results are current.
_CURRENT = """SELECT s.ruleset, s.name, s.path, max(u.run_id) AS run_id
    FROM rulesets s JOIN runs u ON u.ruleset_hash = s.hash
    GROUP BY coalesce(s.name, s.path, s.hash)"""


def _latest(table: str, columns: dict[str, str], joins: str = "") -> str:
    """A view of a run table's rows of the current version of each ruleset, named by name."""
    shown = ",\n    ".join(f"{sql} AS {name}" for name, sql in columns.items())
    return f"""CREATE VIEW latest_{table} AS SELECT
    c.name AS ruleset, {shown}
    FROM {table} t JOIN ({_CURRENT}) c ON c.ruleset = t.ruleset{joins}"""


_RESULTS = {"ruleset_path": "c.path", **{name: f"t.{name}" for name in RESULT_COLUMNS},
            "next_due": iso("t.next_due"), "as_of": iso("u.as_of"), "run_id": "c.run_id"}

# The run tables, each a view of its two tables (schema version 8): the rows of the leads that
# incremental runs replayed since the last full run (or fold), and the rest of the full run's.
# Readers see one table; only `Store.saving_run` writes the two. (This module does not import
# the schema's RUN_TABLES, see above.)
_RUN_TABLES = ("results", "stage_moves", "actions", "sla", "checkpoints")


def _overlay(table: str) -> str:
    return f"""CREATE VIEW {table} AS
    SELECT * FROM {table}_recent UNION ALL
    SELECT b.* FROM {table}_base b LEFT JOIN results_recent n
        ON n.ruleset = b.ruleset AND n.lead_id = b.lead_id WHERE n.lead_id IS NULL"""


_MOVE_COLUMNS = "ruleset, lead_id, seq, ts, from_stage, to_stage, rule, cause"


def _stays(table: str, hidden: str = "") -> str:
    moves = ", ".join(f"m.{c}" for c in _MOVE_COLUMNS.split(", "))
    return f"""SELECT {moves}, n.ts AS left_at, n.to_stage AS next_stage
    FROM {table} m {hidden}LEFT JOIN {table} n
        ON n.ruleset = m.ruleset AND n.lead_id = m.lead_id AND n.seq = m.seq + 1"""


# Each stage move with the time the lead left that stage and the stage it moved to (NULL while
# it is there): `stage_moves` joined with itself on its key, within each of its two tables (a
# lead's moves are all in one). The join of the `stage_moves` view with itself could not use
# the tables' keys: 0.38 s against 0.11 s at 100k leads, and more once recent rows exist.
_STAGE_STAYS = f"""CREATE VIEW stage_stays AS
    {_stays("stage_moves_recent")}
    UNION ALL
    {_stays("stage_moves_base", "LEFT JOIN results_recent x ON x.ruleset = m.ruleset "
            "AND x.lead_id = m.lead_id ")}
    WHERE x.lead_id IS NULL"""

# The views every store has, whatever rulesets ran; made by the schema's migration. The run
# tables' come first: the others read them.
STATIC_VIEWS = {
    **{table: _overlay(table) for table in _RUN_TABLES},
    "stage_stays": _STAGE_STAYS,
    "lead_events": f"""CREATE VIEW lead_events AS SELECT
    lead_id, {iso("ts")} AS time, event_id, type, props, {iso("ingested_at")} AS ingested_at
    FROM events""",
    "latest_results": _latest("results", _RESULTS, " JOIN runs u ON u.run_id = c.run_id"),
    "latest_stage_moves": _latest("stage_moves", {
        "lead_id": "t.lead_id", "seq": "t.seq", "time": iso("t.ts"), "from_stage": "t.from_stage",
        "to_stage": "t.to_stage", "rule": "t.rule", "cause": "t.cause"}),
    "latest_actions": _latest("actions", {
        "lead_id": "t.lead_id", "seq": "t.seq", "time": iso("t.ts"), "kind": "t.kind",
        "value": "t.value", "stage": "t.stage", "rule": "t.rule", "cause": "t.cause"}),
    "latest_sla": _latest("sla", {
        "lead_id": "t.lead_id", "seq": "t.seq", "stage": "t.stage",
        "entered_at": iso("t.entered_at"), "due": iso("t.due"), "outcome": "t.outcome",
        "decided_at": iso("t.decided_at"), "cause": "t.cause", "rule": "t.rule"}),
    "import_log": f"""CREATE VIEW import_log AS SELECT
    import_id, kind, source, format, {iso("started_at")} AS started_at,
    {iso("finished_at")} AS finished_at, status, rows, added, duplicates, new_leads, rejected
    FROM imports""",
    "run_log": f"""CREATE VIEW run_log AS SELECT
    run_id, ruleset_name AS ruleset, ruleset_path, {iso("as_of")} AS as_of, created_at, mode,
    leads, events, replayed, changed
    FROM runs""",
}


def quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def slug(name: str) -> str:
    """A ruleset's name as the start of its views' names: `B2B demand funnel` -> b2b_demand_funnel."""
    word = re.sub(r"\W+", "_", name.lower(), flags=re.ASCII).strip("_") or "ruleset"
    return word if not word[0].isdigit() else f"r_{word}"


# A profile value as the engine reads it (engine/values.py), in SQL: text that is not a number
# (or a boolean, or a date) is NULL, as the engine treats it as missing.
_TYPED = {
    "number": "CASE WHEN trim({v}) GLOB '*[0-9]*' AND trim({v}) NOT GLOB '*[^0-9.eE+-]*' "
              "THEN CAST(trim({v}) AS NUMERIC) END",
    "boolean": "CASE WHEN lower(trim({v})) IN ('true', 'yes', '1') THEN 1 "
               "WHEN lower(trim({v})) IN ('false', 'no', '0') THEN 0 END",
    "date": "date(substr(trim({v}), 1, 10))",
    "text": "nullif({v}, '')",
}
_LEAD_COLUMNS = {"ruleset", "ruleset_path", "as_of", "run_id", "next_due", *RESULT_COLUMNS}
_EVENT_COLUMNS = {"lead_id", "time", "event_id", "type", "props", "ingested_at"}


def _column(name: str, taken: set[str], prefix: str) -> str:
    """A declared name as a view column; `prefix_name` where it would hide a stored column."""
    return quote(f"{prefix}_{name}" if name.lower() in taken else name)


def ruleset_views(name: str, fields: dict[str, str], properties: tuple[str, ...]
                  ) -> dict[str, str]:
    """The views of one ruleset, by view name: `<slug>_leads` (its latest results with each
    declared profile field as a column of its type) and `<slug>_events` (the events with each
    event property the rules read as a column)."""
    base = slug(name)
    profile = ",\n    ".join(
        f"{_TYPED[kind].format(v=_json('l.profile', field))} AS "
        f"{_column(field, _LEAD_COLUMNS, 'profile')}" for field, kind in fields.items())
    props = ",\n    ".join(f"{_json('props', prop)} AS {_column(prop, _EVENT_COLUMNS, 'prop')}"
                           for prop in properties)
    return {
        f"{base}_leads": f"""CREATE VIEW {quote(base + '_leads')} AS SELECT
    r.*{',' if profile else ''}
    {profile}
    FROM latest_results r JOIN leads l ON l.lead_id = r.lead_id
    WHERE r.ruleset = {_text(name)}""",
        f"{base}_events": f"""CREATE VIEW {quote(base + '_events')} AS SELECT
    lead_id, {iso("ts")} AS time, event_id, type{',' if props else ''}
    {props}
    FROM events""",
    }


def _json(column: str, key: str) -> str:
    return f"json_extract({column}, {_text('$.' + quote(key))})"


def replace_views(views: dict[str, str]) -> str:
    """SQL that drops the named views and makes them as given, in one script."""
    return "".join(f"DROP VIEW IF EXISTS {quote(name)};\n{sql};\n" for name, sql in views.items())


def drop_all(conn: sqlite3.Connection) -> dict[str, str]:
    """Drop every view of the store and return their SQL by name: a migration that makes a
    table again (rename) fails while a view names the table it replaces."""
    kept = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'"))
    for name in kept:
        conn.execute(f"DROP VIEW {quote(name)}")
    return kept


def remake(conn: sqlite3.Connection, kept: dict[str, str]) -> None:
    """Make the static views as this version defines them, and the kept ones of the rulesets
    again; one that no longer fits the tables is left out (the next `run` makes it anew)."""
    rulesets = {name: sql for name, sql in kept.items() if name not in STATIC_VIEWS}
    for name, sql in {**STATIC_VIEWS, **rulesets}.items():  # a ruleset's views read static ones
        conn.execute(f"DROP VIEW IF EXISTS {quote(name)}")
        try:
            conn.execute("SAVEPOINT view")
            conn.execute(sql)
            conn.execute("SELECT * FROM " + quote(name) + " LIMIT 0")
            conn.execute("RELEASE view")
        except sqlite3.Error:
            conn.execute("ROLLBACK TO view")
            conn.execute("RELEASE view")
