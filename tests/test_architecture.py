"""docs/architecture.md's table of rooms is what the imports do: every import of every module is
one its room may make, and the modules' imports make no circle."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
BASES = "leadrules.engine"  # in the table: the engine's base modules, not the rooms below it


def rooms() -> dict[str, set[str]]:
    """room -> the rooms it may import, from the table in docs/architecture.md."""
    table = re.search(r"^\| room \| owns \| may import \|\n\|[- |]+\|\n((?:\|.*\|\n)+)",
                      DOC.read_text(encoding="utf-8"), re.M).group(1)
    allowed = {}
    for row in table.splitlines():
        room, _, may = (cell.strip() for cell in row.strip("|").split("|"))
        allowed[room.strip("`")] = set(re.findall(r"`([\w.]+)`", may)) | (
            {"*"} if may == "everything" else set())
    return allowed


def modules() -> dict[str, Path]:
    """Every module of the package, by its installed name."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[0] in ("tests", "bench", "build") or parts[0].startswith(".") or "venv" in parts[0]:
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(("leadrules", *parts))] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> set[str]:
    """The leadrules modules a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("leadrules"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("leadrules"))
    return found


def room_of(module: str, allowed: dict[str, set[str]]) -> str:
    """The longest room name the module is in; a base module of the engine is in BASES."""
    if module in ("leadrules", "leadrules.__main__"):
        return "leadrules.cli"  # the public API and `python -m`: over everything, as the CLI
    candidates = [room for room in allowed if module == room or module.startswith(room + ".")]
    return max(candidates, key=len)


def test_the_table_names_every_room_of_the_package():
    allowed = rooms()
    packages = {name for name, path in modules().items() if path.name == "__init__.py"}
    assert packages - {"leadrules"} <= set(allowed)
    assert set(allowed) - {"leadrules.cli"} <= packages


def test_every_import_is_one_its_room_may_make():
    allowed, known = rooms(), modules()
    wrong = []
    for module, path in sorted(known.items()):
        here = room_of(module, allowed)
        for target in sorted(imports(path, known)):
            there = room_of(target, allowed) if target != "leadrules" else "leadrules.cli"
            if there != here and there not in allowed[here] and "*" not in allowed[here]:
                wrong.append(f"{module} ({here}) imports {target} ({there})")
    assert wrong == []


def test_the_imports_make_no_circle():
    known = modules()
    graph = {m: imports(p, known) & set(known) - {m} for m, p in known.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert circles == []


def test_no_module_of_the_package_is_over_800_lines():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 800}
    assert long == {}
