"""Charts as inline SVG, drawn by matplotlib (the `report` extra): small functions that take
labels and numbers, so that other reports (back-testing, say) can draw with them too.

matplotlib is imported on first use, never at import time, and only its object-oriented API
is used (no pyplot: no global state, no GUI backend). Text stays text in the SVG
(svg.fonttype none), so a browser shows, selects and finds the numbers; ids and metadata are
fixed, so the same figures give the same file.
"""

from __future__ import annotations

import io
import re
from typing import Callable, Mapping, Sequence

PALETTE = ("#2f6fb0", "#e08a2e", "#4f9d69", "#c2413b", "#7d5ba6", "#8c6d4f", "#d16ba5")
STATUS_COLORS = {"achieved": "#4f9d69", "on track": "#2f6fb0", "behind": "#e08a2e",
                 "missed": "#c2413b", "not started": "#9a9a9a"}
Format = Callable[[float], str]


def available() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float):
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "leadrules",
                                "font.family": "DejaVu Sans", "font.size": 9})
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def _svg(figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = re.sub(r"^<\?xml[^>]*>\s*(<!DOCTYPE[^>]*>\s*)?", "", text)  # inline: no prolog
    return re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)


def _plain(figure, ax, title: str) -> None:
    """The title at the figure's left edge (over the labels too, so a long one fits)."""
    figure.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def bar_chart(categories: Sequence[str], series: Mapping[str, Sequence[float]], *, title: str,
              fmt: Format = lambda v: f"{v:,.0f}", horizontal: bool = True,
              colors: Sequence[str] | None = None, reference: float | None = None,
              width: float = 7.0) -> str:
    """Bars per category, one bar per series side by side, each labelled with its value;
    `colors`: one per category (for one series); `reference` draws a dashed line (a target)."""
    n = max(len(series), 1)
    per_bar = 0.32 if n == 1 else 0.2
    height = max(1.6, per_bar * len(categories) * n + 0.9) if horizontal else 3.2
    figure, ax = _figure(width, height)
    step = 0.8 / n
    places = list(range(len(categories)))
    for i, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + step * (i + 0.5) for p in places]
        fill = list(colors) if colors else [PALETTE[i % len(PALETTE)]] * len(categories)
        values = [v or 0 for v in values]
        bars = (ax.barh(offsets, values, height=step, color=fill, label=name) if horizontal
                else ax.bar(offsets, values, width=step, color=fill, label=name))
        ax.bar_label(bars, labels=[fmt(v) for v in values], padding=2, fontsize=8)
    (ax.xaxis if horizontal else ax.yaxis).set_major_formatter(_formatter(fmt))
    if horizontal:
        ax.set_yticks(places, categories)
        ax.invert_yaxis()
        ax.margins(x=0.15)
    else:
        ax.set_xticks(places, categories, rotation=30 if len(categories) > 6 else 0,
                      ha="right" if len(categories) > 6 else "center")
        ax.margins(y=0.15)
    if reference is not None:
        (ax.axvline if horizontal else ax.axhline)(reference, color="#555", linestyle="--",
                                                   linewidth=1)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    _plain(figure, ax, title)
    return _svg(figure)


def line_chart(x: Sequence[str], series: Mapping[str, Sequence[float | None]], *, title: str,
               fmt: Format = lambda v: f"{v:,.0f}", width: float = 7.0) -> str:
    """One line per series over the labels `x`, each point labelled with its value."""
    figure, ax = _figure(width, 3.2)
    places = list(range(len(x)))
    for i, (name, values) in enumerate(series.items()):
        points = [(p, v) for p, v in zip(places, values) if v is not None]
        if not points:
            continue
        xs, ys = zip(*points)
        ax.plot(xs, ys, marker="o", color=PALETTE[i % len(PALETTE)], label=name)
        if len(series) == 1:
            for p, v in points:
                ax.annotate(fmt(v), (p, v), textcoords="offset points", xytext=(0, 5),
                            ha="center", fontsize=8)
    ax.set_xticks(places, x, rotation=30 if len(x) > 6 else 0,
                  ha="right" if len(x) > 6 else "center")
    ax.yaxis.set_major_formatter(_formatter(fmt))
    ax.margins(y=0.2)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    _plain(figure, ax, title)
    return _svg(figure)


def funnel_chart(stages: Sequence[str], counts: Sequence[int], *, title: str,
                 notes: Sequence[str] | None = None, width: float = 7.0) -> str:
    """A funnel: one centred bar per stage, as wide as its count, labelled with the count and
    `notes` (e.g. the conversion from the stage before)."""
    figure, ax = _figure(width, max(1.6, 0.42 * len(stages) + 0.8))
    widest = max(counts, default=0) or 1
    places = list(range(len(stages)))
    ax.barh(places, counts, left=[(widest - c) / 2 for c in counts], color=PALETTE[0],
            height=0.8)
    for p, c, note in zip(places, counts, notes or [""] * len(stages)):
        label = f"{c:,}" + (f"  ({note})" if note else "")
        if c > widest * 0.35:  # inside the bar; beside a narrow one
            ax.text(widest / 2, p, label, ha="center", va="center", fontsize=8, color="white")
        else:
            ax.text((widest + c) / 2 + widest * 0.01, p, label, ha="left", va="center",
                    fontsize=8, color="#222")
    ax.set_yticks(places, stages)
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    _plain(figure, ax, title)
    return _svg(figure)


def _formatter(fmt: Format):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: fmt(value))
