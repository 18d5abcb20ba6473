"""`leadrules init DIR`: a starter repository whose check, fmt --check and test pass at once, and
whose pre-commit hooks pass when pre-commit runs them for real."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import invoke
from leadrules.engine import bundled

ROOT = Path(__file__).resolve().parent.parent
FILES = ["rulesets/b2b.rules", "rulesets/b2b.tests", "rulesets/sample/leads.csv",
         "rulesets/sample/events.csv", ".pre-commit-config.yaml", ".github/workflows/rules.yml",
         ".gitignore", "requirements.txt", "README.md"]


@pytest.fixture
def starter(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "team-rules")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[:len(FILES)] == [f"wrote team-rules/{f}" for f in FILES]
    assert result.stdout.splitlines()[len(FILES):] == [
        "Next:", "  cd team-rules",
        "  git init && git add . && git commit -m 'Our lead-scoring rules'",
        "  pip install -r requirements.txt pre-commit && pre-commit install",
        "  leadrules check rulesets/ && leadrules test rulesets/"]
    return tmp_path / "team-rules"


def test_the_starter_holds_the_bundled_rules_and_the_ci_job_of_review_md(starter):
    assert sorted(str(p.relative_to(starter)) for p in starter.rglob("*") if p.is_file()) == \
        sorted(FILES)
    assert (starter / "rulesets/b2b.rules").read_text(encoding="utf-8") == \
        bundled.ruleset_path().read_text(encoding="utf-8")
    review = (ROOT / "docs" / "review.md").read_text(encoding="utf-8")
    job = re.search(r"```yaml\n(name: rules\n.*?)```", review, re.S).group(1)
    assert (starter / ".github/workflows/rules.yml").read_text(encoding="utf-8") == job
    assert (starter / "requirements.txt").read_text(encoding="utf-8").splitlines()[-1] == \
        "leadrules==0.1.0"


def test_check_fmt_and_test_pass_in_it_at_once(starter, monkeypatch):
    monkeypatch.chdir(starter)
    assert invoke("check", "--strict", "rulesets/").stdout == "rulesets/b2b.rules: ok\n"
    fmt = invoke("fmt", "--check", "rulesets/")
    assert (fmt.exit_code, fmt.stderr) == (0, "0 files would be reformatted, 1 unchanged\n")
    tests = invoke("test", "--coverage", "--min-coverage", "100", "rulesets/")
    assert tests.exit_code == 0
    assert "17 passed, 0 failed (1 file)" in tests.stdout


def test_init_overwrites_nothing(starter, monkeypatch):
    monkeypatch.chdir(starter.parent)
    (starter / "README.md").write_text("ours\n", encoding="utf-8")
    result = invoke("init", "team-rules")
    assert (result.exit_code, result.stdout, result.stderr) == (
        2, "", "error: team-rules/rulesets/b2b.rules: is there already (and 8 more of the "
        "starter's files); leadrules init overwrites nothing: give it a new or empty folder\n")
    assert (starter / "README.md").read_text(encoding="utf-8") == "ours\n"


def test_init_into_a_folder_with_other_files_keeps_them(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep\n", encoding="utf-8")
    assert invoke("init", ".").exit_code == 0
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep\n"
    assert (tmp_path / "rulesets" / "b2b.rules").is_file()


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def test_pre_commit_runs_the_hooks_of_the_starter_for_real(starter, tmp_path):
    pytest.importorskip("pre_commit", reason="pre-commit is in the test extra")
    if shutil.which("git") is None:
        pytest.skip("no git")
    _git(starter, "init", "-q")
    _git(starter, "add", ".")
    bin_dir = str(Path(sys.executable).parent)  # `leadrules` (language: system) is found here
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "NO_COLOR": "1"}
    run = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color",
                          "never"], cwd=starter, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    passed = [line.split("...")[0].rstrip(".") for line in run.stdout.splitlines()
              if line.endswith("Passed")]
    assert passed == ["leadrules check --strict", "leadrules fmt --check", "leadrules test"]
    # and a hook that fails stops the commit with leadrules' message
    rules = starter / "rulesets" / "b2b.rules"
    rules.write_text(rules.read_text(encoding="utf-8").replace(
        "when webinar_signup then +25", "when webinar_singup then +25"), encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files", "--color",
                          "never"], cwd=starter, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1
    assert "error[unknown-event]: unknown event 'webinar_singup'" in run.stdout


class _Installed:
    """importlib.metadata's distribution, as pip leaves it after an install from a URL."""

    def __init__(self, direct_url: str | None):
        self.direct_url = direct_url

    def read_text(self, name):
        return self.direct_url if name == "direct_url.json" else None


@pytest.mark.parametrize("direct_url, line", [
    ('{"url": "https://github.com/acme/leadrules.git", "vcs_info": {"vcs": "git", '
     '"commit_id": "0123456789abcdef0123456789abcdef01234567"}}',
     "leadrules @ git+https://github.com/acme/leadrules.git@"
     "0123456789abcdef0123456789abcdef01234567"),
    ('{"url": "file:///home/me/leadrules", "dir_info": {"editable": true}}', "leadrules==0.1.0"),
    (None, "leadrules==0.1.0"),
])
def test_requirements_pin_leadrules_as_it_was_installed(monkeypatch, direct_url, line):
    from leadrules.engine.review import starter

    monkeypatch.setattr(starter, "distribution", lambda name: _Installed(direct_url))
    assert starter.requirement() == line
