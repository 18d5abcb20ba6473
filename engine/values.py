"""How untyped event properties and profile cells are read as numbers and booleans."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

TRUE_WORDS = frozenset({"true", "yes", "1"})
FALSE_WORDS = frozenset({"false", "no", "0"})


def to_number(raw) -> int | Decimal | None:
    """An int or Decimal, or None when the value is missing or is not a number."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, Decimal)):
        return raw
    text = str(raw).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def to_bool(raw) -> bool | None:
    """True or False from true/false, yes/no, 1/0 in any case; None when missing or unreadable."""
    if raw is None or isinstance(raw, bool):
        return raw
    word = str(raw).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def to_text(raw) -> str | None:
    """The value as text; None when missing or empty."""
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else str(raw)
    return text if text != "" else None


def to_date(raw) -> date | None:
    """A calendar date from `2027-12-31` (or the date part of an ISO timestamp); else None."""
    if raw is None or isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw).strip()[:10])
    except ValueError:
        return None


READERS = {"number": to_number, "boolean": to_bool, "text": to_text, "date": to_date}
