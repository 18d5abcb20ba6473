"""The HTML report: self-contained, and rendered by a real browser (headless Chromium, when the
machine has one; .ci/run installs it) with its charts, its numbers and no console message."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from clitools import invoke

pytest.importorskip("matplotlib", reason="the HTML report needs the `report` extra")

from test_report import RULES, db  # noqa: E402,F401  (the hand-made store, as a fixture)

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def headless(*args: str) -> subprocess.CompletedProcess:
    found = browser()
    if found is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    return subprocess.run([found, "--headless", "--disable-gpu", "--no-sandbox",
                           "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=120)


def console(stderr: str) -> list[str]:
    """What the page logged to the browser's console (Chromium writes it as CONSOLE lines)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def page(db, tmp_path_factory) -> Path:  # noqa: F811
    path = tmp_path_factory.mktemp("html") / "report.html"
    result = invoke("report", "all", RULES, "--db", db, "--html", path)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"HTML report: {path}\n"
    return path


def test_the_report_is_one_self_contained_file(page):
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text
    # nothing to fetch: no sources, links or imports; the SVGs refer only to their own parts
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#)|@import|url\((?!#)""", text)
    assert text.count("<svg") == 6  # funnel, flow, cohorts, velocity, SLAs, goals
    assert "Funnel report: Report test funnel" in text


def test_headless_chromium_renders_it_with_its_numbers_and_no_console_message(page):
    shown = headless("--dump-dom", page.as_uri())
    assert shown.returncode == 0, shown.stderr
    assert console(shown.stderr) == []
    dom = shown.stdout
    assert dom.count("<svg") == 6
    for figure in ("4  (57.1%)",  # the funnel chart: Lead, and of the stage before
                   "33.3%", "72.0", "Team B",  # the SLA table
                   "on track", "not started", "missed",  # the goals
                   "22.5", "27.0"):  # velocity
        assert figure in dom, figure


def test_the_console_check_sees_a_page_that_logs(tmp_path):
    """The check above would notice: a page that logs an error shows as a CONSOLE line."""
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><script>console.error("broken")</script></body></html>')
    shown = headless("--dump-dom", bad.as_uri())
    assert any('"broken"' in line for line in console(shown.stderr))


def test_a_screenshot_has_the_charts(page, tmp_path):
    shot = tmp_path / "report.png"
    shown = headless(f"--screenshot={shot}", "--window-size=1100,2400", page.as_uri())
    assert shown.returncode == 0, shown.stderr
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one


def test_without_matplotlib_html_is_a_clear_error(db, tmp_path, monkeypatch):  # noqa: F811
    from leadrules.engine.report import charts

    monkeypatch.setattr(charts, "available", lambda: False)
    result = invoke("report", "all", RULES, "--db", db, "--html", tmp_path / "r.html")
    assert (result.exit_code, result.stderr) == (
        2, "error: --html draws its charts with matplotlib, which is not installed: "
           "pip install 'leadrules[report]'\n")
    assert not (tmp_path / "r.html").exists()
