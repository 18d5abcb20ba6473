"""Points from a value: `when web_summary then +1 per 60 seconds up to 25`."""

from __future__ import annotations

from decimal import Decimal

import attrs

from leadrules.engine.values import to_number


@attrs.frozen
class PerValue:
    """`±N per M PROPERTY [up to CAP]`: N points for every whole M of the event's number
    (rounded down), at most CAP points either way. A missing value, one that is not a number
    or one below 0 gives no points."""

    unit: int  # the N of `+N per M`
    per: int | Decimal
    prop: str
    cap: int | None
    text: str  # as written, for explanations

    def points(self, state) -> int:
        """The points of the current event (untraced replays: no notes)."""
        value = to_number(state.prop(self.prop))
        if value is None or value < 0:
            return 0
        return self._capped(self.unit * int(value // self.per))

    def points_and_basis(self, state) -> tuple[int, str]:
        """The points of the current event and the value they came from, for explanations;
        notes a value that cannot be read."""
        raw = state.prop(self.prop)
        value = to_number(raw)
        if value is None or value < 0:
            seen = "missing" if raw in (None, "") else repr(raw)
            if raw not in (None, "") and state.notes is not None:
                state.notes.add(f"{self.prop}: {raw!r} is not a number of 0 or more, so "
                                f"'{self.text}' gives no points")
            return 0, f"{self.prop} {seen}: no points"
        whole = self.unit * int(value // self.per)
        points = self._capped(whole)
        capped = f", capped at {self.cap}" if points != whole else ""
        return points, f"{self.prop}={raw}: {int(value // self.per)} x {self.unit:+d}{capped}"

    def _capped(self, points: int) -> int:
        cap = self.cap
        if cap is None:
            return points
        return cap if points > cap else -cap if points < -cap else points
