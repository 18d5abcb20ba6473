"""Plain-text tables for the terminal: the funnel and a list of leads."""

from __future__ import annotations

from typing import Iterable, Sequence

from leadrules.engine.scoring.compiler import DISQUALIFIED

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


def funnel(stage_order: Sequence[str], counts: dict[str, int]) -> str:
    """Leads per stage in funnel order, Disqualified last, with a bar for each."""
    order = [*stage_order, *sorted(set(counts) - set(stage_order) - {DISQUALIFIED})]
    if counts.get(DISQUALIFIED):
        order.append(DISQUALIFIED)
    total = sum(counts.values()) or 1
    widest = max(counts.values(), default=0) or 1
    rows = []
    for stage in order:
        n = counts.get(stage, 0)
        rows.append((stage, n, f"{100 * n / total:.1f}%", "#" * round(BAR_WIDTH * n / widest)))
    return table(("stage", "leads", "share", ""), rows)
