"""What a ruleset will not see in a store: event types it does not declare, fields no lead has.

`ingest --rules` prints these as warnings, so that points which can never count (a type spelled
`Webinar_Signup` in the data and `webinar_signup` in the rules) do not go unnoticed.
"""

from __future__ import annotations

import difflib
import re

from leadrules.dsl import ast
from leadrules.engine.store.store import Store

_SEPARATORS = re.compile(r"[\s_\-.]+")


def _folded(name: str) -> str:
    """A name without case and separators: `Page Visit`, `page_visit` and `PageVisit` meet."""
    return _SEPARATORS.sub("", name).casefold()


def did_you_mean(name: str, declared: list[str]) -> str | None:
    """The declared name `name` most likely means: one differing in case or separators
    first, else the closest spelling; None when nothing is close."""
    folded = _folded(name)
    same = [d for d in declared if _folded(d) == folded]
    if same:
        return same[0]
    close = difflib.get_close_matches(name, declared, n=1, cutoff=0.75)
    return close[0] if close else None


def warnings(store: Store, ruleset: ast.Ruleset) -> list[str]:
    """Warnings about the store's data that the ruleset cannot use, one line each."""
    declared = [n.text for decl in ruleset.of(ast.EventsDecl) for n in decl.names]
    lines = []
    if declared:
        known = set(declared)
        for type_, count in store.info().event_types:
            if type_ not in known:
                guess = did_you_mean(type_, declared)
                hint = f"; did you mean {guess}?" if guess else ""
                lines.append(f"warning: {count:,} event{'s' if count != 1 else ''} of type "
                             f"{type_!r}, which the rules do not declare; they score nothing"
                             f"{hint}")
    fields = [f.name.text for decl in ruleset.of(ast.FieldsDecl) for f in decl.fields]
    if fields and store.lead_count():
        keys = store.profile_keys()
        for name in fields:
            if name not in keys:
                lines.append(_absent_field(name, sorted(keys)))
    return lines


def _absent_field(name: str, keys: list[str]) -> str:
    """The warning for a declared field that no lead has, with the likely column."""
    guess = did_you_mean(name, keys)
    hint = (f"the leads have {guess!r}: map it with --map '{guess}={name}'" if guess else
            f"is the column named otherwise? map it with --map 'COLUMN={name}'")
    return (f"warning: no lead has the field {name!r} the rules declare; conditions on it "
            f"never hold ({hint})")
