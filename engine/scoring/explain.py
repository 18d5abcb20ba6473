"""`leadrules explain`: one lead's replay as a timeline a marketer can read."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from leadrules.engine.events import format_timestamp
from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.evaluate import LeadState
from leadrules.engine.scoring.results import (
    ActionTaken,
    LeadResult,
    Note,
    PointChange,
    Seen,
    SlaOutcome,
    StageChange,
)

INDENT = "    "
_PROPS_SHOWN = 4  # event properties listed on an event's line


def explain(rules: CompiledRuleset, result: LeadResult, profile: Mapping[str, object],
            as_of: int, as_of_source: str, why_not: bool = False) -> str:
    """The timeline of a traced result and, at the end, how each result came about (and,
    with `why_not`, why each `when` rule that never fired did not)."""
    lines = [f"Lead {result.lead_id}, scored by \"{rules.name}\" ({rules.path}) as of "
             f"{format_timestamp(as_of)} ({as_of_source})", ""]
    lines += _profile(rules, profile, result)
    lines += ["", "Timeline"]
    timeline = _timeline(result)
    lines += timeline if timeline else [INDENT + "(no events)"]
    lines += ["", "Result"] + _summary(rules, result)
    if why_not:
        lines += ["", "Why not (the when rules and on-event moves that never fired)"]
        lines += _why_not(rules, result)
    return "\n".join(lines) + "\n"


def _profile(rules: CompiledRuleset, profile: Mapping[str, object], result: LeadResult) -> list[str]:
    shown = ", ".join(f"{name}={profile[name]}"
                      + (" (missing)" if profile[name] in rules.missing else "")
                      for name in rules.fields if profile.get(name) not in (None, ""))
    lines = [f"Profile: {shown or '(no fields)'}"]
    lines += [f"{INDENT}note: {n.text}" for n in result.history
              if isinstance(n, Note) and n.ts is None]
    lines.append(f"Fit: {result.fit}")
    state = LeadState(rules, profile)  # before any event: what fit conditions read
    for line in rules.fit:
        if line.pred(state):
            lines.append(f"{INDENT}{_signed(line.value):>6}  {line.rule.label}")
    return lines


def _timeline(result: LeadResult) -> list[str]:
    """One heading per step (an event, a timer, the profile), the step's changes under it."""
    lines: list[str] = []
    step = None  # (time, cause) of the step whose heading was written last
    score = 0  # the score before the point change at hand, to tell a clamped one

    def heading(ts: int | None, cause: str) -> None:
        nonlocal step
        if (ts, cause) != step:
            step = (ts, cause)
            lines.append("Before any event (the profile)" if ts is None
                         else f"{format_timestamp(ts)}  timer: {cause}")

    for item in result.history:
        if isinstance(item, Seen):
            e = item.event
            step = (e.ts, e.event_id)
            props = ", ".join(f"{k}={v}" for k, v in sorted(e.props.items())[:_PROPS_SHOWN])
            more = ", ..." if len(e.props) > _PROPS_SHOWN else ""
            lines.append(f"{format_timestamp(e.ts)}  {e.type}  {e.event_id}"
                         + (f"  ({props}{more})" if props else ""))
        elif isinstance(item, PointChange):
            heading(item.ts, item.cause)
            lines.append(_point_line(item, score))
            score = item.score
        elif isinstance(item, StageChange):
            heading(item.ts, item.cause)
            rule = f"  ({item.rule.label})" if item.rule else ""
            lines.append(f"{INDENT}stage {item.source} -> {item.target}{rule}")
        elif isinstance(item, ActionTaken):
            heading(item.ts, item.cause)
            lines.append(f"{INDENT}{item.kind} \"{item.value}\"  ({item.rule.label})")
        elif isinstance(item, SlaOutcome):
            if item.outcome == "overdue":
                heading(item.due, "SLA deadline")
            lines.append(_sla_line(item))
        elif isinstance(item, Note) and item.ts is not None:
            lines.append(f"{INDENT}note: {item.text}")
    return lines


def _point_line(item: PointChange, before) -> str:
    """A point change: its points (and the value they came from), the score after; a change
    that `score between` cut short says what counted."""
    if item.capped_by:
        return (f"{INDENT}{'capped':>6}  {item.rule.label}: reached '{item.capped_by}'; score "
                f"stays {_number(item.score)}")
    basis = f"  ({item.basis})" if item.basis else ""
    counted = item.score - before
    if counted != item.delta:
        bound = "top" if item.delta > 0 else "bottom"
        kept = "nothing counted" if counted == 0 else f"{_signed(counted)} counted"
        return (f"{INDENT}{_signed(item.delta):>6}  {item.rule.label}{basis}  -> score "
                f"{_number(item.score)} (at the {bound} of score between: {kept})")
    return (f"{INDENT}{_signed(item.delta):>6}  {item.rule.label}{basis}  -> score "
            f"{_number(item.score)}")


def _why_not(rules: CompiledRuleset, result: LeadResult) -> list[str]:
    """For each `when` rule that never fired: its closest miss, or why no event could."""
    fired = {h.rule for h in result.history if isinstance(h, (PointChange, ActionTaken))}
    unscored = {h.event.type for h in result.history if isinstance(h, Seen) and not h.scored}
    lines = []
    for rule, kind in sorted(((r, k) for k, group in rules.scoring.items() for r in group),
                             key=lambda pair: pair[0].rule.line):
        if rule.rule in fired:
            continue
        lines.append(f"{INDENT}{rule.rule.label}")
        miss = result.misses.get(rule.rule)
        if miss is not None:
            lines.append(_miss_line(miss, kind))
        elif kind in unscored:
            lines.append(f"{INDENT * 2}its {kind} events came after the lead was disqualified")
        else:
            lines.append(f"{INDENT * 2}no {kind} event")
    lines += _moves_why_not(rules, result)
    return lines or [INDENT + "(every rule fired)"]


def _miss_line(miss, kind: str) -> str:
    held = f"{miss.held} of {miss.total} parts held; " if miss.total > 1 else ""
    return (f"{INDENT * 2}closest miss: {format_timestamp(miss.ts)}  {kind}  {miss.event_id}  "
            f"({held}{'; '.join(miss.failed)})")


def _moves_why_not(rules: CompiledRuleset, result: LeadResult) -> list[str]:
    """For each `on EVENT where` move never made: its closest miss while the lead was in a
    stage it leaves from."""
    made = {m.rule for m in result.moves}
    moves = {m.rule: m for out in rules.moves.values() for m in out.moves if m.event}
    lines = []
    for move in sorted(moves.values(), key=lambda m: m.rule.line):
        if move.rule in made:
            continue
        miss = result.misses.get(move.rule)
        lines.append(f"{INDENT}{move.rule.label}")
        lines.append(_miss_line(miss, move.event) if miss is not None else
                     f"{INDENT * 2}no {move.event} event while the lead was in a stage it "
                     "leaves")
    return lines


def _sla_line(sla: SlaOutcome) -> str:
    deadline = format_timestamp(sla.due)
    if sla.outcome == "overdue":
        return f"{INDENT}SLA overdue: no {_sla_event(sla)} by {deadline}  ({sla.rule.label})"
    if sla.outcome == "met":
        return f"{INDENT}SLA met: {sla.cause} came before {deadline}  ({sla.rule.label})"
    return f"{INDENT}SLA ended: the lead left {sla.stage} before {deadline}  ({sla.rule.label})"


def _sla_event(sla: SlaOutcome) -> str:
    text = sla.rule.text
    return text.split(":", 1)[1].split(" within")[0].strip() if ":" in text else "event"


def _summary(rules: CompiledRuleset, result: LeadResult) -> list[str]:
    low, high = rules.bounds
    bounds = f", kept between {low} and {high}" if low is not None else ""
    changes = sum(1 for p in result.points if not p.capped_by)
    summed = ("no point changes" if changes == 0 else "the one point change above" if changes == 1
              else f"the sum of {changes} point changes above")
    rows = [("score", str(result.score), f"{summed}{bounds}"
             + (", rounded down" if rules.has_decay else "")),
            ("fit", str(result.fit), "the fit lines listed under Profile")]
    for name in ("grade", "band", "label"):
        line = result.because.get(name)
        value = getattr(result, name)
        rows.append((name, "-" if value is None else str(value),
                     line.rule.label if line else "no line holds"))
    rows.append(("priority", result.priority or "-", "grade and band together"))
    last = result.moves[-1] if result.moves else None
    if result.disqualified:
        how = f"disqualified: {result.disqualified}"
    elif last:
        how = f"since {_when(last.ts)}, {last.rule.label}"
    else:
        how = "the first stage; no move held"
    rows.append(("stage", result.stage, how))
    assigned = [a for a in result.actions if a.kind == "assign"]
    rows.append(("owner", result.owner or "-",
                 assigned[-1].rule.label if assigned else "no assign action"))
    if result.slas:
        latest = result.slas[-1]
        rows.append(("sla", result.sla, f"{latest.stage} entered {_when(latest.entered)}, "
                     f"due {_when(latest.due)}"))
    width = max(len(name) for name, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return [f"{INDENT}{name:<{width}}  {value:<{value_width}}  {why}" for name, value, why in rows]


def _when(ts: int | None) -> str:
    return "the start" if ts is None else format_timestamp(ts)


def _signed(value) -> str:
    return ("+" if value > 0 else "") + _number(value)


def _number(value) -> str:
    if isinstance(value, Decimal) and value != value.to_integral_value():
        return f"{value:.2f}"
    return str(int(value))
