"""Tables as every command prints them: text for the terminal, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from typing import Iterable, Sequence

BAR_WIDTH = 30


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Columns padded to their widest cell; numbers right-aligned, text left-aligned."""
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in cells) and bool(cells) for i in range(len(headers))]

    def line(values):
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def _is_number(text: str) -> bool:
    try:
        float(text.rstrip("%").replace(",", "") or "0")
    except ValueError:
        return False
    return True


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
                   numeric: Sequence[bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table; numbers right-aligned (by `numeric`, or, when not
    given, as `table` decides), `|` in a cell escaped."""
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    if numeric is None:
        numeric = [any(r[i] for r in rows) and all(_is_number(r[i]) for r in rows)
                   for i in range(len(headers))]

    def line(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    align = ["---:" if n else ":---" for n in numeric]
    return "\n".join([line(headers), "|" + "|".join(align) + "|", *map(line, rows)])


def rows_text(columns: Sequence[str], rows: Iterable[dict], output: str) -> str:
    """Rows (dicts with these columns) in an output format of the CLI's one set: text, csv,
    json or markdown; ends with a newline."""
    rows = list(rows)
    if output == "json":
        return json.dumps([{c: r[c] for c in columns} for r in rows], ensure_ascii=False,
                          indent=1) + "\n"
    if output == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if r[c] is None else r[c] for c in columns] for r in rows])
        return out.getvalue()
    cells = [[r[c] for c in columns] for r in rows]
    return (markdown_table if output == "markdown" else table)(columns, cells) + "\n"
