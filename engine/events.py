"""Events as the engine sees them, and the one way timestamps are read and written."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Mapping

import attrs

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROS = 1_000_000


@attrs.frozen(slots=True)
class Event:
    """One thing that happened to a lead; `ts` is microseconds since the epoch, UTC."""

    event_id: str
    lead_id: str
    type: str
    ts: int
    props: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def order_key(self) -> tuple[int, str]:
        """Events are applied in (timestamp, event id) order, whatever order they arrived in."""
        return (self.ts, self.event_id)


def parse_timestamp(text: str) -> int:
    """Read an ISO 8601 timestamp or plain date; naive times are UTC. Raises ValueError."""
    text = text.strip()
    if not text:
        raise ValueError("empty timestamp")
    if len(text) == 10:
        d = date.fromisoformat(text)
        moment = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    else:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


# For format_timestamp: the date part of days already seen, and every "HH:MM" and ":SS". A run
# writes the time of each quiet spell into the stage moves and actions it causes; building the
# text from these is a third of the time of strftime.
_DAYS: dict[int, str] = {}
_MINUTES = tuple(f"{h:02d}:{m:02d}" for h in range(24) for m in range(60))
_SECONDS = tuple(f":{s:02d}" for s in range(60))


def format_timestamp(micros: int) -> str:
    """The canonical text of a stored timestamp: ISO 8601 in UTC with a Z."""
    seconds, rest = divmod(micros, MICROS)
    day, second = divmod(seconds, 86_400)  # floored: the time of day is never negative
    date_text = _DAYS.get(day)
    if date_text is None:
        if len(_DAYS) >= 4096:
            _DAYS.clear()
        date_text = _DAYS[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
    minute, second = divmod(second, 60)
    text = date_text + _MINUTES[minute] + _SECONDS[second]
    if rest:
        text += f".{rest:06d}".rstrip("0")
    return text + "Z"


def days(n: int | float) -> int:
    """A duration of n days in timestamp units."""
    return int(n * 86_400 * MICROS)
