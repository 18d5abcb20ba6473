"""The sample's events on disk in slices of time, read back in time order with bounded memory."""

from __future__ import annotations

import struct
from itertools import starmap
from operator import itemgetter
from pathlib import Path
from typing import Iterator

_RECORD = struct.Struct("<qIBI")   # ts in ms, lead number, event type, props number: 17 bytes
_FLUSH = 1 << 15                   # bytes a slice gathers before they are appended to its file
_BLOCK = 1 << 14                   # records read at a time
_MOST = 200_000                    # records sorted in memory at once (some 200 bytes each)


class Spill:
    """Events (ts, lead number, type, props) as a list sorted by time would hold them, stably:
    ties keep the order they were added in. Memory stays near that of `most` events.

    `add` appends each event to the file of its slice of [start_ms, end_ms) (times outside fall
    into the first or last); once reading begins no more may be added. A slice is sorted the
    first time a position in it is read, and appended to one file of fixed-width records that
    `spill[i]` reads by position. A slice of more than `most` events (the sample's send days
    hold 20 times the median) is first split into narrower slices. Props tuples are stored once
    and referred to by number.
    Example: `with Spill(folder, start, end, 4) as s: s.add(events); first = s[0]`.
    """

    def __init__(self, folder: Path, start_ms: int, end_ms: int, slices: int,
                 most: int = _MOST) -> None:
        self._folder, self._start, self._span = Path(folder), start_ms, end_ms - start_ms
        self._most = most
        self._gathered = [bytearray() for _ in range(slices)]
        self._props: list[tuple] = []
        self._numbers: dict[tuple, int] = {}
        self._count = 0
        self._sorted = (self._folder / "sorted").open("w+b")
        self._ready = 0                     # records in the sorted file
        self._unsorted: list[int] | None = None   # slices still to sort, the next one last
        self._slices = slices               # slices made so far, split ones included

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc) -> None:
        self._sorted.close()

    def __len__(self) -> int:
        return self._count

    def add(self, events: list[tuple]) -> None:
        """Spill events, in the order they were made."""
        if self._unsorted is not None:
            raise RuntimeError("events were added to a spill that is being read")
        gathered, numbers, pack = self._gathered, self._numbers, _RECORD.pack
        start, span, slices = self._start, self._span, len(gathered)
        for ts, num, kind, props in events:
            number = numbers.get(props)
            if number is None:
                number = numbers[props] = len(self._props)
                self._props.append(props)
            index = min(slices - 1, max(0, (ts - start) * slices // span))
            buffer = gathered[index]
            buffer += pack(ts, num, kind, number)
            if len(buffer) >= _FLUSH:
                self._append(index, buffer)
        self._count += len(events)

    def __iter__(self) -> Iterator[tuple]:
        props = self._props
        for first in range(0, self._count, _BLOCK):
            wanted = min(_BLOCK, self._count - first)
            self._sort_through(first + wanted)
            self._sorted.seek(first * _RECORD.size)
            for ts, num, kind, number in _RECORD.iter_unpack(self._sorted.read(wanted
                                                                                * _RECORD.size)):
                yield ts, num, kind, props[number]

    def __getitem__(self, position: int) -> tuple:
        if not 0 <= position < self._count:
            raise IndexError(f"no event at position {position} of {self._count}")
        self._sort_through(position + 1)
        self._sorted.seek(position * _RECORD.size)
        ts, num, kind, number = _RECORD.unpack(self._sorted.read(_RECORD.size))
        return ts, num, kind, self._props[number]

    def _path(self, index: int) -> Path:
        return self._folder / f"slice-{index}"

    def _append(self, index: int, buffer: bytearray) -> None:
        with self._path(index).open("ab") as f:
            f.write(buffer)
        buffer.clear()

    def _blocks(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as f:
            while block := f.read(_BLOCK * _RECORD.size):
                yield block

    def _sort_through(self, records: int) -> None:
        """Sort slices into the sorted file until it holds at least `records` records."""
        if self._unsorted is None:
            for index, buffer in enumerate(self._gathered):
                self._append(index, buffer)
            self._unsorted = list(reversed(range(len(self._gathered))))
        while self._ready < records:
            path = self._path(self._unsorted.pop())
            if path.stat().st_size > self._most * _RECORD.size and self._split(path):
                continue
            rows = sorted(_RECORD.iter_unpack(path.read_bytes()), key=itemgetter(0))
            path.unlink()
            self._sorted.seek(0, 2)
            for first in range(0, len(rows), _BLOCK):   # not all at once: bytes cost 50 each
                self._sorted.write(b"".join(starmap(_RECORD.pack, rows[first:first + _BLOCK])))
            self._ready += len(rows)

    def _split(self, path: Path) -> bool:
        """Divide a slice into narrower ones of its times, the next to sort first; False if
        all its events share one time."""
        bounds = [(min(stamps), max(stamps)) for stamps in (
            [row[0] for row in _RECORD.iter_unpack(block)] for block in self._blocks(path))]
        low, high = min(b[0] for b in bounds), max(b[1] for b in bounds)
        if low == high:
            return False
        parts = 2 + 2 * path.stat().st_size // (self._most * _RECORD.size)
        first, self._slices = self._slices, self._slices + parts
        buffers = [bytearray() for _ in range(parts)]
        size, width = _RECORD.size, high - low + 1
        for block in self._blocks(path):
            for offset, row in enumerate(_RECORD.iter_unpack(block)):
                part = (row[0] - low) * parts // width
                buffers[part] += block[offset * size:offset * size + size]
                if len(buffers[part]) >= _FLUSH:
                    self._append(first + part, buffers[part])
        for part, buffer in enumerate(buffers):
            self._append(first + part, buffer)
        path.unlink()
        self._unsorted.extend(reversed(range(first, first + parts)))
        return True
