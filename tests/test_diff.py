"""`leadrules diff`: hand-computed counts for each kind of rule change, rules matched by meaning,
golden outputs, --fail-on gates, git revisions, and a store giving what the files give.

The leads of tests/data/diff, as base.rules scores them as of 2026-06-01 (score, fit, priority,
stage, owner). Points: visit +10, webinar +25, demo_request +30, unsubscribe -20, kept in 0..100;
Interaction -> Lead at score 30, Lead -> SalesLead at 60, SalesLead -> Customer on sales_ok.

    L1  CEO, 5000       visit, webinar, demo_request, sales_ok   65  70  A1  Customer      Team A
    L2  Manager, 2000   webinar, visit                           35  20  B2  Lead
    L3  Intern, 10      visit, visit, unsubscribe                 0   0  C3  Interaction
    L4  CEO, rival      webinar (never counted: a competitor)     0  50  A3  Disqualified
    L5  Student ..., 10 webinar, demo_request                    55   0  C2  Lead
    L6  Analyst, 3000   webinar, webinar, visit                  60  20  B1  SalesLead     Team A
    L7  (events only)   visit, demo_request                      40   0  C2  Lead
    L8  Director, 800   no events                                 0   0  C3  Name
    L9  Student ..,2000 webinar, webinar, demo_request           80  20  B1  SalesLead     Team A
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import clitools
import pytest
from clitools import invoke

from leadrules import dsl
from leadrules.engine.events import Event, parse_timestamp
from leadrules.engine.review.diff import Pair, Quoted, compare, match_rules
from leadrules.engine.scoring.evaluate import event_rows
from leadrules.engine.store.store import Store

DATA = Path(__file__).parent / "data" / "diff"
AS_OF = "2026-06-01"
SAMPLE = ("--leads", "leads.csv", "--events", "events.csv", "--as-of", AS_OF)


def golden(name: str, actual: str) -> str:
    return clitools.golden(DATA / name, actual)


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """The rule files and sample files under their short names in the current directory."""
    return clitools.work_in(tmp_path, monkeypatch, *DATA.glob("*.rules"), DATA / "leads.csv",
                            DATA / "events.csv")


def diff_json(new: str, *more) -> dict:
    result = invoke("diff", "base.rules", f"{new}.rules", *SAMPLE, "--format", "json", *more)
    assert (result.exit_code, result.stderr) == (0, "")
    return json.loads(result.stdout)


def examples(report: dict, kind: str) -> list[tuple[str, str, str]]:
    return [(e["lead_id"], e["summary"], e["reason"]) for e in report["examples"][kind]]


UNMOVED = {"Name": {"Name": 1}, "Interaction": {"Interaction": 1},
           "Disqualified": {"Disqualified": 1}}  # L8, L3, L4 in every test below


def test_a_changed_points_value(cwd):
    # webinar +25 -> +40: L1 65 -> 80, L2 35 -> 50, L5 55 -> 70 (band 2 -> 1, C2 -> C1, on to
    # SalesLead at its demo_request, assigned Team B), L6 60 -> 90, L9 80 -> 100 (clamped: its
    # demo_request now adds 20 instead of 30). L3, L4, L7, L8 have no webinar that counts.
    report = diff_json("points")
    assert report["rules"] == [
        {"status": "changed", "old_line": 8, "new_line": 8, "old": "when webinar then +25",
         "new": "when webinar then +40", "detail": None, "reordered_in": None}]
    assert report["unchanged_rules"] == 25
    assert report["changes"] == {"changed_leads": 5, "score": 5, "fit": 0, "grade": 0, "band": 1,
                                 "priority": 1, "stage": 1, "disqualified": 0, "label": 0,
                                 "owner": 1}
    assert report["score"] == {"up": 5, "down": 0, "min": 15, "median": 15, "max": 30,
                               "buckets": [{"change": "+10 .. +19", "leads": 3},
                                           {"change": "+20 .. +49", "leads": 2}]}
    assert report["stages"]["moves"] == {**UNMOVED, "Lead": {"Lead": 2, "SalesLead": 1},
                                         "SalesLead": {"SalesLead": 2},
                                         "Customer": {"Customer": 1}}
    assert (report["sales"]["entries"], report["sales"]["exits"]) == (1, 0)
    assert examples(report, "score_up") == [
        ("L6", "score 60 → 90 (+30)", '`when webinar then +40` gave +80 instead of +50'),
        ("L9", "score 80 → 100 (+20)", '`when webinar then +40` gave +80 instead of +50; '
                                       '`when demo_request then +30` gave +20 instead of +30'),
        ("L1", "score 65 → 80 (+15)", '`when webinar then +40` gave +40 instead of +25')]
    reason = ('`stage Lead -> SalesLead if score >= 60` took it to SalesLead on 2026-01-06; '
              'score 55 → 70: `when webinar then +40` gave +40 instead of +25')
    assert examples(report, "entered_sales") == [("L5", "stage Lead → SalesLead", reason)]
    assert examples(report, "stage_changed") == examples(report, "entered_sales")
    assert report["examples"]["score_down"] == report["examples"]["left_sales"] == []


def test_a_changed_threshold(cwd):
    # Lead -> SalesLead at 40 instead of 60: L5 (55) and L7 (40) go on to SalesLead and get
    # Team B (L7 has no employees field). L6 and L9 reach SalesLead an event earlier, with the
    # same results; L2 (35) stays a Lead.
    report = diff_json("threshold")
    assert [(r["status"], r["old_line"], r["new_line"], r["old"], r["new"])
            for r in report["rules"]] == [
        ("changed", 29, 29, "stage Lead -> SalesLead if score >= 60",
         "stage Lead -> SalesLead if score >= 40")]
    assert report["changes"] == {"changed_leads": 2, "score": 0, "fit": 0, "grade": 0, "band": 0,
                                 "priority": 0, "stage": 2, "disqualified": 0, "label": 0,
                                 "owner": 2}
    assert report["score"] is None
    assert report["stages"]["moves"] == {**UNMOVED, "Lead": {"Lead": 1, "SalesLead": 2},
                                         "SalesLead": {"SalesLead": 2},
                                         "Customer": {"Customer": 1}}
    assert (report["sales"]["entries"], report["sales"]["exits"]) == (2, 0)
    rule = ('`stage Lead -> SalesLead if score >= 40` (was `stage Lead -> SalesLead if score '
            '>= 60`) took it to SalesLead on ')
    assert examples(report, "entered_sales") == [
        ("L5", "stage Lead → SalesLead", rule + "2026-01-06"),
        ("L7", "stage Lead → SalesLead", rule + "2026-04-02")]


def test_an_added_rule(cwd):
    # disqualify "student": L5 and L9 are disqualified before their first event, so they score
    # 0 (band 3): L5 55 -> 0 (C2 -> C3, from Lead), L9 80 -> 0 (B1 -> B3, no longer hot, leaves
    # SalesLead and Team A).
    report = diff_json("added")
    assert report["rules"] == [
        {"status": "added", "old_line": None, "new_line": 25, "old": None,
         "new": 'disqualify "student" if title contains "Student"', "detail": None,
         "reordered_in": None}]
    assert report["changes"] == {"changed_leads": 2, "score": 2, "fit": 0, "grade": 0, "band": 2,
                                 "priority": 2, "stage": 2, "disqualified": 2, "label": 1,
                                 "owner": 1}
    assert report["score"] == {"up": 0, "down": 2, "min": -80, "median": -67.5, "max": -55,
                               "buckets": [{"change": "-50 or less", "leads": 2}]}
    assert report["disqualified"] == {"newly": 2, "no_longer": 0, "other_reason": 0}
    assert report["stages"]["moves"] == {
        **UNMOVED, "Lead": {"Lead": 2, "Disqualified": 1},
        "SalesLead": {"SalesLead": 1, "Disqualified": 1}, "Customer": {"Customer": 1}}
    assert (report["sales"]["entries"], report["sales"]["exits"]) == (0, 1)
    reason = ('new rule `disqualify "student" if title contains "Student"` took it to '
              'Disqualified from the start')
    assert examples(report, "newly_disqualified") == [
        ("L9", 'disqualified "student" (was SalesLead)', reason),
        ("L5", 'disqualified "student" (was Lead)', reason)]
    assert [e[:2] for e in examples(report, "stage_changed")] == [
        ("L5", "stage Lead → Disqualified"), ("L9", "stage SalesLead → Disqualified")]
    assert examples(report, "left_sales") == [("L9", "stage SalesLead → Disqualified", reason)]


def test_a_removed_stage_move(cwd):
    # Without Lead -> SalesLead, L1 (from Customer), L6 and L9 (from SalesLead) stay Leads with
    # no owner; nobody reaches SalesLead or Customer, so those columns are gone.
    report = diff_json("removed-move")
    assert report["rules"] == [
        {"status": "removed", "old_line": 29, "new_line": None,
         "old": "stage Lead -> SalesLead if score >= 60", "new": None, "detail": None,
         "reordered_in": None}]
    assert report["changes"] == {"changed_leads": 3, "score": 0, "fit": 0, "grade": 0, "band": 0,
                                 "priority": 0, "stage": 3, "disqualified": 0, "label": 0,
                                 "owner": 3}
    assert report["stages"]["moves"] == {**UNMOVED, "Lead": {"Lead": 3},
                                         "SalesLead": {"Lead": 2}, "Customer": {"Lead": 1}}
    assert report["stages"]["order"] == ["Name", "Interaction", "Lead", "SalesLead", "Customer",
                                         "Disqualified"]
    assert (report["sales"]["entries"], report["sales"]["exits"]) == (0, 3)
    reason = 'removed rule `stage Lead -> SalesLead if score >= 60` took it to SalesLead before'
    assert examples(report, "left_sales") == [("L1", "stage Customer → Lead", reason),
                                              ("L6", "stage SalesLead → Lead", reason),
                                              ("L9", "stage SalesLead → Lead", reason)]
    # L1 moved back two stages, L6 and L9 one
    assert [e[0] for e in examples(report, "stage_changed")] == ["L1", "L6", "L9"]


def test_the_same_rules_change_nothing(cwd):
    report = diff_json("base", "--examples", "0")
    assert report["rules"] == [] and report["unchanged_rules"] == 26
    assert report["changes"]["changed_leads"] == 0
    assert all(cases == [] for cases in report["examples"].values())


@pytest.mark.parametrize("output, name", [("text", "combined-text.expected"),
                                          ("markdown", "combined-markdown.expected"),
                                          ("json", "combined-json.expected")])
def test_golden_outputs(cwd, output, name):
    # combined.rules: an event declared, webinar +40, the band 1 and band 2 lines swapped,
    # disqualify "student" added, SalesLead -> Customer removed
    result = invoke("diff", "base.rules", "combined.rules", *SAMPLE, "--format", output)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == golden(name, result.stdout)


def test_fail_on_prints_the_report_then_the_gates_that_hold(cwd):
    result = invoke("diff", "base.rules", "combined.rules", *SAMPLE,
                    "--fail-on", "stage_changes > 30%", "--fail-on", "sales_entries > 0",
                    "--fail-on", "score_changes=5")
    assert result.exit_code == 1
    assert result.stdout == (DATA / "combined-text.expected").read_text(encoding="utf-8")
    assert result.stderr == ("fail-on: stage_changes > 30% holds: 3 of 9 leads (33.3%)\n"
                             "fail-on: score_changes = 5 holds: 5 of 9 leads (55.6%)\n")
    quiet = invoke("diff", "base.rules", "combined.rules", *SAMPLE,
                   "--fail-on", "stage_changes > 3", "--fail-on", "changed_leads < 5%")
    assert (quiet.exit_code, quiet.stderr) == (0, "")


@pytest.mark.parametrize("expression, problem", [
    ("stage_changes >> 5%", "write METRIC OP VALUE, like 'stage_changes > 5%' or "
                            "'sales_exits > 0'"),
    ("stages > 5", "unknown metric 'stages'"),
    ("stage_changes > many", "write METRIC OP VALUE, like 'stage_changes > 5%' or "
                             "'sales_exits > 0'"),
])
def test_a_bad_fail_on_expression_is_a_usage_error(cwd, expression, problem):
    result = invoke("diff", "base.rules", "points.rules", *SAMPLE, "--fail-on", expression)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: --fail-on {expression!r}: {problem}; metrics: score_changes, fit_changes, "
        "grade_changes, band_changes, priority_changes, stage_changes, disqualified_changes, "
        "label_changes, owner_changes, sales_entries, sales_exits, changed_leads, auc, auc_drop; "
        "operators: > >= < <= =; a value is a count or a percentage of the leads compared, or "
        "for auc and auc_drop a number like 0.7\n")
    assert result.stdout == ""


def test_usage_errors(cwd):
    cases = [
        (("base.rules",), "give OLD and NEW (rule files or REV:PATH), or --base REV and one FILE"),
        (("base.rules", "points.rules", "--base", "HEAD"),
         "--base REV compares one FILE with itself at REV; give one FILE, or OLD and NEW "
         "without --base"),
        (("base.rules", "points.rules", "--leads", "leads.csv"),
         "--leads and --events go together"),
        (("base.rules", "nothing.rules", *SAMPLE), "nothing.rules: no such rule file"),
        (("base.rules", "points.rules", "--db", "none.db"),
         "none.db: no store here; create one with `leadrules ingest` (or point --db / "
         "LEADRULES_DB at one)"),
    ]
    for args, message in cases:
        result = invoke("diff", *args)
        assert (result.exit_code, result.stderr) == (2, f"error: {message}\n"), args


def test_a_rule_file_with_errors_is_shown_as_check_shows_it(cwd):
    Path("broken.rules").write_text(
        Path("base.rules").read_text().replace("when visit ", "when visits"), encoding="utf-8")
    result = invoke("diff", "base.rules", "broken.rules", *SAMPLE)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "broken.rules:7:6: error[unknown-event]: unknown event 'visits'\n"
        "7 | when visits       then +10\n"
        "  |      ^^^^^^\n"
        "  = hint: did you mean 'visit'?\n")


def test_no_sales_stage_is_said_not_counted(cwd):
    report = diff_json("threshold", "--sales-from", "Sales")
    assert report["sales"] == {"from": "Sales", "old_stages": None, "new_stages": None,
                               "entries": 0, "exits": 0}
    text = invoke("diff", "base.rules", "threshold.rules", *SAMPLE, "--sales-from", "Sales")
    assert ("Neither ruleset has a stage Sales, so entries into sales and exits from it are not "
            "counted (choose the first sales stage with --sales-from).") in text.stdout
    assert "entered sales" not in text.stdout
    later = diff_json("threshold", "--sales-from", "Customer")
    assert (later["sales"]["old_stages"], later["sales"]["entries"]) == (["Customer"], 0)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_store_gives_what_the_files_give_and_keeps_no_results(cwd, monkeypatch, workers):
    """With 2 workers, the leads are split over two forked processes (however few they are)."""
    monkeypatch.setattr("leadrules.engine.scoring.spans.PARALLEL_LEADS", 1)
    ingest = invoke("ingest", "--db", "crm.db", "-q", "--leads", "leads.csv",
                    "--events", "events.csv")
    assert ingest.exit_code == 0, ingest.stderr
    result = invoke("diff", "base.rules", "combined.rules", "--db", "crm.db", "--as-of", AS_OF,
                    "--format", "json", "--workers", workers)
    assert (result.exit_code, result.stderr) == (0, "")
    from_store = json.loads(result.stdout)
    from_files = json.loads((DATA / "combined-json.expected").read_text(encoding="utf-8"))
    assert from_store["leads"].pop("source") == "the store crm.db"
    assert from_files["leads"].pop("source") == "leads.csv and events.csv"
    assert from_store == from_files
    with Store("crm.db") as store:
        assert store.counts().runs == 0


# --- git revisions --------------------------------------------------------------------------------

@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository with rules/b2b.rules committed as base.rules, then as points.rules."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    for name, value in (("GIT_AUTHOR_NAME", "Test"), ("GIT_AUTHOR_EMAIL", "test@example.com"),
                        ("GIT_COMMITTER_NAME", "Test"), ("GIT_COMMITTER_EMAIL", "test@example.com"),
                        ("GIT_CONFIG_NOSYSTEM", "1"), ("GIT_CONFIG_GLOBAL", os.devnull),
                        ("GIT_CEILING_DIRECTORIES", str(tmp_path))):
        monkeypatch.setenv(name, value)
    root = tmp_path / "repo"
    (root / "rules").mkdir(parents=True)
    for name in ("leads.csv", "events.csv"):
        shutil.copy(DATA / name, root / name)
    monkeypatch.chdir(root)

    def git(*args):
        subprocess.run(["git", *args], check=True, capture_output=True)
    git("init", "-q")
    for version in ("base", "points"):
        shutil.copy(DATA / f"{version}.rules", root / "rules" / "b2b.rules")
        git("add", ".")
        git("commit", "-q", "-m", version)
    return root


def test_git_revisions_on_either_side(repo, monkeypatch):
    expected = json.loads(invoke("diff", DATA / "base.rules", DATA / "points.rules", *SAMPLE,
                                 "--format", "json").stdout)
    runs = {
        ("HEAD~1:rules/b2b.rules", "rules/b2b.rules"): ("HEAD~1:rules/b2b.rules",
                                                         "rules/b2b.rules"),
        ("--base", "HEAD~1", "rules/b2b.rules"): ("HEAD~1:rules/b2b.rules", "rules/b2b.rules"),
        ("HEAD~1:rules/b2b.rules", "HEAD:rules/b2b.rules"): ("HEAD~1:rules/b2b.rules",
                                                              "HEAD:rules/b2b.rules"),
    }
    for args, names in runs.items():
        result = invoke("diff", *args, *SAMPLE, "--format", "json")
        assert (result.exit_code, result.stderr) == (0, ""), args
        report = json.loads(result.stdout)
        assert (report.pop("old")["name"], report.pop("new")["name"]) == names
        assert report == {k: v for k, v in expected.items() if k not in ("old", "new")}
    monkeypatch.chdir(repo / "rules")  # paths from here, as git reads REV:./PATH
    sample = ("--leads", "../leads.csv", "--events", "../events.csv", "--as-of", AS_OF)
    for args in (("--base", "HEAD~1", "b2b.rules"), ("HEAD~1:./b2b.rules", "b2b.rules")):
        result = invoke("diff", *args, *sample, "--format", "json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["changes"] == expected["changes"]
    for args in (("--base", "HEAD~1", "b2b.rules"), ("HEAD~1:./b2b.rules", "b2b.rules"),
                 ("HEAD~1:../rules/b2b.rules", "b2b.rules")):
        named = invoke("diff", *args, *sample, "--format", "json")
        assert json.loads(named.stdout)["old"]["name"] == "HEAD~1:rules/b2b.rules"


def test_git_revision_errors(repo, tmp_path, monkeypatch):
    cases = [
        (("nosuch:rules/b2b.rules", "rules/b2b.rules"),
         "nosuch:rules/b2b.rules: unknown revision 'nosuch'"),
        (("HEAD~1:rules/other.rules", "rules/b2b.rules"),
         "HEAD~1:rules/other.rules: no file 'rules/other.rules' at revision 'HEAD~1'"),
        (("--base", "HEAD~5", "rules/b2b.rules"), "HEAD~5:rules/b2b.rules: unknown revision "
                                                  "'HEAD~5'"),
        (("--base", "HEAD", str(tmp_path / "elsewhere.rules")),
         f"{tmp_path / 'elsewhere.rules'}: not inside the git repository at {repo}"),
    ]
    for args, message in cases:
        result = invoke("diff", *args, *SAMPLE)
        assert (result.exit_code, result.stderr) == (2, f"error: {message}\n"), args
    (tmp_path / "plain").mkdir()
    monkeypatch.chdir(tmp_path / "plain")
    outside = invoke("diff", "HEAD:rules/b2b.rules", DATA / "base.rules", *SAMPLE)
    assert (outside.exit_code, outside.stderr) == (
        2, "error: HEAD:rules/b2b.rules: the current directory is not in a git repository, so "
           "there is no revision to read\n")


def test_a_revision_with_errors_is_shown_under_its_revision_name(repo):
    (repo / "rules" / "b2b.rules").write_text("when visits then +10\n", encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-am", "broken"], check=True, capture_output=True)
    result = invoke("diff", "HEAD:rules/b2b.rules", DATA / "base.rules", *SAMPLE)
    assert result.exit_code == 2
    assert result.stderr.startswith("HEAD:rules/b2b.rules:1:6: error[unknown-event]: unknown "
                                    "event 'visits'\n1 | when visits then +10\n")


# --- statements matched by meaning ----------------------------------------------------------------

def changes(old: str, new: str) -> list[tuple]:
    pairs = match_rules(dsl.parse(old), dsl.parse(new))
    return [(p.status, p.old_line, p.new_line, p.reordered) for p in pairs
            if p.status != "unchanged"]


HEAD = "events a, b\nstages S, T, U\n"


@pytest.mark.parametrize("old, new, expected", [
    # a line that only moved, outside any first-match list, is unchanged
    (HEAD + "when a then +1\nwhen b then +2\n", HEAD + "when b then +2\nwhen a then +1\n", []),
    # points, a limit: changed; the event or its `where`: another rule
    (HEAD + "when a then +1\n", HEAD + "when a then +1 once\n", [("changed", 3, 3, None)]),
    (HEAD + "when a then +1\n", HEAD + "when b then +1\n",
     [("removed", 3, None, None), ("added", None, 3, None)]),
    # first-match lists: a line that moved among them is reordered, the rest kept in order
    (HEAD + "grade A if fit >= 5\ngrade B if fit >= 2\ngrade C otherwise\n",
     HEAD + "grade B if fit >= 2\ngrade A if fit >= 5\ngrade C otherwise\n",
     [("reordered", 4, 3, "grade lines")]),
    (HEAD + "stage S -> T on a\nstage S -> U on a\nstage T -> U on b\n",
     HEAD + "stage T -> U on b\nstage S -> U on a\nstage S -> T on a\n",
     [("reordered", 4, 4, "moves out of S")]),
    # a `*` move is tried among the moves out of every stage
    (HEAD + "stage S -> T on a\nstage * -> U on a\n",
     HEAD + "stage * -> U on a\nstage S -> T on a\n", [("reordered", 4, 3, "moves out of S")]),
    # a changed line that also moved
    (HEAD + "band 1 if score >= 50\nband 2 if score >= 20\n",
     HEAD + "band 2 if score >= 25\nband 1 if score >= 50\n", [("changed", 4, 3, "band lines")]),
    # two rules of one identity: paired in file order
    (HEAD + "when a then +1\nwhen a then +2 once\n", HEAD + "when a then +3\nwhen a then +2 once\n",
     [("changed", 3, 3, None)]),
    # declarations once per file: changed, with the names that changed
    (HEAD, "events a, c\nstages S, T, U\n", [("changed", 1, 1, None)]),
])
def test_statements_are_matched_by_meaning(old, new, expected):
    assert changes(old, new) == expected


def test_a_removed_statement_is_listed_where_it_stood():
    old = HEAD + "when a then +1\nwhen b then +2\nfit +1 if score > 1\n"
    new = HEAD + "fit +1 if score > 1\nwhen a then +1\n"
    pairs = match_rules(dsl.parse(old), dsl.parse(new))
    assert [(p.status, p.old_line, p.new_line) for p in pairs] == [
        ("unchanged", 1, 1), ("unchanged", 2, 2), ("unchanged", 5, 3), ("unchanged", 3, 4),
        ("removed", 4, None)]
    changed = match_rules(dsl.parse(HEAD), dsl.parse("events b, c, a\nstages S, U, T\n"))
    assert [p.detail for p in changed if p.status == "changed"] == [
        "events: added c", "stages: order now S, U, T"]


# --- reasons, through the Python API --------------------------------------------------------------

def reason_text(parts) -> str:
    return "".join(f'"{p.text}"' if isinstance(p, Quoted) else p for p in parts)


def test_a_move_on_an_event_names_the_earlier_arrival_that_made_it_possible():
    # L6 with a sales_ok between its second webinar and its visit: at +40 a webinar it is a
    # SalesLead by then (60 + 30 on 03-02 instead of 60 at the visit on 03-03), so sales_ok
    # takes it on to Customer; at +25 the sales_ok finds it a Lead and does nothing.
    pair = Pair.of(*(dsl.parse((DATA / name).read_text(encoding="utf-8"), name)
                     for name in ("base.rules", "points.rules")))
    events = [Event(f"e{n}", "L6", kind, parse_timestamp(ts)) for n, (kind, ts) in enumerate([
        ("webinar", "2026-03-01T09:00:00Z"), ("webinar", "2026-03-02T09:00:00Z"),
        ("sales_ok", "2026-03-02T12:00:00Z"), ("visit", "2026-03-03T09:00:00Z")])]
    profile = {"title": "Analyst", "employees": "3000", "email": "a@corp.example"}
    report = compare(pair, [("L6", profile, event_rows(reversed(events)))],
                     parse_timestamp(AS_OF), source="one lead", as_of_source="given")
    (example,) = report.examples["stage_changed"]
    assert example.summary == "stage SalesLead → Customer"
    assert reason_text(example.reason) == (
        'reached SalesLead on 2026-03-02 instead of 2026-03-03; "stage SalesLead -> Customer on '
        'sales_ok" took it to Customer on 2026-03-02; score 60 → 90: "when webinar then +40" '
        'gave +80 instead of +50')
    assert report.moves == {("SalesLead", "Customer"): 1}
    assert report.metrics() == {
        "score_changes": 1, "fit_changes": 0, "grade_changes": 0, "band_changes": 0,
        "priority_changes": 0, "stage_changes": 1, "disqualified_changes": 0, "label_changes": 0,
        "owner_changes": 0, "sales_entries": 0, "sales_exits": 0, "changed_leads": 1}


# --- pre-commit hooks -----------------------------------------------------------------------------

def test_the_pre_commit_hooks_run_leadrules_commands_that_take_several_files(cwd):
    text = (Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    entries = [line.split(":", 1)[1].split() for line in text.splitlines()
               if line.strip().startswith("entry:")]
    assert entries == [["leadrules", "check"], ["leadrules", "fmt", "--check"],
                       ["leadrules", "test"]]
    for entry in entries[:2]:  # pre-commit passes the staged .rules files
        result = invoke(*entry[1:], "base.rules", "points.rules")
        assert result.exit_code == 0, (entry, result.stdout, result.stderr)
    assert invoke("test", "--help").exit_code == 0
