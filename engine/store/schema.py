"""The store's schema: the tables as the first release made them, and the migrations since."""

from __future__ import annotations

SCHEMA_VERSION = 8

# sqlite-utils's create_table cannot say WITHOUT ROWID, so the schema is plain SQL.
# Version 1, as the first release created it; MIGRATIONS bring it up to SCHEMA_VERSION.
_SCHEMA_1 = """
CREATE TABLE IF NOT EXISTS leads (
    lead_id TEXT PRIMARY KEY,
    profile TEXT NOT NULL,  -- JSON object str -> str
    origin  TEXT NOT NULL   -- 'file' or 'event'
);
CREATE TABLE IF NOT EXISTS events (
    lead_id     TEXT NOT NULL,
    ts          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    type        TEXT NOT NULL,
    props       TEXT NOT NULL,  -- JSON object str -> str
    ingested_at INTEGER NOT NULL,
    PRIMARY KEY (lead_id, ts, event_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events(event_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id       INTEGER PRIMARY KEY,
    ruleset_name TEXT,
    ruleset_path TEXT,
    ruleset_hash TEXT NOT NULL,
    as_of        INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    leads        INTEGER NOT NULL,
    events       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id       INTEGER NOT NULL,
    lead_id      TEXT NOT NULL,
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    PRIMARY KEY (run_id, lead_id)
);
CREATE TABLE IF NOT EXISTS stage_moves (
    run_id     INTEGER NOT NULL,
    lead_id    TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    ts         INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    cause      TEXT NOT NULL,
    PRIMARY KEY (run_id, lead_id, seq)
);
"""

# Each entry turns version N into N + 1; all that apply run in one transaction.
MIGRATIONS = {
    1: """
CREATE TABLE imports (
    import_id   INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,     -- 'leads' or 'events'
    source      TEXT NOT NULL,     -- the absolute path, or '<stdin>'
    fingerprint TEXT,              -- size:mtime:hash of the head; NULL for stdin (no resuming)
    format      TEXT NOT NULL,     -- 'csv' or 'jsonl', with '+gzip' when compressed
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,           -- NULL while running, or after an interruption
    status      TEXT NOT NULL,     -- 'running' (or interrupted), 'done', 'stopped'
    line_done   INTEGER NOT NULL DEFAULT 0,  -- rows up to this line are committed
    rows        INTEGER NOT NULL DEFAULT 0,
    added       INTEGER NOT NULL DEFAULT 0,  -- events added, or lead rows written
    duplicates  INTEGER NOT NULL DEFAULT 0,
    new_leads   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0   -- rows, not problems: one row may have several
);
CREATE TABLE rejects (
    import_id INTEGER NOT NULL REFERENCES imports(import_id),
    file      TEXT NOT NULL,
    line      INTEGER NOT NULL,
    "column"  TEXT,
    value     TEXT,
    reason    TEXT NOT NULL,
    raw       TEXT NOT NULL
);
CREATE INDEX rejects_import ON rejects(import_id, line);
""",
    # Version 3: results are kept per ruleset and updated in place, so that a run replays only
    # the leads whose inputs changed. Results of version-2 runs are derived data; they are
    # dropped, and the next `run` computes them again.
    2: """
ALTER TABLE leads ADD COLUMN version INTEGER NOT NULL DEFAULT 0;  -- data_version of its last change
CREATE INDEX leads_version ON leads(version);
INSERT OR REPLACE INTO meta VALUES ('data_version', '0');
DROP TABLE results;
DROP TABLE stage_moves;
DROP TABLE runs;
CREATE TABLE runs (
    run_id       INTEGER PRIMARY KEY,
    ruleset_name TEXT,
    ruleset_path TEXT,
    ruleset_hash TEXT NOT NULL,
    as_of        INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    data_version INTEGER NOT NULL,            -- the store's data_version the run read
    mode         TEXT NOT NULL,               -- 'full' or 'incremental'
    leads        INTEGER NOT NULL DEFAULT 0,  -- leads with results after the run
    events       INTEGER NOT NULL DEFAULT 0,  -- events in the store
    replayed     INTEGER NOT NULL DEFAULT 0,  -- leads this run replayed
    changed      INTEGER NOT NULL DEFAULT 0   -- leads whose results it changed
);
CREATE TABLE results (
    ruleset_hash TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    run_id       INTEGER NOT NULL,  -- the run that last replayed the lead
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    owner        TEXT,
    label        TEXT,
    sla          TEXT,
    bant         TEXT,
    events       INTEGER,
    next_due     INTEGER,  -- the earliest as-of at which the result can change by itself
    PRIMARY KEY (ruleset_hash, lead_id)
) WITHOUT ROWID;
CREATE INDEX results_due ON results(ruleset_hash, next_due);
CREATE TABLE stage_moves (
    ruleset_hash TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ts           INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage   TEXT,
    to_stage     TEXT NOT NULL,
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset_hash, lead_id, seq)
) WITHOUT ROWID;
CREATE TABLE actions (
    ruleset_hash TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    kind         TEXT NOT NULL,  -- 'assign', 'enroll' or 'alert'
    value        TEXT NOT NULL,
    stage        TEXT,           -- the stage entered, for `on entering`
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset_hash, lead_id, seq)
) WITHOUT ROWID;
CREATE TABLE sla (
    ruleset_hash TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    stage        TEXT NOT NULL,
    entered_at   INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    outcome      TEXT NOT NULL,  -- 'met', 'overdue', 'left' or 'pending'
    decided_at   INTEGER,
    cause        TEXT,
    rule         TEXT NOT NULL,
    PRIMARY KEY (ruleset_hash, lead_id, seq)
) WITHOUT ROWID;
""",
    # Version 4: the replay state of each lead after its last event, so that an incremental run
    # resumes a lead from there when it has new events, instead of replaying all of them.
    3: """
CREATE TABLE checkpoints (
    ruleset_hash TEXT NOT NULL,
    lead_id      TEXT NOT NULL,
    profile      BLOB NOT NULL,     -- a digest of the profile the replay read
    ts           INTEGER,           -- the last event applied, (ts, event_id); NULL for none
    event_id     TEXT,
    applied      INTEGER NOT NULL,  -- events applied up to it: more now means one came late
    state        BLOB NOT NULL,     -- engine.evaluate.checkpoint, marshalled
    PRIMARY KEY (ruleset_hash, lead_id)
) WITHOUT ROWID;
""",
    # Version 5: the rows of a run name their ruleset by a small number instead of its 64-digit
    # hash, which was about 40% of the bytes a run wrote. The rows are kept.
    4: """
CREATE TABLE rulesets (
    ruleset INTEGER PRIMARY KEY,
    hash    TEXT NOT NULL UNIQUE  -- SHA-256 of the rule file's text, as in runs.ruleset_hash
);
INSERT INTO rulesets (hash) SELECT ruleset_hash FROM runs GROUP BY ruleset_hash
    ORDER BY min(run_id);
CREATE TABLE new_results (
    ruleset      INTEGER NOT NULL,  -- rulesets.ruleset
    lead_id      TEXT NOT NULL,
    run_id       INTEGER NOT NULL,  -- the run that last replayed the lead
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    owner        TEXT,
    label        TEXT,
    sla          TEXT,
    bant         TEXT,
    events       INTEGER,
    next_due     INTEGER,  -- the earliest as-of at which the result can change by itself
    PRIMARY KEY (ruleset, lead_id)
) WITHOUT ROWID;
INSERT INTO new_results SELECT
    r.ruleset, t.lead_id, t.run_id, t.score, t.fit, t.grade, t.band, t.priority, t.stage,
    t.disqualified, t.owner, t.label, t.sla, t.bant, t.events, t.next_due
    FROM results t JOIN rulesets r ON r.hash = t.ruleset_hash;
DROP TABLE results;
ALTER TABLE new_results RENAME TO results;
CREATE TABLE new_stage_moves (
    ruleset      INTEGER NOT NULL,  -- rulesets.ruleset
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ts           INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage   TEXT,
    to_stage     TEXT NOT NULL,
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_stage_moves SELECT
    r.ruleset, t.lead_id, t.seq, t.ts, t.from_stage, t.to_stage, t.rule, t.cause
    FROM stage_moves t JOIN rulesets r ON r.hash = t.ruleset_hash;
DROP TABLE stage_moves;
ALTER TABLE new_stage_moves RENAME TO stage_moves;
CREATE TABLE new_actions (
    ruleset      INTEGER NOT NULL,  -- rulesets.ruleset
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    kind         TEXT NOT NULL,  -- 'assign', 'enroll' or 'alert'
    value        TEXT NOT NULL,
    stage        TEXT,           -- the stage entered, for `on entering`
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_actions SELECT
    r.ruleset, t.lead_id, t.seq, t.ts, t.kind, t.value, t.stage, t.rule, t.cause
    FROM actions t JOIN rulesets r ON r.hash = t.ruleset_hash;
DROP TABLE actions;
ALTER TABLE new_actions RENAME TO actions;
CREATE TABLE new_sla (
    ruleset      INTEGER NOT NULL,  -- rulesets.ruleset
    lead_id      TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    stage        TEXT NOT NULL,
    entered_at   INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    outcome      TEXT NOT NULL,  -- 'met', 'overdue', 'left' or 'pending'
    decided_at   INTEGER,
    cause        TEXT,
    rule         TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_sla SELECT
    r.ruleset, t.lead_id, t.seq, t.stage, t.entered_at, t.due, t.outcome, t.decided_at, t.cause,
    t.rule
    FROM sla t JOIN rulesets r ON r.hash = t.ruleset_hash;
DROP TABLE sla;
ALTER TABLE new_sla RENAME TO sla;
CREATE TABLE new_checkpoints (
    ruleset      INTEGER NOT NULL,  -- rulesets.ruleset
    lead_id      TEXT NOT NULL,
    profile      BLOB NOT NULL,     -- a digest of the profile the replay read
    ts           INTEGER,           -- the last event applied, (ts, event_id); NULL for none
    event_id     TEXT,
    applied      INTEGER NOT NULL,  -- events applied up to it: more now means one came late
    state        BLOB NOT NULL,     -- engine.evaluate.checkpoint, marshalled
    PRIMARY KEY (ruleset, lead_id)
) WITHOUT ROWID;
INSERT INTO new_checkpoints SELECT
    r.ruleset, t.lead_id, t.profile, t.ts, t.event_id, t.applied, t.state
    FROM checkpoints t JOIN rulesets r ON r.hash = t.ruleset_hash;
DROP TABLE checkpoints;
ALTER TABLE new_checkpoints RENAME TO checkpoints;
CREATE INDEX results_due ON results(ruleset, next_due);
""",
    # Version 6: for the tools that read the store (Datasette, an analyst's SQL): `rulesets`
    # records the name and path a ruleset last ran from, and the run tables declare their
    # foreign keys, which SQLite can add only by making a table again. `events.lead_id` ->
    # `leads` holds too but is not declared: copying the largest table is not worth a link.
    # The views (engine/store/views.py) are made by the store after every migration.
    5: """
ALTER TABLE rulesets ADD COLUMN name TEXT;  -- the ruleset's name as its file says
ALTER TABLE rulesets ADD COLUMN path TEXT;  -- the rule file it last ran from
UPDATE rulesets SET
    name = (SELECT ruleset_name FROM runs WHERE ruleset_hash = hash ORDER BY run_id DESC LIMIT 1),
    path = (SELECT ruleset_path FROM runs WHERE ruleset_hash = hash ORDER BY run_id DESC LIMIT 1);
CREATE TABLE new_runs (
    run_id       INTEGER PRIMARY KEY,
    ruleset_name TEXT,
    ruleset_path TEXT,
    ruleset_hash TEXT NOT NULL REFERENCES rulesets(hash),
    as_of        INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    data_version INTEGER NOT NULL,            -- the store's data_version the run read
    mode         TEXT NOT NULL,               -- 'full' or 'incremental'
    leads        INTEGER NOT NULL DEFAULT 0,  -- leads with results after the run
    events       INTEGER NOT NULL DEFAULT 0,  -- events in the store
    replayed     INTEGER NOT NULL DEFAULT 0,  -- leads this run replayed
    changed      INTEGER NOT NULL DEFAULT 0   -- leads whose results it changed
);
INSERT INTO new_runs SELECT run_id, ruleset_name, ruleset_path, ruleset_hash, as_of, created_at,
    data_version, mode, leads, events, replayed, changed FROM runs;
DROP TABLE runs;
ALTER TABLE new_runs RENAME TO runs;
CREATE TABLE new_results (
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    run_id       INTEGER NOT NULL REFERENCES runs(run_id),  -- the run that last replayed it
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    owner        TEXT,
    label        TEXT,
    sla          TEXT,
    bant         TEXT,
    events       INTEGER,
    next_due     INTEGER,  -- the earliest as-of at which the result can change by itself
    PRIMARY KEY (ruleset, lead_id)
) WITHOUT ROWID;
INSERT INTO new_results SELECT ruleset, lead_id, run_id, score, fit, grade, band, priority, stage,
    disqualified, owner, label, sla, bant, events, next_due FROM results;
DROP TABLE results;
ALTER TABLE new_results RENAME TO results;
CREATE INDEX results_due ON results(ruleset, next_due);
CREATE TABLE new_stage_moves (
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    ts           INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage   TEXT,
    to_stage     TEXT NOT NULL,
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_stage_moves SELECT ruleset, lead_id, seq, ts, from_stage, to_stage, rule, cause
    FROM stage_moves;
DROP TABLE stage_moves;
ALTER TABLE new_stage_moves RENAME TO stage_moves;
CREATE TABLE new_actions (
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    kind         TEXT NOT NULL,  -- 'assign', 'enroll' or 'alert'
    value        TEXT NOT NULL,
    stage        TEXT,           -- the stage entered, for `on entering`
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_actions SELECT ruleset, lead_id, seq, ts, kind, value, stage, rule, cause
    FROM actions;
DROP TABLE actions;
ALTER TABLE new_actions RENAME TO actions;
CREATE TABLE new_sla (
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    stage        TEXT NOT NULL,
    entered_at   INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    outcome      TEXT NOT NULL,  -- 'met', 'overdue', 'left' or 'pending'
    decided_at   INTEGER,
    cause        TEXT,
    rule         TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)
) WITHOUT ROWID;
INSERT INTO new_sla SELECT ruleset, lead_id, seq, stage, entered_at, due, outcome, decided_at,
    cause, rule FROM sla;
DROP TABLE sla;
ALTER TABLE new_sla RENAME TO sla;
CREATE TABLE new_checkpoints (
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    profile      BLOB NOT NULL,     -- a digest of the profile the replay read
    ts           INTEGER,           -- the last event applied, (ts, event_id); NULL for none
    event_id     TEXT,
    applied      INTEGER NOT NULL,  -- events applied up to it: more now means one came late
    state        BLOB NOT NULL,     -- engine.evaluate.checkpoint, marshalled
    PRIMARY KEY (ruleset, lead_id)
) WITHOUT ROWID;
INSERT INTO new_checkpoints SELECT ruleset, lead_id, profile, ts, event_id, applied, state
    FROM checkpoints;
DROP TABLE checkpoints;
ALTER TABLE new_checkpoints RENAME TO checkpoints;
""",
}


def stage_entries(leads: str,
                  as_of: str = "(SELECT as_of FROM runs u WHERE u.run_id = r.run_id)",
                  dated: str | None = None, results: str = "results",
                  moves: str = "stage_moves") -> str:
    """SQL that completes the stored stage history of the results that `leads` (a condition on
    results `r`) selects: a move numbered 0 into the lead's first stage, dated at its first stored
    event at or before the run's as-of (NULL if it has none; the cause is that event's id, or
    'profile'), and a disqualification by the profile (stored with no time) dated then too.

    A profile move is dated at the entry whenever it is: a resumed replay keeps its stored moves,
    and a late event may have moved the lead's entry earlier.

    The first stage is the one the lead's move 1 left, or its current stage if it never moved, so
    that the same SQL completes a run and, in the migration, the stores made before. `as_of`
    is the time the first event is looked for by (SQL); `dated`, the condition on `r` of the
    leads whose undated profile moves get their entry's time (default: `leads`). `results` and
    `moves` name the tables that hold the leads' rows (since version 8, a run writes into
    `_base` or `_recent` tables)."""
    first = _first_event("r.lead_id", as_of)
    entry = _entry(moves)
    return f"""
INSERT OR REPLACE INTO {moves} (ruleset, lead_id, seq, ts, from_stage, to_stage, rule, cause)
    SELECT r.ruleset, r.lead_id, 0, {first.format("ts")}, NULL,
        coalesce((SELECT m.from_stage FROM {moves} m WHERE m.ruleset = r.ruleset
                  AND m.lead_id = r.lead_id AND m.seq = 1), r.stage),
        '', coalesce({first.format("event_id")}, 'profile')
    FROM {results} r WHERE {leads};
UPDATE {moves} SET ts = {entry}
    WHERE seq > 0 AND cause = 'profile' AND ts IS NOT {entry} AND (ruleset, lead_id) IN
        (SELECT r.ruleset, r.lead_id FROM {results} r WHERE {dated or leads});
"""


def date_entries(ruleset: int, as_of: int, moves: str, leads: str) -> str:
    """SQL that dates anew the entries into the funnel in the table `moves` of leads that a run
    did not replay (`leads`, a condition on `moves`), at their first event by `as_of`: a lead
    whose first event came due (one of a type no rule reacts to, which makes no lead replay),
    or one that a new such event reached; then the moves its profile made, dated at the entry.
    Rows that stay as they are are not written again."""
    first = _first_event(f"{moves}.lead_id", str(int(as_of)))
    cause = f"coalesce({first.format('event_id')}, 'profile')"
    entry = _entry(moves)
    return f"""
UPDATE {moves} SET ts = {first.format("ts")}, cause = {cause}
    WHERE ruleset = {int(ruleset)} AND seq = 0 AND {leads}
    AND (ts IS NOT {first.format("ts")} OR cause IS NOT {cause});
UPDATE {moves} SET ts = {entry}
    WHERE ruleset = {int(ruleset)} AND seq > 0 AND cause = 'profile' AND {leads}
    AND ts IS NOT {entry};
"""


def _first_event(lead: str, as_of: str) -> str:
    """SQL for a column ({0}: ts or event_id) of the first stored event, by `as_of` (SQL), of
    the lead in the SQL column `lead`."""
    return ("(SELECT e.{0} FROM events e WHERE e.lead_id = " + lead + " AND e.ts <= " + as_of
            + " ORDER BY e.ts, e.event_id LIMIT 1)")


def _entry(moves: str) -> str:
    """SQL for the time of the entry into the funnel (move 0) of the row's lead in `moves`."""
    return (f"(SELECT f.ts FROM {moves} f WHERE f.ruleset = {moves}.ruleset "
            f"AND f.lead_id = {moves}.lead_id AND f.seq = 0)")


# Version 7: the stage history is complete: every lead's entry into its first stage is stored
# (see stage_entries), and so is the time of a disqualification by the profile.
MIGRATIONS[6] = stage_entries("1")

# Version 8: the tables a run writes are each two (issue 18). `<table>_base` holds the rows a
# full run wrote, in key order; `<table>_recent` the rows of the leads that incremental runs
# replayed since, which hide those leads' base rows; `<table>` is a view of both
# (engine/store/views.py), so that readers see one table. An incremental run that rewrote its
# leads' rows in place dirtied nearly every page of the run tables, however few leads it
# replayed: 1% new events reached 17% of the leads and so every page of 40-60 leads. A run also
# stores how many leads each stage holds after it (`runs.stages`), from the previous run's and
# what it changed: counting them again read every result (0.9 s at a million leads).
RUN_TABLES = ("results", "stage_moves", "actions", "sla", "checkpoints")
_RUN_COLUMNS = {
    "results": """
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    run_id       INTEGER NOT NULL REFERENCES runs(run_id),  -- the run that last replayed it
    score        INTEGER,
    fit          INTEGER,
    grade        TEXT,
    band         INTEGER,
    priority     TEXT,
    stage        TEXT,
    disqualified TEXT,
    owner        TEXT,
    label        TEXT,
    sla          TEXT,
    bant         TEXT,
    events       INTEGER,
    next_due     INTEGER,  -- the earliest as-of at which the result can change by itself
    PRIMARY KEY (ruleset, lead_id)""",
    "stage_moves": """
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    ts           INTEGER,  -- NULL when the move came from the profile, before any event
    from_stage   TEXT,
    to_stage     TEXT NOT NULL,
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)""",
    "actions": """
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    ts           INTEGER NOT NULL,
    kind         TEXT NOT NULL,  -- 'assign', 'enroll' or 'alert'
    value        TEXT NOT NULL,
    stage        TEXT,           -- the stage entered, for `on entering`
    rule         TEXT NOT NULL,
    cause        TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)""",
    "sla": """
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    seq          INTEGER NOT NULL,
    stage        TEXT NOT NULL,
    entered_at   INTEGER NOT NULL,
    due          INTEGER NOT NULL,
    outcome      TEXT NOT NULL,  -- 'met', 'overdue', 'left' or 'pending'
    decided_at   INTEGER,
    cause        TEXT,
    rule         TEXT NOT NULL,
    PRIMARY KEY (ruleset, lead_id, seq)""",
    "checkpoints": """
    ruleset      INTEGER NOT NULL REFERENCES rulesets(ruleset),
    lead_id      TEXT NOT NULL REFERENCES leads(lead_id),
    profile      BLOB NOT NULL,     -- a digest of the profile the replay read
    ts           INTEGER,           -- the last event applied, (ts, event_id); NULL for none
    event_id     TEXT,
    applied      INTEGER NOT NULL,  -- events applied up to it: more now means one came late
    state        BLOB NOT NULL,     -- engine.evaluate.checkpoint, marshalled
    PRIMARY KEY (ruleset, lead_id)""",
}
MIGRATIONS[7] = "".join(f"ALTER TABLE {t} RENAME TO {t}_base;\n" for t in RUN_TABLES) + "".join(
    f"CREATE TABLE {t}_recent ({_RUN_COLUMNS[t]}\n) WITHOUT ROWID;\n" for t in RUN_TABLES) + """
ALTER TABLE runs ADD COLUMN stages TEXT;  -- JSON {stage: leads} after the run
CREATE INDEX results_recent_due ON results_recent(ruleset, next_due);
CREATE INDEX stage_moves_undated ON stage_moves_base(ruleset, lead_id) WHERE ts IS NULL;
CREATE INDEX stage_moves_recent_undated ON stage_moves_recent(ruleset, lead_id) WHERE ts IS NULL;
"""

RESULT_COLUMNS = ("lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified",
                  "owner", "label", "sla", "bant", "events", "next_due")
DETAIL_COLUMNS = {
    "stage_moves": ("lead_id", "seq", "ts", "from_stage", "to_stage", "rule", "cause"),
    "actions": ("lead_id", "seq", "ts", "kind", "value", "stage", "rule", "cause"),
    "sla": ("lead_id", "seq", "stage", "entered_at", "due", "outcome", "decided_at", "cause",
            "rule"),
}
CHECKPOINT_COLUMNS = ("lead_id", "profile", "ts", "event_id", "applied", "state")
EVENT_COLUMNS = "lead_id, ts, event_id, type, props"
# The index of `leads_to_replay` on the base table, as schema 5 made it (and 8 moved); a full
# run makes it again.
RESULTS_DUE = 'CREATE INDEX results_due ON "results_base"(ruleset, next_due)'
