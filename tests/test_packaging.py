"""What `pip install` puts into site-packages: one `leadrules` package, wheel and editable alike."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HERE = sysconfig.get_paths()["purelib"]  # where this suite's dependencies are installed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from the working tree, as `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    _pip("wheel", "--no-deps", "--wheel-dir", out, ROOT)
    (built,) = out.glob("leadrules-*.whl")
    return built


def _pip(*args, python: Path | None = None) -> None:
    target = ["--python", str(python)] if python else []
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *target,
                    *map(str, args)], check=True, capture_output=True, text=True)


def _venv(where: Path) -> tuple[Path, Path]:
    """A fresh virtual environment without pip: (its python, its site-packages)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", where], check=True)
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    return python, Path(site)


def _dependencies(where: Path) -> Path:
    """A folder of links to this suite's installed packages (lark, click, ...) but leadrules,
    so that a venv that borrows them still imports its own leadrules, however the suite's
    leadrules is installed (CI installs it as a wheel; a developer, editable)."""
    if not where.exists():
        where.mkdir()
        for name in os.listdir(HERE):
            if not name.startswith(("leadrules", "__editable__")) and not name.endswith(".pth"):
                (where / name).symlink_to(Path(HERE) / name)
    return where


def _run(python: Path, *args: str, cwd: Path) -> str:
    """Run in the venv, from a folder without the repository in it; the dependencies come from
    this suite's environment (`_dependencies`)."""
    env = {**os.environ, "PYTHONPATH": str(_dependencies(cwd / "deps"))}
    return subprocess.run([python, *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def test_the_wheel_holds_only_the_leadrules_package(wheel):
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"leadrules", "leadrules-0.1.0.dist-info"}


def test_the_wheel_installs_only_leadrules_and_both_commands_work(wheel, tmp_path):
    python, site = _venv(tmp_path / "venv")
    before = set(os.listdir(site))
    _pip("install", "--no-deps", wheel, python=python)
    assert set(os.listdir(site)) - before == {"leadrules", "leadrules-0.1.0.dist-info"}
    names = ("dsl", "engine", "rulesets", "cli")
    probe = f"import importlib.util as u; print([n for n in {names!r} if u.find_spec(n)])"
    assert _run(python, "-c", probe, cwd=tmp_path) == "[]\n"
    script = python.parent / ("leadrules.exe" if os.name == "nt" else "leadrules")
    assert _run(script, "--help", cwd=tmp_path).startswith("Usage: leadrules ")
    assert _run(python, "-m", "leadrules", "--help", cwd=tmp_path).startswith("Usage: leadrules ")
    assert _run(python, "-c", "from leadrules import load, Store; import leadrules.rulesets",
                cwd=tmp_path) == ""


def test_the_editable_install_maps_the_same_one_name(tmp_path):
    python, site = _venv(tmp_path / "venv")
    _pip("install", "--no-deps", "-e", ROOT, python=python)
    probe = ("import importlib.util as u, leadrules.engine.store.store as s; "
             "print([n for n in ('dsl', 'engine', 'rulesets', 'cli') if u.find_spec(n)], "
             "s.__file__.startswith(%r))" % str(ROOT))
    assert _run(python, "-c", probe, cwd=tmp_path) == "[] True\n"
    assert not any(name in os.listdir(site) for name in ("dsl", "engine", "rulesets", "cli.py"))


def test_the_wheel_ships_the_docs_and_datasettes_metadata(wheel, tmp_path):
    """After a plain `pip install`, `leadrules docs` finds what the help and the hints name."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"leadrules/docs/{p.name}" for p in (ROOT / "docs").glob("*.md")} <= names
    assert "leadrules/rulesets/datasette.yaml" in names
    python, site = _venv(tmp_path / "venv")
    _pip("install", "--no-deps", wheel, python=python)
    script = python.parent / ("leadrules.exe" if os.name == "nt" else "leadrules")
    # _run puts this suite's site-packages on PYTHONPATH, whose leadrules (in CI, installed
    # from the work tree too) may be the one imported: the path is then that one's.
    for name, path in (("language", "leadrules/docs/language.md"),
                       ("datasette.yaml", "leadrules/rulesets/datasette.yaml")):
        found = Path(_run(script, "docs", "--path", name, cwd=tmp_path).strip())
        assert found.as_posix().endswith("site-packages/" + path) and found.is_file()


def test_every_package_of_the_tree_is_listed_for_the_wheel():
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
                 ["tool"]["setuptools"]["packages"])
    found = {".".join(("leadrules", *p.parent.relative_to(ROOT).parts)).rstrip(".")
             for top in ("dsl", "engine", "rulesets") for p in (ROOT / top).rglob("__init__.py")}
    assert found | {"leadrules"} == listed
