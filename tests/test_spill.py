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


def skewed(count: int, seed: int) -> list[tuple]:
    """As a send day: most events within a few ms, many at one; some spread over the window."""
    rng = random.Random(seed)
    return [(rng.choice((500, 500, 501, 503, rng.randrange(1000))), num, 2, PROPS[num % 3])
            for num in range(count)]


@pytest.mark.parametrize("most", [3, 7, 100, 10_000])
def test_slices_of_more_than_most_events_are_split_before_sorting(tmp_path, most):
    events = skewed(3000, most)
    with Spill(tmp_path, 0, 1000, 3, most=most) as spill:
        spill.add(events)
        assert list(spill) == sorted(events, key=itemgetter(0))
        assert slices_left(tmp_path) == 0


def test_a_slice_of_one_time_is_sorted_whole_however_large(tmp_path):
    events = [(5, num, 0, ()) for num in range(50)]
    with Spill(tmp_path, 0, 10, 1, most=2) as spill:
        spill.add(events)
        assert list(spill) == events


def test_positions_are_read_ahead_and_back(tmp_path):
    events = made(300, 2)
    expected = sorted(events, key=itemgetter(0))
    with Spill(tmp_path, 1000, 1008, 5) as spill:
        spill.add(events)
        positions = [0, 299, 3, 150, 151, 298]
        assert [spill[i] for i in positions] == [expected[i] for i in positions]
        assert list(spill) == expected


def slices_left(folder) -> int:
    """The bytes still in slice files: the empty slices after the last event are not read."""
    return sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith("slice-"))


def test_slice_files_are_written_when_reading_begins_and_removed_once_sorted(tmp_path):
    with Spill(tmp_path, 1000, 1008, 4) as spill:
        spill.add(made(100, 3))
        assert sorted(p.name for p in tmp_path.iterdir()) == ["sorted"]
        assert spill[0][0] == 990
        assert slices_left(tmp_path) == 1700 - 17 * sum(1 for e in made(100, 3) if e[0] < 1002)
        assert spill[99][0] == 1009
        assert slices_left(tmp_path) == 0


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
