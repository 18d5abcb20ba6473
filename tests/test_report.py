"""`leadrules report`: every figure on a small hand-made store, computed by hand.

The store (tests/data/report): seven leads scored as of 2026-03-02 by funnel.rules:
  A (DE)  Name 01-01, Lead 01-05, Sales 01-10 (SLA met 01-11), Customer 02-03
  B (AT)  Name 01-02, Lead 01-03, Sales 01-20 (SLA met late 01-25), back to Lead 02-10 (a
          recycle), Sales again 03-01 (SLA still open)
  C (DE)  Name 01-15, disqualified 02-01 (spam)
  D (DE)  no event: in Name with no dated entry
  E (DE)  Name 02-20, Lead 02-25 (still there: an open stay)
  F (XX)  Name 01-03, disqualified by its profile at its first event
  G (FR)  Name 01-04, straight to Sales 01-06 (skipping Lead; SLA overdue)
"""

import csv
import datetime as dt
import io
import json
from pathlib import Path

import attrs
import pytest

from clitools import golden, invoke
from leadrules import dsl
from leadrules.engine.report import exports
from leadrules.engine.report.command import report
from leadrules.engine.report.goals import evaluate_goals
from leadrules.engine.report.scope import make_scope
from leadrules.engine.report.views import build
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.events import parse_timestamp
from leadrules.engine.store.ingest import ingest
from leadrules.engine.store.store import Store
from leadrules.engine.store.schema import SCHEMA_VERSION

DATA = Path(__file__).parent / "data" / "report"
RULES = DATA / "funnel.rules"
AS_OF = "2026-03-02"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("report") / "funnel.db"
    with Store(path) as store:
        ingest(store, str(DATA / "leads.csv"), str(DATA / "events.csv"))
        run_rules(store, compile_ruleset(dsl.load(RULES)), parse_timestamp(AS_OF))
    return path


def figures(db: Path, view: str, **options) -> dict[str, list[dict]]:
    ruleset = dsl.load(RULES)
    with Store(db) as store:
        scope = make_scope(store, compile_ruleset(ruleset), ruleset, **options)
        return {f.view: [dict(r) for r in f.rows] for f in build(scope, view)}


def table(rows: list[dict], *keys: str) -> list[tuple]:
    return [tuple(r[k] for k in keys) for r in rows]


FLOW = ("stage", "start", "in", "out_forward", "out_backward", "out_funnel", "end")


def test_flow_over_the_whole_history(db):
    """Lead: B enters twice (the recycle); Sales: B leaves backward, A forward; C and F leave
    the funnel; D, with no date, is in no flow."""
    assert table(figures(db, "flow")["flow"], *FLOW) == [
        ("Name", 0, 6, 4, 0, 2, 0),
        ("Lead", 0, 4, 3, 0, 0, 1),
        ("Sales", 0, 4, 1, 1, 0, 2),
        ("Customer", 0, 1, 0, 0, 0, 1),
        ("Disqualified", 0, 2, 0, 0, 0, 2)]


def test_flow_in_february_balances_at_both_ends(db):
    """[02-01, 03-01): C's exit on 02-01 counts (it is in the period), B's entry into Sales on
    03-01 does not (the period ends before it), so B ends February in Lead."""
    rows = figures(db, "flow", start=dt.date(2026, 2, 1), end=dt.date(2026, 2, 28))["flow"]
    assert table(rows, *FLOW) == [
        ("Name", 1, 1, 1, 0, 1, 0),
        ("Lead", 0, 2, 0, 0, 0, 2),
        ("Sales", 3, 0, 1, 1, 0, 1),
        ("Customer", 0, 1, 0, 0, 0, 1),
        ("Disqualified", 1, 1, 0, 0, 0, 2)]


def test_flow_by_month_and_country(db):
    rows = figures(db, "flow", period="month", by="country")["flow"]
    assert {r["period"] for r in rows} == {"2026-01", "2026-02", "2026-03"}
    sales_de = [(r["period"], r["start"], r["in"], r["out"], r["end"]) for r in rows
                if r["group"] == "DE" and r["stage"] == "Sales"]
    assert sales_de == [("2026-01", 0, 1, 0, 1), ("2026-02", 1, 0, 1, 0), ("2026-03", 0, 0, 0, 0)]
    for r in rows:
        assert r["start"] + r["in"] - r["out"] == r["end"]


def test_funnel_reached_any_and_all_stages(db):
    """G skipped Lead: it reached Lead "or a later stage", but not every stage in order."""
    rows = figures(db, "funnel")["funnel"]
    assert table(rows, "stage", "reached", "in_order") == [
        ("Name", 7, 7), ("Lead", 4, 3), ("Sales", 3, 2), ("Customer", 1, 1),
        ("Disqualified", 2, None)]
    assert [r["next_step"] for r in rows] == [None, 4 / 7, 3 / 4, 1 / 3, None]
    assert [r["cumulative"] for r in rows] == [1.0, 4 / 7, 3 / 7, 1 / 7, 2 / 7]


def test_funnel_of_the_leads_that_entered_in_a_period(db):
    """Only the leads whose funnel entry is in February (E): no undated lead."""
    rows = figures(db, "funnel", start=dt.date(2026, 2, 1))["funnel"]
    assert table(rows, "stage", "reached") == [("Name", 1), ("Lead", 1), ("Sales", 0),
                                               ("Customer", 0), ("Disqualified", 0)]


def test_a_cohort_converts_after_its_period(db):
    """January's cohort (A, B, C, F, G): A reached Customer on 02-03, after January, 33 days
    after its entry: it counts by the as-of, not within 30 days."""
    rows = figures(db, "conversion", start=dt.date(2026, 1, 1), end=dt.date(2026, 1, 31),
                   within=30 * 86_400_000_000)["conversion"]
    assert rows == [dict(period="2026-01", group="all", entered=5, reached=1, rate=0.2,
                         within=0, within_rate=0.0)]
    rows = figures(db, "conversion", within=33 * 86_400_000_000)["conversion"]
    assert table(rows, "period", "entered", "reached", "within") == [
        ("2026-01", 5, 1, 1), ("2026-02", 1, 0, 0)]


def test_conversion_between_chosen_stages_by_quarter(db):
    rows = figures(db, "conversion", cohort="Lead", target="Sales", period="quarter")
    assert table(rows["conversion"], "period", "entered", "reached", "rate") == [
        ("2026-Q1", 3, 2, 2 / 3)]


def test_velocity_with_open_stays(db):
    """Name: stays of 0 (F), 1 (B), 2 (G), 4 (A), 5 (E) and 17 (C) days; Lead: 5, 17, 19,
    and E's open stay of 5 days; Sales: 24 and 21, open: B 1 day, G 55 days."""
    rows = {r["stage"]: r for r in figures(db, "velocity")["velocity"]}
    assert rows["Name"] == dict(group="all", stage="Name", n=6, p25=1.25, median=3.0, p75=4.75,
                                p90=11.0, mean=29 / 6, open=0, open_median=None)
    assert table([rows["Lead"]], "n", "median", "mean", "open", "open_median") == [
        (3, 17.0, 41 / 3, 1, 5.0)]
    assert table([rows["Sales"]], "n", "median", "p25", "open", "open_median") == [
        (2, 22.5, 21.75, 2, 28.0)]
    assert table([rows["Customer"]], "n", "median", "open", "open_median") == [
        (0, None, 1, 27.0)]


def test_velocity_between_stages(db):
    rows = figures(db, "velocity")["velocity_pairs"]
    assert table(rows, "source", "target", "n", "median") == [
        ("Name", "Lead", 3, 4.0), ("Lead", "Sales", 2, 11.0), ("Sales", "Customer", 1, 24.0),
        ("Name", "Customer", 1, 33.0)]


def test_sla_met_in_time_late_overdue_and_open(db):
    """A met in 24 h; B's first entry overdue, met late after 120 h; B's second entry open;
    G overdue, never met."""
    rows = figures(db, "sla")["sla"]
    keys = ("group", "entries", "due", "met", "late", "overdue", "left", "open", "in_time",
            "median_hours")
    assert table(rows, *keys) == [
        ("Team A", 1, 1, 1, 0, 0, 0, 0, 1.0, 24.0),
        ("Team B", 3, 2, 0, 1, 1, 0, 1, 0.0, 120.0),
        ("(all)", 4, 3, 1, 1, 1, 0, 1, 1 / 3, 72.0)]
    assert {r["rule"] for r in rows} == {"line 14: sla Sales: contact within 2 days"}


def test_every_goal_status(db):
    ruleset = dsl.load(RULES)
    with Store(db) as store:
        results = evaluate_goals(make_scope(store, compile_ruleset(ruleset), ruleset))
    assert [(r.goal.name, r.actual, r.status) for r in results] == [
        ("not started", None, "not started"),
        ("achieved", 1, "achieved"),
        ("on track", 3, "on track"),  # 3 of 4 at half time: 6 at this pace
        ("behind", 3, "behind"),  # 6 of 10 at this pace
        ("missed", 3, "missed"),  # January is over: A, B and G entered Sales
        ("German leads to sales", 0.5, "on track"),  # of A and E, A
        ("fast to sales", 11.0, "behind"),  # A 5 days, B 17
        ("in sales", 2, "on track")]  # B and G
    on_track = results[2]
    assert on_track.elapsed == pytest.approx(0.5, abs=1e-9)
    assert on_track.projected == pytest.approx(6.0, abs=1e-6)


def test_a_goals_where_reads_results_and_days_in_stage(db):
    """Of the leads that entered Sales (A, B, G): in Customer or Sales at the as-of, and 20 or
    more days in that stage (A 27 days, since 02-03; G 55, since 01-06; not B, in Sales again
    since 03-01). Of those that entered Lead (A, B, E), under 10 days in their stage: B, E."""
    ruleset = dsl.load(RULES)
    goals = dsl.analyze(
        RULES.read_text(encoding="utf-8") +
        'goal "settled": entered Sales >= 1 where stage in [Customer, Sales] '
        "and days in stage >= 20\n"
        'goal "fresh": entered Lead >= 1 where days in stage < 10\n', "goals.rules"
    ).raise_for_errors()
    with Store(db) as store:
        scope = make_scope(store, compile_ruleset(ruleset), ruleset)
        results = evaluate_goals(attrs.evolve(scope, ruleset=goals))
    assert [(r.goal.name, r.actual) for r in results][-2:] == [("settled", 2), ("fresh", 2)]


def test_a_goal_on_disqualified_leads_with_a_where(db):
    """Disqualified is not a stage of the funnel, but a goal may count its entries: C (DE,
    spam) and F (XX, by its profile) were disqualified; of them, one in DE."""
    ruleset = dsl.load(RULES)
    goals = dsl.analyze(
        RULES.read_text(encoding="utf-8") +
        'goal "few lost in DE": entered Disqualified <= 5 where country = "DE"\n',
        "goals.rules").raise_for_errors()
    with Store(db) as store:
        scope = make_scope(store, compile_ruleset(ruleset), ruleset)
        results = evaluate_goals(attrs.evolve(scope, ruleset=goals))
    assert [(r.goal.name, r.actual) for r in results][-1:] == [("few lost in DE", 1)]


def test_report_all_text_golden(db):
    result = invoke("report", "all", RULES, "--db", db)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == golden(DATA / "all.expected", result.stdout)


def test_report_markdown_golden(db):
    result = invoke("report", "funnel", RULES, "--db", db, "--format", "markdown")
    assert result.stdout == golden(DATA / "funnel.md.expected", result.stdout)


def test_report_csv_and_json_carry_every_figure(db):
    flows = invoke("report", "flow", RULES, "--db", db, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(flows.stdout)))
    assert rows[2] == {"stage": "Sales", "start": "0", "in": "4", "out_forward": "1",
                       "out_backward": "1", "out_funnel": "0", "out": "2", "end": "2"}
    data = json.loads(invoke("report", "all", RULES, "--db", db, "--format", "json").stdout)
    assert (data["run"], data["as_of"], data["period"]["from"]) == (1, "2026-03-02T00:00:00Z",
                                                                    "2026-01-01")
    assert [f["view"] for f in data["figures"]] == [
        "funnel", "flow", "conversion", "velocity", "velocity_pairs", "sla", "goals"]
    sla = data["figures"][5]["rows"][2]
    assert (sla["group"], sla["in_time"], sla["median_hours"]) == ("(all)", 0.3333, 72.0)
    several = invoke("report", "all", RULES, "--db", db, "--format", "csv").stdout
    assert several.startswith("# funnel: Funnel: stages reached, of every lead of the run\n"
                              "stage,reached,next_step,cumulative,in_order,")


def test_goals_fail_on(db):
    behind = invoke("report", "goals", RULES, "--db", db, "--fail-on", "behind")
    assert behind.exit_code == 1
    assert behind.stderr == ('goal "behind" is behind\ngoal "missed" is missed\n'
                             'goal "fast to sales" is behind\n')
    missed = invoke("report", "goals", RULES, "--db", db, "--fail-on", "missed")
    assert (missed.exit_code, missed.stderr) == (1, 'goal "missed" is missed\n')


@pytest.mark.parametrize("args, message", [
    (("--by", "contry"), "error: --by contry: not a field of {rules} nor one of owner, label, "
                         "grade, band, priority; did you mean 'country'?\n"),
    (("--cohort", "Sale"), "error: --cohort Sale: not a stage of {rules}; did you mean "
                           "'Sales'?\n"),
    (("--within", "a month"), "error: --within a month: write a number of days, e.g. 30d\n"),
    (("--from", "2026-04-01"), "error: --from 2026-04-01: the period starts after it ends "
                               "(2026-03-02, the run's as-of or --to)\n"),
    (("--run", "7"), "error: --run 7: no such run in {db}\n"),
])
def test_bad_options_are_usage_errors(db, args, message):
    result = invoke("report", "conversion", RULES, "--db", db, *args)
    assert (result.exit_code, result.stderr) == (2, message.format(rules=RULES, db=db))


def test_a_ruleset_that_never_ran_is_an_error(db, tmp_path):
    other = tmp_path / "other.rules"
    other.write_text(RULES.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    result = invoke("report", "funnel", other, "--db", db)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {db}: no run of {other} in the store")


def test_leads_export_for_a_crm(db):
    found = invoke("leads", "--db", db, "--rules", RULES, "--stage", "Sales", "--fields",
                   "country", "--format", "csv")
    assert list(csv.reader(io.StringIO(found.stdout))) == [
        ["lead_id", "score", "fit", "grade", "band", "priority", "stage", "disqualified",
         "owner", "label", "stage_entered_at", "country"],
        ["B", "0", "0", "", "", "", "Sales", "", "Team B", "", "2026-03-01T00:00:00Z", "AT"],
        ["G", "0", "0", "", "", "", "Sales", "", "Team B", "", "2026-01-06T00:00:00Z", "FR"]]


def test_leads_unknown_stage_or_field_is_an_error_with_a_suggestion(db):
    stage = invoke("leads", "--db", db, "--stage", "sales")
    assert (stage.exit_code, stage.stderr) == (
        2, "error: --stage sales: no stage of that name in run 1's rules; did you mean "
           "'Sales'? (known: Customer, Disqualified, Lead, Name, Sales)\n")
    field = invoke("leads", "--db", db, "--rules", RULES, "--fields", "contry")
    assert field.exit_code == 2
    assert "did you mean 'country'?" in field.stderr


def test_actions_export_with_open_and_overdue_slas(db):
    rows = json.loads(invoke("actions", "--db", db, "--format", "json").stdout)
    assert [(r["lead_id"], r["at"][:10], r["kind"], r["value"]) for r in rows] == [
        ("G", "2026-01-06", "assign", "Team B"),
        ("G", "2026-01-06", "sla", "overdue"),
        ("A", "2026-01-10", "assign", "Team A"),
        ("B", "2026-01-20", "assign", "Team B"),
        ("B", "2026-03-01", "assign", "Team B"),
        ("B", "2026-03-01", "sla", "pending")]
    since = invoke("actions", "--db", db, "--kind", "sla", "--since", "2026-02-01",
                   "--format", "csv")
    assert since.stdout.splitlines()[1].startswith("B,2026-03-01T00:00:00Z,sla,pending,Sales,"
                                                   "2026-03-03T00:00:00Z,Sales,Team B,")
    assert invoke("actions", "--db", db, "--since", "1").stdout == (
        "lead_id,at,kind,value,stage,due,lead_stage,owner,rule,cause\n")


def test_report_through_the_api_matches_the_cli(db):
    with Store(db) as store:
        outcome = report(store, dsl.load(RULES), "goals", output="text")
    assert outcome.text == invoke("report", "goals", RULES, "--db", db).stdout
    assert outcome.failing == ()


def test_leads_export_api_orders_by_score(db):
    with Store(db) as store:  # the rows are read as they are used, while the store is open
        found = exports.lead_export(store, None, top=2)
        assert [r["lead_id"] for r in found.rows] == ["A", "B"]


def test_a_schema_5_store_gets_its_stage_history_completed(tmp_path):
    """The migration dates each lead's entry at its first event by its run's as-of, and a
    disqualification by the profile then too; a lead without events keeps an undated entry."""
    import sqlite3

    from leadrules.engine.store.schema import _SCHEMA_1, MIGRATIONS

    path = tmp_path / "v5.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(_SCHEMA_1)
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        for version in (1, 2, 3, 4):
            conn.executescript(MIGRATIONS[version])
        conn.executescript(
            "INSERT INTO meta VALUES ('schema_version', '5');"
            "INSERT INTO rulesets VALUES (1, 'abc');"
            "INSERT INTO runs (ruleset_hash, as_of, created_at, data_version, mode) "
            "VALUES ('abc', 500, 'now', 0, 'full');"
            "INSERT INTO leads (lead_id, profile, origin) VALUES ('A', '{}', 'file'), "
            "('B', '{}', 'file'), ('C', '{}', 'file');"
            "INSERT INTO events VALUES ('A', 100, 'a1', 'visit', '{}', 0), "
            "('A', 50, 'a0', 'visit', '{}', 0), ('A', 900, 'a9', 'visit', '{}', 0), "
            "('B', 70, 'b1', 'visit', '{}', 0);"
            "INSERT INTO results (ruleset, lead_id, run_id, stage) VALUES (1, 'A', 1, 'Lead'), "
            "(1, 'B', 1, 'Disqualified'), (1, 'C', 1, 'Name');"
            "INSERT INTO stage_moves VALUES (1, 'A', 1, 100, 'Name', 'Lead', 'line 3: x', 'a1'), "
            "(1, 'B', 1, NULL, 'Name', 'Disqualified', 'line 4: y', 'profile');")
    conn.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        moves = [(m["lead_id"], m["seq"], m["ts"], m["from_stage"], m["to_stage"], m["cause"])
                 for m in store.details("stage_moves", "abc")]
    assert moves == [("A", 0, 50, None, "Name", "a0"), ("A", 1, 100, "Name", "Lead", "a1"),
                     ("B", 0, 70, None, "Name", "b1"),
                     ("B", 1, 70, "Name", "Disqualified", "profile"),
                     ("C", 0, None, None, "Name", "profile")]


def test_demo_without_matplotlib_says_how_to_get_the_html_report(tmp_path, monkeypatch):
    from leadrules.engine.report import charts

    monkeypatch.setattr(charts, "available", lambda: False)
    result = invoke("demo", "--db", tmp_path / "demo.db", "--top", 0)
    assert result.exit_code == 0, result.stderr
    assert ("HTML report: not written; its charts need matplotlib: "
            "pip install 'leadrules[report]'\n") in result.stdout
    assert not (tmp_path / "demo-report.html").exists()
    assert "Goals\n" in result.stdout


def test_sla_by_the_month_the_entries_began(db):
    rows = figures(db, "sla", period="month")["sla"]
    assert table(rows, "period", "group", "entries", "met", "late", "overdue", "open") == [
        ("2026-01", "Team A", 1, 1, 0, 0, 0), ("2026-01", "Team B", 2, 0, 1, 1, 0),
        ("2026-01", "(all)", 3, 1, 1, 1, 0),
        ("2026-03", "Team B", 1, 0, 0, 0, 1), ("2026-03", "(all)", 1, 0, 0, 0, 1)]
