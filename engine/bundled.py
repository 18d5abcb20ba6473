"""Files that ship inside the package: the bundled rulesets and the demo sample."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _path(*parts: str) -> Path:
    # Installed packages are plain directories (setuptools never zips them), so the
    # traversable is a real path that sqlite, csv and error messages can use.
    return Path(str(resources.files("leadrules.rulesets").joinpath(*parts)))


def ruleset_path(name: str = "b2b") -> Path:
    """The bundled rule file `rulesets/NAME.rules`."""
    return _path(f"{name}.rules")


def sample_paths() -> tuple[Path, Path]:
    """The bundled demo sample: (leads.csv, events.csv)."""
    return _path("sample", "leads.csv"), _path("sample", "events.csv")


def sample_outcomes_path() -> Path:
    """The demo sample's outcomes (`leadrules sample --outcomes`), for `leadrules backtest`."""
    return _path("sample", "outcomes.csv")
