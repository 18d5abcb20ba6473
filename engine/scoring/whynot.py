"""`explain --why-not`: for each `when` rule that never fired, the closest miss.

A traced replay tries each part of a failing `where` (the items of a top-level `and`, or the
whole condition) on the event, and keeps per rule the event at which most parts held (the
latest of equals), with the parts that failed and the values they read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Callable

import attrs


@attrs.frozen
class Part:
    """One part of a rule's `where`: its text, its test, and what it reads (name, getter)."""

    text: str
    pred: Callable[[object], bool]
    reads: tuple[tuple[str, Callable[[object], object]], ...]


@attrs.frozen
class Miss:
    """An event of a rule's type at which its `where` failed: how many parts held, and each
    part that failed with the values it read (`topic="careers"`)."""

    ts: int
    event_id: str
    held: int
    total: int
    failed: tuple[str, ...]


def missed(parts: tuple[Part, ...], state, event_id: str) -> Miss:
    """The miss of the current event: which parts hold for `state` now."""
    failed = []
    for part in parts:
        if not part.pred(state):
            seen = ", ".join(f"{name}={_shown(get(state))}" for name, get in part.reads)
            failed.append(f"{part.text} is false" + (f" ({seen})" if seen else ""))
    return Miss(state.now, event_id, len(parts) - len(failed), len(parts), tuple(failed))


def closer(new: Miss, old: Miss | None) -> bool:
    """Whether `new` is at least as close a miss as `old` (more parts held; later wins ties)."""
    return old is None or new.held >= old.held


def _shown(value) -> str:
    if value is None or value == "":
        return "missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    return '"' + str(value).replace('"', '\\"') + '"'
