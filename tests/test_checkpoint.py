"""A replay saved after any event and resumed later gives exactly what one replay gives.

An incremental run relies on this: it resumes a lead from the state saved after its last
event. Here every lead of the sample is cut after each of its events, saved as the store saves
it (marshal), resumed, and finished, also at a later as-of time than the one it was saved at.
The stage moves and actions before the cut are only counted by the saved state (the run that
saved it stored them), so the resumed result lists the later ones.
"""

import marshal
from pathlib import Path

import attrs
import pytest

from leadrules import dsl
from leadrules.engine.events import parse_timestamp
from leadrules.engine.sample.generator import write_sample
from leadrules.engine.scoring.checkpoint import CHECKPOINT_FORMAT, checkpoint, resume, usable
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import advance, finish, replay, start
from leadrules.engine.store.ingest import read_events, read_leads

B2B = (Path(__file__).parent.parent / "rulesets" / "b2b.rules").read_text()
# The same funnel with points that expire and points that decay, so that their timers and
# exact (Decimal) scores are saved too
TIMED = (B2B.replace("when content_request then +20",
                     "when content_request then +20 decay 50% every 30 days")
         .replace("when webinar_signup then +25", "when webinar_signup then +25 within 60 days"))
SAVED_AT = parse_timestamp("2026-06-01")
AS_OF = parse_timestamp("2026-11-01")


def compiled(text: str):
    return compile_ruleset(dsl.analyze(text, "b2b.rules").raise_for_errors())


@pytest.fixture(scope="module")
def leads(tmp_path_factory):
    """(lead_id, profile, event rows in replay order, each id once, as the store gives them)
    of a generated sample of 60 leads."""
    sample = write_sample(tmp_path_factory.mktemp("sample"), 60, seed=3)
    by_lead: dict[str, list] = {}
    events = {e.event_id: e for e in read_events(str(sample.events_path))}  # it repeats some
    for e in sorted(events.values(), key=lambda e: (e.ts, e.event_id)):
        by_lead.setdefault(e.lead_id, []).append((e.lead_id, e.ts, e.event_id, e.type, e.props))
    return [(lead_id, profile, by_lead.get(lead_id, []))
            for lead_id, profile in read_leads(str(sample.leads_path))]


@pytest.mark.parametrize("text", [B2B, TIMED], ids=["b2b", "decay-and-within"])
def test_resuming_after_any_event_equals_one_replay(leads, text):
    rules = compiled(text)
    resumed = 0
    for lead_id, profile, rows in leads:
        whole = replay(rules, lead_id, profile, rows, AS_OF)
        for saved_at in (SAVED_AT, AS_OF):
            for cut in range(len(rows) + 1):
                state = start(rules, profile)
                advance(state, rows[:cut], saved_at)
                saved = marshal.loads(marshal.dumps(checkpoint(state)))
                assert usable(saved)
                position = saved[0]
                rest = [r for r in rows if position is None or (r[1], r[2]) > position]
                again = resume(rules, profile, saved)
                result = finish(again, lead_id, AS_OF, advance(again, rest, AS_OF))
                # the moves and actions before the checkpoint are counted, not repeated
                assert result.earlier == (len(state.moves), len(state.actions))
                assert attrs.evolve(result, moves=(*state.moves, *result.moves),
                                    actions=(*state.actions, *result.actions),
                                    earlier=(0, 0)) == whole
                resumed += 1
    assert resumed > 1000


def test_a_state_of_another_format_is_not_used():
    rules = compiled(B2B)
    position, applied, state = checkpoint(start(rules, {}))
    assert usable((position, applied, state))
    assert not usable((position, applied, (CHECKPOINT_FORMAT + 1, *state[1:])))
    assert not usable((position, applied, state[:-1]))
    assert not usable("garbage")
