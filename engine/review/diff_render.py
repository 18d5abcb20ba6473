"""A DiffReport as text for a terminal, markdown for a pull-request comment, or JSON."""

from __future__ import annotations

import json
from typing import Sequence

from leadrules.engine.backtest import render as outcomes_render
from leadrules.engine.events import format_timestamp
from leadrules.engine.review.diff import FIELDS, KINDS, DiffReport, Example, Gate, Quoted, RulePair
from leadrules.engine.tables import markdown_table, table

BAR_WIDTH = 30
TITLES = {"score_up": "score up", "score_down": "score down", "stage_changed": "stage changed",
          "newly_disqualified": "newly disqualified",
          "no_longer_disqualified": "no longer disqualified", "entered_sales": "entered sales",
          "left_sales": "left sales"}


# --- pieces every format shares ----------------------------------------------------------------

def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "0.0%"


def _signed(value: int | float) -> str:
    return f"{value:+g}" if isinstance(value, float) else f"{value:+d}"


def _rule_counts(report: DiffReport) -> str:
    counts = {s: 0 for s in ("changed", "reordered", "added", "removed", "unchanged")}
    for pair in report.rules:
        counts[pair.status] += 1
    shown = [f"{n} {s}" for s, n in counts.items() if n and s != "unchanged"]
    return f"{', '.join(shown) or 'no changes'}; {counts['unchanged']} unchanged"


def _summary_rows(report: DiffReport) -> list[tuple[str, int, str]]:
    """(result, leads changed, detail) for the summary table."""
    score, disq, sales = report.score, report.disqualified, report.sales
    details = {"score": f"{score.up:,} up, {score.down:,} down; min {_signed(score.min)}, "
                        f"median {_signed(score.median)}, max {_signed(score.max)}"
               if score else "",
               "disqualified": ", ".join(f"{disq[k]:,} {k.replace('_', ' ')}" for k in disq
                                         if disq[k])}
    rows = [(name, report.changed[name], details.get(name, "")) for name in FIELDS]
    if sales.known:
        where = f"{sales.stage} and after"
        missing = [f"{side} has no stage {sales.stage}" for side, stages in
                   (("OLD", sales.old), ("NEW", sales.new)) if stages is None]
        where += f" ({missing[0]})" if missing else ""
        rows += [("entered sales", sales.entries, where), ("left sales", sales.exits, where)]
    return rows


def _sales_note(report: DiffReport) -> str | None:
    if report.sales.known:
        return None
    return (f"Neither ruleset has a stage {report.sales.stage}, so entries into sales and exits "
            "from it are not counted (choose the first sales stage with --sales-from).")


def _stage_rows(report: DiffReport) -> tuple[list[str], list[list]]:
    """The stage table: a row per OLD stage, a column per NEW stage, totals; blank for 0."""
    olds = [s for s in report.stages if any(o == s for o, _ in report.moves)]
    news = [s for s in report.stages if any(n == s for _, n in report.moves)]
    rows = []
    for old in olds:
        cells = [report.moves.get((old, new), 0) for new in news]
        rows.append([old, *(f"{c:,}" if c else "" for c in cells), f"{sum(cells):,}"])
    totals = [sum(report.moves.get((o, n), 0) for o in olds) for n in news]
    rows.append(["total", *(f"{t:,}" for t in totals), f"{report.compared:,}"])
    return ["old \\ new", *news, "total"], rows


def _quote(text: str) -> str:
    """A rule's text in plain text: in backticks, because rules have quotes of their own."""
    return f"`{text}`"


def _reason(parts: Sequence, quote) -> str:
    return "".join(quote(p.text) if isinstance(p, Quoted) else p for p in parts)


def _example_line(example: Example, quote) -> str:
    return f"{example.summary}: {_reason(example.reason, quote)}"


def _leads_line(report: DiffReport) -> str:
    return (f"{report.compared:,} from {report.source}, as of {format_timestamp(report.as_of)} "
            f"({report.as_of_source}); nothing was written")


# --- text ---------------------------------------------------------------------------------------

def text(report: DiffReport) -> str:
    """For a terminal: aligned tables, the rule changes as +/- lines."""
    out = [f"Old:    {report.old_name} (\"{report.old_title}\")",
           f"New:    {report.new_name} (\"{report.new_title}\")",
           f"Leads:  {_leads_line(report)}", "",
           f"Rule changes: {_rule_counts(report)}", *_text_rules(report.rule_changes()), ""]
    changed = report.changed["any"]
    out.append(f"Lead changes: {changed:,} of {report.compared:,} leads changed "
               f"({_share(changed, report.compared)})")
    out.append(table(("result", "leads", "share", "detail"),
                     [(name, f"{n:,}", _share(n, report.compared), detail)
                      for name, n, detail in _summary_rows(report)]))
    if note := _sales_note(report):
        out.append(note)
    if report.score:
        widest = max(n for _, n in report.score.buckets)
        out += ["", "Score changes", table(("change", "leads", ""), [
            (label, f"{n:,}", "#" * max(1, round(BAR_WIDTH * n / widest)))
            for label, n in report.score.buckets])]
    if report.compared:
        headers, rows = _stage_rows(report)
        out += ["", "Stages (a row per old stage, a column per new stage)", table(headers, rows)]
    out += _text_examples(report)
    if report.outcomes is not None:
        out += ["", "Outcomes: how OLD and NEW rank the leads whose outcome is known", "",
                *outcomes_render.text_body(report.outcomes)]
    return "\n".join(out) + "\n"


def _text_rules(changes: list[RulePair]) -> list[str]:
    width = max([len(str(line)) for p in changes for line in (p.old_line, p.new_line) if line],
                default=0)
    lines = []
    for p in changes:
        where = f"  {str(p.old_line or '').rjust(width)} → {str(p.new_line or ''):<{width}}  "
        for k, (mark, rule) in enumerate(_rule_lines(p)):
            lines.append(f"{where if k == 0 else ' ' * len(where)}{mark} {rule}".rstrip())
    return lines


def _rule_lines(p: RulePair) -> list[tuple[str, str]]:
    """(mark, text) lines for one rule change: -/+ for the old and new text, ! for a change in
    place (a list declaration, or a line that moved in a first-match list)."""
    if p.detail:
        return [("!", p.detail)]
    if p.status == "reordered":
        return [("!", f"{p.new_text}  (moved among the {p.reordered})")]
    lines = [("-", p.old_text)] if p.old is not None else []
    lines += [("+", p.new_text)] if p.new is not None else []
    if p.reordered:
        lines[-1] = ("+", f"{p.new_text}  (and moved among the {p.reordered})")
    return lines


def _text_examples(report: DiffReport) -> list[str]:
    shown = [(kind, report.examples[kind]) for kind in KINDS if report.examples.get(kind)]
    if not shown:
        return []
    out = ["", "Examples"]
    for kind, examples in shown:
        out.append(TITLES[kind])
        width = max(len(e.lead_id) for e in examples)
        out += [f"  {e.lead_id:<{width}}  {_example_line(e, _quote)}" for e in examples]
    return out


# --- markdown -----------------------------------------------------------------------------------

def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def markdown(report: DiffReport, gates: Sequence[Gate] = ()) -> str:
    """For a pull-request comment: a heading, a summary table, the rule changes as a diff, the
    stage table, and the examples folded away."""
    changed = report.changed["any"]
    out = [f"### leadrules diff: {_code(report.old_name)} → {_code(report.new_name)}", "",
           f"**{changed:,} of {report.compared:,} leads change** "
           f"({_share(changed, report.compared)}): {report.compared:,} leads from "
           f"{report.source}, as of {format_timestamp(report.as_of)} ({report.as_of_source}).",
           ""]
    for gate in gates:
        out.append(f"- :x: `--fail-on {gate}` holds" if gate.holds(report)
                   else f"- :white_check_mark: `--fail-on {gate}` does not hold")
    out += [""] if gates else []
    out.append(markdown_table(("result", "leads", "share", "detail"),
                         [(name, f"{n:,}", _share(n, report.compared), detail)
                          for name, n, detail in _summary_rows(report)],
                         (False, True, True, False)))
    if note := _sales_note(report):
        out += ["", note]
    out += ["", f"#### Rule changes: {_rule_counts(report)}", ""]
    if report.rule_changes():
        out += ["```diff", *_md_rules(report.rule_changes()), "```", ""]
    if report.score:
        out += ["#### Score changes", "", markdown_table(("change", "leads"), [
            (label, f"{n:,}") for label, n in report.score.buckets], (False, True)), ""]
    if report.compared:
        headers, rows = _stage_rows(report)
        out += ["#### Stages (a row per old stage, a column per new stage)", "",
                markdown_table(headers, rows, [False, *[True] * (len(headers) - 1)]), ""]
    out += _md_examples(report)
    if report.outcomes is not None:
        out += ["", "#### Outcomes: how OLD and NEW rank the leads whose outcome is known", "",
                *outcomes_render.markdown_body(report.outcomes, "#####")]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_rules(changes: list[RulePair]) -> list[str]:
    lines = []
    for p in changes:
        for mark, rule in _rule_lines(p):
            lines.append(f"{mark} {rule}  # {_md_where(p, mark)}")
    return lines


def _md_where(p: RulePair, mark: str) -> str:
    """The line a -/+ line stands on in its file; both lines for a change in place."""
    if p.status in ("added", "removed"):
        return f"line {p.old_line or p.new_line}, {p.status}"
    if mark == "!":
        return f"line {p.old_line} → {p.new_line}"
    return f"line {p.old_line if mark == '-' else p.new_line}"


def _md_examples(report: DiffReport) -> list[str]:
    shown = [(kind, report.examples[kind]) for kind in KINDS if report.examples.get(kind)]
    if not shown:
        return []
    out = ["<details><summary>Examples</summary>", ""]
    for kind, examples in shown:
        out += [f"**{TITLES[kind]}**", ""]
        out += [f"- {_code(e.lead_id)} {_example_line(e, _code)}" for e in examples]
        out.append("")
    return out + ["</details>"]


# --- JSON ---------------------------------------------------------------------------------------

def to_json(report: DiffReport, gates: Sequence[Gate] = ()) -> str:
    """Everything in the report, keys in a fixed order."""
    score = report.score
    data = {
        "old": {"name": report.old_name, "ruleset": report.old_title},
        "new": {"name": report.new_name, "ruleset": report.new_title},
        "leads": {"source": report.source, "compared": report.compared,
                  "as_of": format_timestamp(report.as_of), "as_of_source": report.as_of_source},
        "rules": [_json_rule(p) for p in report.rule_changes()],
        "unchanged_rules": sum(p.status == "unchanged" for p in report.rules),
        "changes": {"changed_leads": report.changed["any"],
                    **{name: report.changed[name] for name in FIELDS}},
        "score": None if score is None else {
            "up": score.up, "down": score.down, "min": score.min, "median": score.median,
            "max": score.max, "buckets": [{"change": label, "leads": n}
                                          for label, n in score.buckets]},
        "disqualified": dict(report.disqualified),
        "stages": {"order": list(report.stages), "moves": _json_moves(report)},
        "sales": {"from": report.sales.stage, "old_stages": _list(report.sales.old),
                  "new_stages": _list(report.sales.new), "entries": report.sales.entries,
                  "exits": report.sales.exits},
        "examples": {kind: [_json_example(e) for e in report.examples.get(kind, ())]
                     for kind in KINDS},
        "fail_on": [{"gate": str(g), "holds": g.holds(report),
                     ("value" if g.measured else "leads"): report.metrics()[g.metric]}
                    for g in gates],
        **({} if report.outcomes is None else
           {"outcomes": outcomes_render.json_data(report.outcomes)}),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _list(items) -> list | None:
    return None if items is None else list(items)


def _json_rule(p: RulePair) -> dict:
    return {"status": p.status, "old_line": p.old_line, "new_line": p.new_line,
            "old": p.old_text, "new": p.new_text, "detail": p.detail, "reordered_in": p.reordered}


def _json_moves(report: DiffReport) -> dict:
    """{old stage: {new stage: leads}}, in stage order, the cells that are not 0."""
    table: dict[str, dict[str, int]] = {}
    for old in report.stages:
        for new in report.stages:
            if report.moves.get((old, new)):
                table.setdefault(old, {})[new] = report.moves[old, new]
    return table


def _json_example(e: Example) -> dict:
    return {"lead_id": e.lead_id, "summary": e.summary,
            "reason": _reason(e.reason, _quote),
            "old": {f: getattr(e.old, f) for f in FIELDS},
            "new": {f: getattr(e.new, f) for f in FIELDS}}
