"""What a CRM or an email tool imports: the leads of a ruleset's latest run (with profile fields
and the time they entered their stage), and the recorded actions with open or overdue SLAs."""

from __future__ import annotations

import itertools
from typing import Iterable, Iterator, Sequence

import attrs

from leadrules.dsl.check import suggest
from leadrules.dsl.errors import UsageError
from leadrules.engine.events import format_timestamp, parse_timestamp
from leadrules.engine.scoring.compiler import DISQUALIFIED, CompiledRuleset
from leadrules.engine.scoring.render import LEAD_COLUMNS as RESULT_LEADS
from leadrules.engine.store.store import Store
from leadrules.engine.tables import rows_text

LEAD_COLUMNS = (*RESULT_LEADS, "stage_entered_at")  # the results `leads` prints, and when
ACTION_COLUMNS = ("lead_id", "at", "kind", "value", "stage", "due", "lead_stage", "owner",
                  "rule", "cause")
KINDS = ("assign", "enroll", "alert", "sla")
TIMES = frozenset({"stage_entered_at", "at", "due"})


@attrs.frozen
class Export:
    """Rows to print: the run they come from and the columns, in order. The rows of a lead
    export are read as they are printed (a million leads need not be in memory at once)."""

    run: dict
    columns: tuple[str, ...]
    rows: Iterable[dict]


def chosen_run(store: Store, rules: CompiledRuleset | None) -> dict:
    """The latest run of `rules`, or the latest run of any ruleset."""
    run = store.last_run(rules.hash) if rules is not None else store.latest_run()
    if run is None:
        which = f" of {rules.path}" if rules is not None else ""
        raise UsageError(f"{store.path}: no results{which} yet; score the leads with "
                         f"`leadrules run {rules.path if rules else 'RULES'}` first")
    return run


def _check_value(option: str, value: str | None, known: Iterable[str], what: str) -> None:
    known = sorted({k for k in known if k})
    if value is None or value in known:
        return
    hint = suggest(value, known)
    hint = f"; {hint}" if hint else ""
    raise UsageError(f"{option} {value}: {what}{hint} (known: {', '.join(known)})")


def known_stages(store: Store, run: dict, rules: CompiledRuleset | None) -> list[str]:
    if rules is not None:
        return [*rules.stages, DISQUALIFIED]
    key = store.ruleset_number(run["ruleset_hash"])
    return [s for (s,) in store.read("SELECT DISTINCT to_stage FROM stage_moves WHERE ruleset = ? "
                                     "UNION SELECT DISTINCT stage FROM results WHERE ruleset = ?",
                                     (key, key))]


def lead_export(store: Store, rules: CompiledRuleset | None, *, stage: str | None = None,
                priority: str | None = None, top: int | None = None,
                fields: Sequence[str] = ()) -> Export:
    """The leads of the run, best score first, with `fields` from their profiles."""
    run = chosen_run(store, rules)
    key = store.ruleset_number(run["ruleset_hash"])
    _check_value("--stage", stage, known_stages(store, run, rules),
                 f"no stage of that name in run {run['run_id']}'s rules")
    priorities = ([f"{g.value}{b.value}" for g in rules.grades for b in rules.bands]
                  if rules is not None else
                  [p for (p,) in store.read("SELECT DISTINCT priority FROM results "
                                            "WHERE ruleset = ?", (key,))])
    _check_value("--priority", priority, priorities,
                 f"no lead of run {run['run_id']} has that priority")
    if rules is not None:
        _check_value("--fields", next((f for f in fields if f not in rules.fields), None),
                     rules.fields, f"not a field of {rules.path}")
    where, params = ["r.ruleset = ?"], [key]
    for column, value in (("stage", stage), ("priority", priority)):
        if value is not None:
            where.append(f"r.{column} = ?")
            params.append(value)
    extracts = "".join(", json_extract(l.profile, ?)" for _ in fields)
    rows = store.read(
        f"SELECT {', '.join('r.' + c for c in LEAD_COLUMNS[:-1])}, "
        "(SELECT max(m.ts) FROM stage_moves m WHERE m.ruleset = r.ruleset "
        f" AND m.lead_id = r.lead_id){extracts} "
        f"FROM results r JOIN leads l USING (lead_id) WHERE {' AND '.join(where)} "
        "ORDER BY r.score DESC, r.fit DESC, r.lead_id LIMIT ?",
        [*(f"$.{f}" for f in fields), *params, -1 if top is None else top])
    columns = (*LEAD_COLUMNS, *fields)
    return Export(run, columns, (dict(zip(columns, row)) for row in rows))


def action_export(store: Store, rules: CompiledRuleset | None, *, stage: str | None = None,
                  kind: str | None = None, since: str | None = None) -> Export:
    """Recorded actions, and the SLAs still open or overdue in the stage they began in, by
    time; `stage`: of leads now in it; `since`: a run (after its as-of) or a date."""
    run = chosen_run(store, rules)
    key = store.ruleset_number(run["ruleset_hash"])
    _check_value("--stage", stage, known_stages(store, run, rules),
                 f"no stage of that name in run {run['run_id']}'s rules")
    after = _since(store, since)
    # The leads' results read once (MATERIALIZED): joined as the view `results` per row, the
    # export took 4.1 s at 100k leads after an incremental run, 0.6 s so.
    sql = """
        WITH r AS MATERIALIZED (SELECT lead_id, stage, owner FROM results WHERE ruleset = ?1)
        SELECT a.lead_id, a.ts, a.kind, a.value, a.stage, NULL, r.stage, r.owner, a.rule, a.cause
        FROM actions a JOIN r ON r.lead_id = a.lead_id
        WHERE a.ruleset = ?1 AND a.ts >= ?2
        UNION ALL
        SELECT s.lead_id, s.entered_at, 'sla', s.outcome, s.stage, s.due, r.stage, r.owner,
            s.rule, s.cause
        FROM sla s JOIN r ON r.lead_id = s.lead_id
        WHERE s.ruleset = ?1 AND s.entered_at >= ?2 AND (s.outcome = 'pending' OR
            (s.outcome = 'overdue' AND r.stage = s.stage AND s.seq = (SELECT max(t.seq)
             FROM sla t WHERE t.ruleset = s.ruleset AND t.lead_id = s.lead_id)))
        ORDER BY 2, 1, 3"""
    rows = [dict(zip(ACTION_COLUMNS, row))
            for row in store.read(sql, (key, after))]
    rows = [r for r in rows if (kind is None or r["kind"] == kind)
            and (stage is None or r["lead_stage"] == stage)]
    return Export(run, ACTION_COLUMNS, rows)


def _since(store: Store, since: str | None) -> int:
    if since is None:
        return -(1 << 62)
    if since.isdigit():
        run = store.run(int(since))
        if run is None:
            raise UsageError(f"--since {since}: no run {since} in {store.path}")
        return run["as_of"] + 1
    try:
        return parse_timestamp(since)
    except ValueError:
        raise UsageError(f"--since {since}: give a run number or a date like 2026-04-01") from None


def render(export: Export, output: str) -> str:
    """An export as text, CSV, JSON or Markdown; times in ISO 8601 UTC."""
    return "".join(chunks(export, output))


def chunks(export: Export, output: str, rows_per_chunk: int = 10_000) -> Iterator[str]:
    """`render`'s text in pieces, as the rows are read: CSV and JSON a chunk of rows at a time
    (memory flat in the number of leads); text and Markdown, whose columns are as wide as
    their widest cell, whole."""
    rows = (_shown(export.columns, r) for r in export.rows)
    if output not in ("csv", "json"):
        yield rows_text(export.columns, list(rows), output)
        return
    first = True
    while batch := list(itertools.islice(rows, rows_per_chunk)):
        text = rows_text(export.columns, batch, output)
        if output == "csv":  # the header once
            yield text if first else text.split("\n", 1)[1]
        else:  # one JSON list: the batches' brackets dropped, joined by commas
            inner = text[text.index("\n") + 1:text.rindex("\n]")]
            yield ("[\n" if first else ",\n") + inner
        first = False
    if first:
        yield rows_text(export.columns, [], output)
    elif output == "json":
        yield "\n]\n"


def _shown(columns: Sequence[str], row: dict) -> dict:
    return {c: (format_timestamp(row[c]) if c in TIMES and row[c] is not None else row[c])
            for c in columns}
