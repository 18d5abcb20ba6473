"""`backtest --html`: one self-contained page with the ROC curve, the lift and capture charts
(engine.report.charts) and every table, loaded in headless Chromium when there is one."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clitools import invoke, work_in
from leadrules.engine.backtest import stats
from leadrules.engine.bundled import ruleset_path, sample_outcomes_path, sample_paths

DATA = Path(__file__).parent / "data" / "backtest"
CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


@pytest.fixture
def page(tmp_path, monkeypatch) -> Path:
    leads, events = sample_paths()
    work_in(tmp_path, monkeypatch, ruleset_path(), leads, events, sample_outcomes_path())
    result = invoke("backtest", "b2b.rules", "--leads", "leads.csv", "--events", "events.csv",
                    "--outcomes", "outcomes.csv", "--as-of", "2026-11-01", "--handover",
                    "SalesLead", "--html", "report.html")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (DATA / "sample.expected").read_text(encoding="utf-8")
    return tmp_path / "report.html"


def test_the_page_has_the_charts_and_every_table(page):
    text = page.read_text(encoding="utf-8")
    assert text.count("<svg") == 3
    for title in ("ROC curve of the score", "Lift by decile of the score",
                  "Converted leads captured (%)"):
        assert title in text
    assert "B2B demand funnel (AUC 0.812)" in text  # the ROC curve's legend
    for figure in ("<td>0.812</td>", "<td>2.67</td>", "<td>40.7%</td>", "53.3% (8/15)",
                   "precision 50.0%", "grade C converts better than grade B"):
        assert figure in text
    # self-contained: nothing is fetched (the SVG namespaces are names, not requests)
    assert not re.search(r"""(src|href)=["']?https?:""", text)


def test_roc_at_reads_the_curve_between_its_points():
    points = [(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (1.0, 1.0)]
    assert [stats.roc_at(points, x) for x in (0.0, 0.25, 0.5, 0.75, 1.0)] == [
        0.5, 0.5, 0.5, 0.75, 1.0]


def test_the_page_of_two_sides_draws_both():
    from leadrules.engine.backtest.html import page as make_page
    from leadrules.engine.backtest.outcomes import read_outcomes
    from leadrules.engine.events import parse_timestamp
    from leadrules.engine.review.diff import compare
    from leadrules.engine.review.revisions import diff_pair
    from leadrules.engine.scoring.evaluate import event_rows
    from leadrules.engine.store.ingest import sample_leads

    pair = diff_pair(str(DATA / "small.rules"), str(DATA / "worse.rules"), None)
    leads = [(lead, profile, event_rows(events))
             for lead, profile, events in sample_leads(DATA / "leads.csv", DATA / "events.csv")]
    found = compare(pair, leads, parse_timestamp("2026-02-01"), source="small",
                    as_of_source="given", outcome=read_outcomes(DATA / "outcomes.csv"))
    text = make_page(found.outcomes)
    assert "old (AUC 0.656)" in text and "new (AUC 0.406)" in text
    assert text.count("<svg") == 3 and "Priority matrix (new)" in text


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary: apt-get install chromium")
def test_the_page_renders_in_headless_chromium_without_console_errors(page):
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line for line in done.stderr.splitlines() if ":CONSOLE" in line] == []
    dom = done.stdout
    assert "<h1>leadrules backtest</h1>" in dom and dom.count("<svg") == 3
    assert "0.812" in dom and "14.0%: 41 of 292 measured leads converted" in dom
