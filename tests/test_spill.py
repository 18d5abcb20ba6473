"""Tests for engine.sample.spill: events read back as a stable sort by time orders them."""

import random
from operator import itemgetter

import pytest

from leadrules.engine.sample.spill import Spill

PROPS = ((), ("pricing", ""), ("", "whitepaper"))


def made(count: int, seed: int) -> list[tuple]:
    """(ts, lead number, type, props): many ties, some times outside the window [1000, 1008)."""
    rng = random.Random(seed)
    return [(rng.randrange(990, 1010), num, rng.randrange(13), rng.choice(PROPS))
            for num in range(count)]


@pytest.mark.parametrize("slices", [1, 2, 7, 100])
def test_reading_in_order_is_a_stable_sort_by_time(tmp_path, slices):
    events = made(500, slices)
    with Spill(tmp_path, 1000, 1008, slices) as spill:
        for first in range(0, len(events), 64):
            spill.add(events[first:first + 64])
        assert len(spill) == 500
        assert list(spill) == sorted(events, key=itemgetter(0))


def test_reading_crosses_blocks_of_records(tmp_path):
    events = made(40_000, 1)
    with Spill(tmp_path, 1000, 1008, 3) as spill:
        spill.add(events)
        assert list(spill) == sorted(events, key=itemgetter(0))


def test_positions_are_read_ahead_and_back(tmp_path):
    events = made(300, 2)
    expected = sorted(events, key=itemgetter(0))
    with Spill(tmp_path, 1000, 1008, 5) as spill:
        spill.add(events)
        positions = [0, 299, 3, 150, 151, 298]
        assert [spill[i] for i in positions] == [expected[i] for i in positions]
        assert list(spill) == expected


def test_slice_files_are_removed_once_sorted(tmp_path):
    with Spill(tmp_path, 1000, 1008, 4) as spill:
        spill.add(made(100, 3))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted"]
        assert spill[99][0] == 1009
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted"]


def test_positions_outside_and_adding_while_reading_are_refused(tmp_path):
    with Spill(tmp_path, 0, 10, 2) as spill:
        spill.add([(1, 0, 4, ())])
        with pytest.raises(IndexError, match=r"^no event at position 1 of 1$"):
            spill[1]
        with pytest.raises(IndexError, match=r"^no event at position -1 of 1$"):
            spill[-1]
        assert spill[0] == (1, 0, 4, ())
        with pytest.raises(RuntimeError, match="^events were added to a spill that is being read$"):
            spill.add([(2, 0, 4, ())])
