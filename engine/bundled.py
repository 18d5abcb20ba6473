"""Files that ship inside the package: the bundled rulesets, the demo sample, Datasette's
metadata, and the docs."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def _path(*parts: str) -> Path:
    # Installed packages are plain directories (setuptools never zips them), so the
    # traversable is a real path that sqlite, csv and error messages can use.
    return Path(str(resources.files("leadrules.rulesets").joinpath(*parts)))


def rulesets_dir() -> Path:
    """The installed folder of the bundled rule files, their tests and the sample."""
    return _path()


def docs_dir() -> Path:
    """The installed folder of the docs (docs/*.md, shipped as package data)."""
    return Path(str(resources.files("leadrules").joinpath("docs")))


def file_path(name: str) -> Path:
    """A bundled file by its name inside rulesets/, e.g. `datasette.yaml` or `sample/leads.csv`."""
    return _path(*name.split("/"))


def ruleset_path(name: str = "b2b") -> Path:
    """The bundled rule file `rulesets/NAME.rules`."""
    return _path(f"{name}.rules")


def sample_paths() -> tuple[Path, Path]:
    """The bundled demo sample: (leads.csv, events.csv)."""
    return _path("sample", "leads.csv"), _path("sample", "events.csv")


def topics() -> dict[str, Path]:
    """The docs by topic: docs/language.md is `language`."""
    return {path.stem: path for path in sorted(docs_dir().glob("*.md"))}


def find(name: str) -> Path:
    """A doc by its topic, or a bundled file by its name; UsageError naming what there is."""
    from leadrules.dsl.check import suggest
    from leadrules.dsl.errors import UsageError

    known = topics()
    name = name.removesuffix(".md") if name.removesuffix(".md") in known else name
    if name in known:
        return known[name]
    if name and ".." not in name.split("/") and file_path(name).is_file():
        return file_path(name)
    hint = suggest(name, [*known, *_bundled_files()])
    raise UsageError(f"no doc or bundled file {name!r}" + (f"; {hint}" if hint else "")
                     + "; `leadrules docs` lists them")


def _bundled_files() -> list[str]:
    root = rulesets_dir()
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")  # starter/: `init`'s
                  if p.is_file() and p.suffix in (".rules", ".tests", ".csv", ".yaml")
                  and p.parent.name != "starter")


def overview() -> str:
    """Where pip put the bundled files and the docs, and the topics the docs have."""
    lines = [f"Bundled files: {rulesets_dir()}", *(f"  {name}" for name in _bundled_files()),
             f"Docs: {docs_dir()}"]
    for topic, path in topics().items():
        title = next((line[2:].strip() for line in path.read_text(encoding="utf-8").splitlines()
                      if line.startswith("# ")), "")
        lines.append(f"  {topic:<14} {title}")
    lines += ["", "`leadrules docs TOPIC` prints a doc; `leadrules docs --path NAME` the path of a "
              "doc or bundled file,", "e.g. leadrules check \"$(leadrules docs --path b2b.rules)\""]
    return "\n".join(lines)


def missing_hint(path: object) -> str:
    """For a missing `rulesets/b2b.rules` or `docs/language.md` (as the help and the docs name
    them, in a repository laid out as `leadrules init` makes it), a hint line saying where the
    installed copy is; "" for any other path."""
    hint = _where_installed(Path(str(path)).parts) if path is not None else None
    return f"\n  = hint: {hint}" if hint else ""


def _where_installed(parts: tuple[str, ...]) -> str | None:
    if len(parts) >= 2 and parts[-2] == "docs" and Path(parts[-1]).stem in topics():
        return (f"the installed {parts[-1]} is {topics()[Path(parts[-1]).stem]}; "
                f"`leadrules docs {Path(parts[-1]).stem}` prints it")
    if "rulesets" in parts:
        name = "/".join(parts[parts.index("rulesets") + 1:])
        if name in _bundled_files() or name == "":
            return (f"the bundled {name or 'rulesets/'} is {file_path(name) if name else _path()}"
                    "; `leadrules init DIR` starts a repository with rulesets/ in it")
    return None


def sample_outcomes_path() -> Path:
    """The demo sample's outcomes (`leadrules sample --outcomes`), for `leadrules backtest`."""
    return _path("sample", "outcomes.csv")
