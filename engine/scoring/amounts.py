"""Points from a value: `when web_summary then +1 per 60 seconds up to 25`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
        whole = self._whole(to_number(state.prop(self.prop)))
        return 0 if whole is None else self._capped(self.unit * whole)

    def points_and_basis(self, state) -> tuple[int, str]:
        """The points of the current event and the value they came from, for explanations;
        notes a value that cannot be read."""
        raw = state.prop(self.prop)
        whole = self._whole(to_number(raw))
        if whole is None:
            seen = "missing" if raw in (None, "") else repr(raw)
            if raw not in (None, "") and state.notes is not None:
                state.notes.add(f"{self.prop}: {raw!r} is not a number of 0 or more, so "
                                f"'{self.text}' gives no points")
            return 0, f"{self.prop} {seen}: no points"
        points = self._capped(self.unit * whole)
        capped = f", capped at {self.cap}" if points != self.unit * whole else ""
        return points, f"{self.prop}={raw}: {whole} x {self.unit:+d}{capped}"

    def _whole(self, value) -> int | None:
        """How many whole `per` the value holds; None for no value, one below 0, or one too
        large to divide exactly (1e400)."""
        if value is None or value < 0:
            return None
        try:
            return int(value // self.per)
        except (InvalidOperation, ArithmeticError):
            return None

    def _capped(self, points: int) -> int:
        cap = self.cap
        if cap is None:
            return points
        return cap if points > cap else -cap if points < -cap else points
