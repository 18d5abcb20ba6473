"""Step functions: an untraced replay applies each event with a function written, as Python
source compiled once, for its event type and the ruleset."""

from __future__ import annotations

from bisect import bisect_right
from decimal import Decimal

from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.results import BANT_FLAGS, TIMER_DECAY, TIMER_EXPIRE

# An untraced replay applies an event with a function written for its type and these rules:
# `LeadState.on_event` with what the rules decide fixed in advance (which rules react, their
# points, bounds and limits, activity, counts, SLAs, BANT), so that a step makes no test whose
# answer is known and no call that does nothing. Traced replays take `on_event` itself, and
# tests/test_steps.py compares the two on every lead of a sample.

def _step(rules: CompiledRuleset, kind: str):
    """The step function for events of `kind`: f(state, row), as `state.on_event(row)`
    untraced."""
    names: dict[str, object] = {"_bisect": bisect_right, "_BANT_FLAGS": BANT_FLAGS,
                                "TIMER_EXPIRE": TIMER_EXPIRE, "TIMER_DECAY": TIMER_DECAY,
                                "_Decimal": Decimal}

    def name(value: object) -> str:
        key = f"_k{len(names)}"
        names[key] = value
        return key

    bounds = tuple(None if bound is None else name(bound) for bound in rules.bounds)
    lines = ["lead_id, ts, event_id, kind, props = row",
             "s.now = ts", "s.props = props",
             "if s.entered_at is None:", "    s.entered_at = ts"]
    if kind in rules.counted:
        lines += [f"times = s.counts[{kind!r}]", "times.append(ts)",
                  f"if times[0] <= ts - {rules.counted[kind][-1]}:",
                  f"    del times[:_bisect(times, ts - {rules.counted[kind][-1]})]"]
    if kind in rules.activity:
        lines += ["s.last_activity = ts", "s.quiet_next = 0"]
        if rules.quiet:
            lines += [f"key = ts + {rules.quiet[0].quiet + 1}", "timers = s.timers",
                      "s.next_key = key if not timers or key < timers[0][0] else timers[0][0]"]
    if any(sla.event == kind for group in rules.slas.values() for sla in group):
        lines += ["if s.open_slas:", f"    s._meet_slas({kind!r}, event_id)"]
    scoring = rules.scoring.get(kind, ())
    acts = any(rule.actions for rule in scoring)
    lines.append("acting = []" if acts else "acting = ()")
    for rule in scoring:
        lines += _rule_lines(rule, name, bounds)
    lines += _bant_lines(rules, kind, name)
    lines.append("moving = s._may_move(kind)")
    if not rules.static_disqualify:
        lines.append("s._settle(kind, event_id, acting, moving)")
    else:
        lines += ["if moving" + (" or acting" if acts else "") + ":",
                  "    s._settle(kind, event_id, acting, moving)"]
    source = "def step(s, row):\n" + "".join(f"    {line}\n" for line in lines)
    exec(compile(source, f"<steps for {kind}>", "exec"), names)  # noqa: S102 (our own source)
    return names["step"]


def _rule_lines(rule, name, bounds: tuple) -> list[str]:
    """The lines of one scoring rule: its condition and limits, its points clamped to the
    score's `bounds` (names of the constants, or None), its timers and actions."""
    r = name(rule)
    low, high = bounds
    body = [f"if s.cap({r}, ts) is None:"] if rule.limits else []
    inner = [f"s.earn({r}, ts)"] if rule.limits else []
    if rule.points is not None:
        amount = f"{name(rule.per)}.points(s)" if rule.per is not None else name(rule.points)
        inner += [f"score = s.score + {amount}"]
        if low is not None:
            inner += [f"if score < {low}:", f"    score = {low}"]
        if high is not None:
            inner += [f"if score > {high}:", f"    score = {high}"]
        inner += ["if score != s.score:", "    s.score = score", "    s.version += 1"]
        if rule.per is not None:
            pass  # `check` allows no `within` or `decay` with points from a value
        elif rule.within is not None:
            inner += [f"s._push(ts + {rule.within}, TIMER_EXPIRE, ({r}, event_id))"]
        elif rule.decay is not None:
            inner += [f"s._push(ts + {rule.decay.every}, TIMER_DECAY, "
                      f"({r}, event_id, ts, 1, {name(Decimal(rule.points))}))"]
    if rule.actions:
        inner += [f"acting.extend({name(rule.actions)})"]
    inner = inner or ["pass"]
    body += ["    " + line for line in inner] if rule.limits else inner
    if rule.where is not None:
        return [f"if {name(rule.where)}(s):"] + ["    " + line for line in body]
    return body


def _bant_lines(rules: CompiledRuleset, kind: str, name) -> list[str]:
    """BANT taken from the event, or cleared by it (when its reset's condition holds)."""
    if kind == rules.bant_source:
        return ["s.bant = {f: s._flag(f) for f in _BANT_FLAGS}", "s.version += 1"]
    if kind in rules.bant_resets and rules.bant_reset_where is not None:
        return [f"if {name(rules.bant_reset_where)}(s):", "    s.bant = {}", "    s.version += 1"]
    if kind in rules.bant_resets:
        return ["s.bant = {}", "s.version += 1"]
    return []


def steps(rules: CompiledRuleset) -> dict:
    """The step function of each event type the rules react to, written on first use."""
    if not rules.steps and rules.used:
        rules.steps.update({kind: _step(rules, kind) for kind in rules.used})
    return rules.steps
