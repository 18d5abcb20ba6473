"""A Backtest as text for a terminal, markdown for a pull request, or JSON; with two sides
(`diff --outcomes`), every table has a column group per side."""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Callable, Sequence

from leadrules.engine.backtest.report import Backtest, Figures
from leadrules.engine.backtest.stats import Decile, NonMonotone, Rate
from leadrules.engine.events import format_timestamp
from leadrules.engine.tables import table

MIN_LEADS = 30  # a class with fewer leads is marked as small in the warnings


# --- numbers as people read them ---------------------------------------------------------------

def percent(value: float | None) -> str:
    """A rate as a percentage to one decimal; n/a for none."""
    return "n/a" if value is None else f"{100 * value:.1f}%"


def ratio(value: float | None) -> str:
    """An AUC to three decimals; n/a for none."""
    return "n/a" if value is None else f"{value:.3f}"


def amount(value: Fraction | int) -> str:
    """A count of leads; a fraction (a decile's edge inside tied scores) to one decimal."""
    return f"{int(value):,}" if value == int(value) else f"{float(value):,.1f}"


def _leads(n: int) -> str:
    return f"{n:,} lead{'s' * (n != 1)}"


def _class(kind: str, value) -> str:
    if value is None:
        return f"no {kind}"
    if kind == "priority":
        grade, band = value
        return f"{grade or '-'}{band or '-'}"
    return str(value)


# --- the tables, shared by text and markdown ----------------------------------------------------

def _sides(report: Backtest) -> list[str]:
    return ["old", "new"] if len(report.sides) == 2 else [""]


def _group(report: Backtest, names: Sequence[str]) -> list[str]:
    """Column headers, once per side: `leads` or `old leads`, `new leads`."""
    return [f"{side} {name}".strip() for side in _sides(report) for name in names]


def ranking_table(report: Backtest) -> tuple[list[str], list[list[str]]]:
    """The AUC of score, fit and priority order per side (and the change, for two)."""
    headers = ["ranked by", *_group(report, ["AUC"])]
    rows = [[name, *(ratio(getattr(f, attr)) for f in report.sides)]
            for name, attr in (("score", "auc"), ("fit", "fit_auc"),
                               ("priority", "priority_auc"))]
    if len(report.sides) == 2:
        headers.append("change")
        for row, attr in zip(rows, ("auc", "fit_auc", "priority_auc")):
            old, new = (getattr(f, attr) for f in report.sides)
            row.append("n/a" if old is None or new is None else f"{new - old:+.3f}")
    return headers, rows


def decile_table(report: Backtest) -> tuple[list[str], list[list[str]]]:
    """A row per decile: its scores, leads, conversions, rate, lift and the share of all
    conversions captured down to it; for two sides only lift and capture, side by side."""
    if len(report.sides) == 2:
        old, new = report.sides
        return (["decile", "old lift", "new lift", "old captured", "new captured"],
                [[str(a.number), _lift(a, old), _lift(b, new), percent(a.capture),
                  percent(b.capture)] for a, b in zip(old.deciles, new.deciles)])
    f = report.figures
    return (["decile", "scores", "leads", "converted", "rate", "lift", "captured"],
            [[str(d.number), f"{d.high}" if d.low == d.high else f"{d.low}-{d.high}",
              amount(d.leads), amount(d.converted), percent(d.rate), _lift(d, f),
              percent(d.capture)] for d in f.deciles])


def _lift(decile: Decile, figures: Figures) -> str:
    lift = decile.lift(figures.base)
    return "n/a" if lift is None else f"{lift:.2f}"


def rate_table(report: Backtest, kind: str, of: Callable[[Figures], dict]
               ) -> tuple[list[str], list[list[str]]]:
    """Leads, converted and rate per class (band, grade, label, stage, priority cell)."""
    keys = list(dict.fromkeys(k for f in report.sides for k in of(f)))
    headers = [kind, *_group(report, ["leads", "converted", "rate"])]
    rows = []
    for key in keys:
        row = [_class(kind, key)]
        for f in report.sides:
            rate = of(f).get(key, Rate(0, 0))
            row += [f"{rate.leads:,}", f"{rate.converted:,}", percent(rate.rate)]
        rows.append(row)
    return headers, rows


def matrix_table(figures: Figures) -> tuple[list[str], list[list[str]]]:
    """The priority matrix: a row per grade, a column per band; each cell `rate (c/n)`."""
    grades = list(dict.fromkeys(g for g, _ in figures.priorities))
    bands = sorted({b for _, b in figures.priorities}, key=lambda b: (b is None, b or 0))
    rows = []
    for grade in grades:
        row = [_class("grade", grade)]
        for band in bands:
            rate = figures.priorities.get((grade, band))
            row.append("" if rate is None else
                       f"{percent(rate.rate)} ({rate.converted:,}/{rate.leads:,})")
        rows.append(row)
    return ["grade \\ band", *(_class("band", b) for b in bands)], rows


def handover_lines(figures: Figures) -> list[str]:
    """The hand-over stage's precision, recall and missed conversions, in words."""
    h = figures.handover
    if h is None:
        return []
    return [f"{h.reached:,} leads reached {h.stage} (or a later stage); {h.reached_converted:,} "
            f"of them converted: precision {percent(h.precision)}",
            f"{h.reached_converted:,} of the {h.converted:,} converted leads had reached it: "
            f"recall {percent(h.recall)}; {h.missed:,} converted without reaching it"]


def warning_line(w: NonMonotone) -> str:
    """A non-monotone pair with both classes' counts, its p-value and what to make of it."""
    small = [name for name, rate in ((w.better, w.better_rate), (w.worse, w.worse_rate))
             if rate.leads < MIN_LEADS]
    caveat = ("likely chance" if w.likely_chance else "unlikely to be chance")
    if small:
        caveat += (f"; {w.kind} {small[0]} has" if len(small) == 1 else
                   f"; {w.kind}s {small[0]} and {small[1]} have") + f" fewer than {MIN_LEADS} leads"
    return (f"{w.kind} {w.worse} converts better than {w.kind} {w.better}: "
            f"{percent(w.worse_rate.rate)} ({w.worse_rate.converted:,} of "
            f"{w.worse_rate.leads:,}) against {percent(w.better_rate.rate)} "
            f"({w.better_rate.converted:,} of {w.better_rate.leads:,}); p = {w.p:.3f}, {caveat}")


def coverage_lines(report: Backtest) -> list[str]:
    """How many leads are measured, and each reason some were left out, with its count."""
    c = report.coverage
    lines = [f"{c.measured:,} of {c.scored:,} scored leads have an outcome: these are measured"]
    left = [(c.no_outcome, "has no row in the outcomes", "have no row in the outcomes"),
            (c.empty, "has an empty outcome", "have an empty outcome"),
            (c.converted_before, "converted on or before the as-of time",
             "converted on or before the as-of time"),
            (c.already, "was in the outcome's stage (or beyond) by the as-of time",
             "were in the outcome's stage (or beyond) by the as-of time")]
    lines += [f"{_leads(n)} {one if n == 1 else many}: left out" for n, one, many in left if n]
    if c.unknown:
        more = ", ..." if c.unknown > len(c.unknown_examples) else ""
        what = "outcome is of a lead" if c.unknown == 1 else "outcomes are of leads"
        lines.append(f"{c.unknown:,} {what} not in the data: ignored "
                     f"({', '.join(c.unknown_examples)}{more})")
    return lines


def sections(report: Backtest) -> list[tuple[str, tuple | list[str]]]:
    """(title, a table's (headers, rows) or lines of text) in the order every format shows."""
    found: list[tuple[str, tuple | list[str]]] = [
        ("Ranking (ROC AUC: 0.5 is chance, 1.0 ranks every converted lead first)",
         ranking_table(report)),
        ("Lift by decile (leads sorted by score, best first)", decile_table(report)),
        ("Conversion by band", rate_table(report, "band", lambda f: f.bands)),
        ("Conversion by grade", rate_table(report, "grade", lambda f: f.grades))]
    for side, f in zip(_sides(report), report.sides):
        found.append((f"Priority matrix{f' ({side})' if side else ''}: converted of leads",
                      matrix_table(f)))
    found += [("Conversion by label", rate_table(report, "label", lambda f: f.labels)),
              ("Conversion by stage at the as-of time",
               rate_table(report, "stage", lambda f: f.stages))]
    for side, f in zip(_sides(report), report.sides):
        if f.handover is not None:
            found.append((f"Hand-over to sales{f' ({side})' if side else ''}",
                          handover_lines(f)))
    for side, f in zip(_sides(report), report.sides):
        title = f"Warnings{f' ({side})' if side else ''}"
        found.append((title, [warning_line(w) for w in f.warnings] or [
            "none: every better grade and band converts at least as well as the next worse"]))
    return found


def suggestion_lines(report: Backtest) -> tuple[str, tuple, list[str], str] | None:
    """The suggestion's title, its table of changed points, the AUC lines and the diff."""
    found = report.suggestion
    if found is None:
        return None
    title = (f"Suggested points: a logistic regression of the {found.leads:,} measured leads' "
             "outcomes on each rule's points (for review; nothing was changed)")
    rows = [[str(c.line), c.text, f"{c.old:+d}", f"{c.new:+d}"] for c in found.changes]
    aucs = [f"AUC of the {name}: {ratio(now)} now, {ratio(then)} with the fitted points" + (
        ": they rank no better, so they are not suggested" if name in found.not_better else "")
        for name, (now, then) in (("score", found.auc), ("fit", found.fit_auc))]
    aucs.append("measured on the leads the points were fitted to: expect less on new leads; "
                "try it with `leadrules diff` on outcomes it was not fitted to")
    return title, (["line", "rule", "now", "suggested"], rows), aucs, found.diff


def head(report: Backtest) -> list[tuple[str, str]]:
    """(name, value) of the facts on top: the rules, the leads, the outcome."""
    rules = [(f"{side or 'Rules'}".capitalize(), f"{f.rules_path} (\"{f.rules_name}\")")
             for side, f in zip(_sides(report), report.sides)]
    return [*rules,
            ("Leads", f"{report.coverage.scored:,} from {report.source}, as of "
                      f"{format_timestamp(report.as_of)} ({report.as_of_source})"),
            ("Outcome", report.outcome)]


def base_line(report: Backtest) -> str:
    """The base rate in words."""
    base = report.figures.base
    return (f"{percent(base.rate)}: {base.converted:,} of {base.leads:,} measured leads "
            "converted")


# --- text ---------------------------------------------------------------------------------------

def text(report: Backtest) -> str:
    """For a terminal: the facts, then each figure as an aligned table."""
    return "\n".join(_text(report, head(report))) + "\n"


def text_body(report: Backtest) -> list[str]:
    """The lines of `text` after the rules and the leads, for `diff`, which names them."""
    return _text(report, [("Outcome", report.outcome)])


def _text(report: Backtest, head: list[tuple[str, str]]) -> list[str]:
    width = max(len(name) for name, _ in (*head, ("Base rate", ""))) + 2
    out = [f"{name + ':':<{width}}{value}" for name, value in head]
    out += [f"{'':<{width}}{line}" for line in coverage_lines(report)]
    out += [f"{'Note:':<{width}}{note}" for note in report.notes]
    out.append(f"{'Base rate:':<{width}}{base_line(report)}")
    for title, body in sections(report):
        out += ["", title]
        out += [table(*body)] if isinstance(body, tuple) else [f"  {line}" for line in body]
    if found := suggestion_lines(report):
        title, changes, aucs, diff = found
        out += ["", title, table(*changes) if changes[1] else "  no points change", "",
                *(f"  {line}" for line in aucs)] + (["", diff.rstrip("\n")] if diff else [])
    return out


# --- markdown -----------------------------------------------------------------------------------

def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def row(cells):
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    align = ["---:" if k else ":---" for k in range(len(headers))]
    return "\n".join([row(headers), "|" + "|".join(align) + "|", *map(row, rows)])


def markdown(report: Backtest) -> str:
    """For a pull request or a wiki page: the facts as a list, each figure as a table."""
    return "\n".join(["### leadrules backtest", "", *_markdown(report, head(report))]) + "\n"


def markdown_body(report: Backtest, level: str = "####") -> list[str]:
    """The lines of `markdown` after the rules and the leads, for `diff`."""
    return _markdown(report, [("Outcome", report.outcome)], level)


def _markdown(report: Backtest, head: list[tuple[str, str]], level: str = "####") -> list[str]:
    out = [f"- **{name}:** {value}" for name, value in head]
    out += [f"- {line}" for line in coverage_lines(report)]
    out += [f"- **Note:** {note}" for note in report.notes]
    out.append(f"- **Base rate:** {base_line(report)}")
    for title, body in sections(report):
        out += ["", f"{level} {title}", ""]
        out += [_md_table(*body)] if isinstance(body, tuple) else [f"- {line}" for line in body]
    if found := suggestion_lines(report):
        title, changes, aucs, diff = found
        out += ["", f"{level} {title}", "", _md_table(*changes) if changes[1] else
                "No points change.", "", *(f"- {line}" for line in aucs)]
        out += ["", "```diff", diff.rstrip("\n"), "```"] if diff else []
    return out


# --- JSON ---------------------------------------------------------------------------------------

def to_json(report: Backtest) -> str:
    """Every figure, keys in a fixed order; rates as fractions of 1."""
    return json.dumps(json_data(report), indent=2, ensure_ascii=False) + "\n"


def json_data(report: Backtest) -> dict:
    """What `to_json` writes, as data (diff's JSON puts it under `outcomes`)."""
    c = report.coverage
    found = report.suggestion
    suggestion = None if found is None else {
        "leads": found.leads, "auc": {"now": found.auc[0], "suggested": found.auc[1]},
        "fit_auc": {"now": found.fit_auc[0], "suggested": found.fit_auc[1]},
        "not_better": list(found.not_better),
        "changes": [{"line": c.line, "rule": c.text, "now": c.old, "suggested": c.new}
                    for c in found.changes], "diff": found.diff}
    return {
        **({} if suggestion is None else {"suggestion": suggestion}),
        "leads": {"source": report.source, "as_of": format_timestamp(report.as_of),
                  "as_of_source": report.as_of_source, "scored": c.scored,
                  "measured": c.measured, "no_outcome": c.no_outcome, "empty_outcomes": c.empty,
                  "unknown_leads": c.unknown, "converted_before_as_of": c.converted_before,
                  "already_in_stage": c.already},
        "outcome": report.outcome,
        "notes": list(report.notes),
        **({"old": _json_figures(report.sides[0]), "new": _json_figures(report.sides[1])}
           if len(report.sides) == 2 else _json_figures(report.figures)),
    }


def _rate(rate: Rate) -> dict:
    return {"leads": rate.leads, "converted": rate.converted, "rate": rate.rate}


def _number(value: Fraction) -> int | float:
    return int(value) if value == int(value) else float(value)


def _json_figures(f: Figures) -> dict:
    h = f.handover
    return {
        "rules": {"path": f.rules_path, "name": f.rules_name},
        "base": _rate(f.base),
        "auc": {"score": f.auc, "fit": f.fit_auc, "priority": f.priority_auc},
        "deciles": [{"decile": d.number, "low": d.low, "high": d.high, "leads": _number(d.leads),
                     "converted": _number(d.converted), "rate": d.rate, "lift": d.lift(f.base),
                     "captured": d.capture} for d in f.deciles],
        "roc": [{"fpr": x, "tpr": y} for x, y in f.roc],
        "bands": [{"band": k, **_rate(r)} for k, r in f.bands.items()],
        "grades": [{"grade": k, **_rate(r)} for k, r in f.grades.items()],
        "priorities": [{"grade": g, "band": b, **_rate(r)} for (g, b), r in f.priorities.items()],
        "labels": [{"label": k, **_rate(r)} for k, r in f.labels.items()],
        "stages": [{"stage": k, **_rate(r)} for k, r in f.stages.items()],
        "handover": None if h is None else {
            "stage": h.stage, "reached": h.reached, "reached_converted": h.reached_converted,
            "converted": h.converted, "precision": h.precision, "recall": h.recall,
            "missed": h.missed},
        "warnings": [{"kind": w.kind, "better": w.better, "worse": w.worse,
                      "better_rate": _rate(w.better_rate), "worse_rate": _rate(w.worse_rate),
                      "p": w.p, "likely_chance": w.likely_chance, "text": warning_line(w)}
                     for w in f.warnings],
    }
