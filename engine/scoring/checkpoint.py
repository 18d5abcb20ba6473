"""Saved replay states: an incremental run resumes a lead from the state saved after its last
applied event instead of replaying all of its events again."""

from __future__ import annotations

from decimal import Decimal
from typing import Mapping

from leadrules.engine.scoring.compiler import CompiledRuleset
from leadrules.engine.scoring.evaluate import LeadState
from leadrules.engine.scoring.results import TIMER_EXPIRE, TIMER_SLA

# An incremental run resumes a lead's replay from the state saved after its last applied event,
# instead of replaying all of its events again. The state is plain data (ints, strings, lists,
# dicts, tuples; an exact Decimal as ("decimal", text)), so that it can be stored with `marshal`;
# rules are named by their number in `CompiledRuleset.refs`, fixed by the ruleset's content
# and this code.
# Change CHECKPOINT_FORMAT whenever the layout below or the meaning of a field changes: saved
# states of another format are not used (their leads are replayed from the start).

CHECKPOINT_FORMAT = 2


def checkpoint(state: LeadState) -> tuple:
    """The state of an untraced replay after `advance`, before `finish`, as plain data:
    (position (ts, event_id) of the last applied row or None, rows applied, the state).
    Of the stage moves and actions it keeps only how many there were: a run stores them."""
    at = state.rules.numbers
    slas = state.slas
    timers = []
    for key, seq, kind, payload in state.timers:
        if kind == TIMER_SLA:
            payload = _index(slas, payload)
        elif kind == TIMER_EXPIRE:  # (rule, event_id)
            payload = (at[payload[0].rule], payload[1])
        else:  # (rule, event_id, ts, k, points now)
            payload = (at[payload[0].rule], *payload[1:4], _exact(payload[4]))
        timers.append((key, seq, kind, payload))
    row = state.last_row
    return ((row[1], row[2]) if row is not None else None, state.applied, (
        CHECKPOINT_FORMAT, _exact(state.score), state.stage, state.bant, state.earned, state.now,
        state.entered_at, state.last_activity, state.quiet_next, timers, state.seq,
        state.next_key, state.counts, state.owner,
        state.earlier[0] + len(state.moves), state.earlier[1] + len(state.actions),
        [(at[rule.rule], *rest) for rule, *rest in slas],
        [_index(slas, sla) for sla in state.open_slas],
        state.disqualified, state.version, state.checked))


def usable(saved) -> bool:
    """Whether `resume` can take a saved state: one of this format."""
    return (saved.__class__ is tuple and len(saved) == 3 and saved[2].__class__ is tuple
            and len(saved[2]) == 21 and saved[2][0] == CHECKPOINT_FORMAT)


def resume(rules: CompiledRuleset, profile: Mapping[str, object], saved: tuple) -> LeadState:
    """The LeadState that `checkpoint` saved (`usable`), ready for `advance` with the rows
    after its position. Its result's `moves` and `actions` are the ones after that position;
    `earlier` counts the ones before."""
    _, applied, data = saved
    (_, score, stage, bant, earned, now, entered_at, last_activity, quiet_next, timers, seq,
     next_key, counts, owner, moves, actions, slas, open_slas, disqualified, version,
     checked) = data
    refs, by_ref = rules.refs, rules.by_ref
    state = LeadState(rules, profile)
    state.score, state.stage, state.bant, state.earned = _number(score), stage, bant, earned
    state.now, state.entered_at, state.last_activity = now, entered_at, last_activity
    state.quiet_next, state.seq, state.next_key, state.owner = quiet_next, seq, next_key, owner
    state.counts, state.disqualified, state.version = counts, disqualified, version
    state.checked = tuple(checked) if checked is not None else None
    state.slas = [[by_ref[refs[i]], *rest] for i, *rest in slas]
    state.open_slas = [state.slas[i] for i in open_slas]
    state.timers = [(key, n, kind, state.slas[payload] if kind == TIMER_SLA
                     else (by_ref[refs[payload[0]]], payload[1]) if kind == TIMER_EXPIRE
                     else (by_ref[refs[payload[0]]], *payload[1:4], _number(payload[4])))
                    for key, n, kind, payload in timers]  # still a heap: the same order
    state.earlier = (moves, actions)  # stored by the run that saved the state
    state.applied = applied
    return state


def _exact(number: int | Decimal):
    return ("decimal", str(number)) if number.__class__ is Decimal else number


def _number(saved) -> int | Decimal:
    return Decimal(saved[1]) if saved.__class__ is tuple else saved


def _index(items: list, item) -> int:
    """The position of `item` itself (not of an equal one) in `items`."""
    return next(i for i, x in enumerate(items) if x is item)
