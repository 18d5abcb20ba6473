"""The canonical text of every AST node: `write(node)`, one small function per node kind.
It imports nothing of the parser, so the parser can measure statements as `fmt` writes them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

from leadrules.dsl import ast

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# Layout decisions, each tested in tests/test_format.py:
# - `events`, `activity excludes`, `fields` and `stages` lines longer than WIDTH characters
#   wrap after a comma; each line takes as many names as fit in WIDTH (its trailing comma
#   included, a trailing comment not counted), continuation lines align under the first name.
#   Nothing else is ever wrapped.
# - Alignment: a run is a maximal sequence of `when EVENT ... then` lines (ScoreRule, not the
#   `when no activity` rule) with no blank line, comment line or other statement between them.
#   If the run's longest `when ... ` part (the text before `then`, its one space included) is at
#   most ALIGN_LIMIT characters, the others are padded so every `then` stands in that column;
#   otherwise the whole run keeps single spaces. Nothing else is aligned.
# - Parentheses only where the tree needs them: an Or or And inside an And, an Or inside an Or
#   (so `(a or b) or c` keeps its shape), an And or Or inside a Not.
# - Comments keep their text as written (`#note` stays `#note`), minus surrounding whitespace.
WIDTH = 100
ALIGN_LIMIT = 40  # a short table of points aligns; long `where` lines would only add noise
_PRECEDENCE = {ast.Or: 1, ast.And: 2, ast.Not: 3}  # every other condition binds tightest (4)


def write(node) -> str:
    """The canonical text of any AST node."""
    return _WRITERS[type(node)](node)


# --- values ------------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _number(value: int | Decimal) -> str:
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def _signed(points: int) -> str:
    return f"{points:+d}"


_LITERALS = {str: _quote, bool: lambda v: "true" if v else "false", int: _number,
             Decimal: _number, date: date.isoformat}


def _literal(node: ast.Literal) -> str:
    return _LITERALS[type(node.value)](node.value)


_BARE = re.compile(r"[^\W\d]\w*")

# The grammar's keywords but the built-ins a condition reads (`fit >= 70`): a name spelt like
# one is quoted, so that it reads as a name wherever it stands ("not" = 2, "days" > 3).
_KEYWORDS = frozenset(re.findall(r'"([a-z]+)"i', _GRAMMAR.read_text(encoding="utf-8"))) - {
    "score", "fit", "grade", "band", "stage"}


def _name(text: str) -> str:
    """A name as written: bare when it is a plain word, else quoted ("Page Visit")."""
    return text if _BARE.fullmatch(text) and text.lower() not in _KEYWORDS else _quote(text)


def _ref(node: ast.Ref) -> str:
    return _name(node.path[0]) if len(node.path) == 1 else node.dotted


def _ignoring(node) -> str:
    return " ignoring case" if node.ignore_case else ""


def _text_match(node: ast.TextMatch) -> str:
    value = _list(node.value) if isinstance(node.value, tuple) else write(node.value)
    return f"{write(node.left)} {node.op} {value}{_ignoring(node)}"


def _fields(node: ast.FieldsDecl) -> str:
    text = _wrapped("fields", [write(x) for x in node.fields])
    if node.missing:
        text += " missing " + ", ".join(_quote(t) for t in node.missing)
    return text


def _per(node: ast.PerValue) -> str:
    cap = f" up to {node.cap}" if node.cap is not None else ""
    return f"per {_number(node.per)} {write(node.prop)}{cap}"


def _duration(node: ast.Duration) -> str:
    unit = node.unit[:-1] if node.amount == 1 else node.unit
    return f"{node.amount} {unit}"


def _names(names) -> str:
    return ", ".join(write(n) for n in names)


def _list(values) -> str:
    return "[" + ", ".join(write(v) for v in values) + "]"


# --- conditions --------------------------------------------------------------------------------

def _inner(node, floor: int) -> str:
    """A sub-condition, in parentheses when it binds looser than `floor` needs."""
    text = _WRITERS[type(node)](node)  # not via write(): one frame less per level of nesting
    return f"({text})" if _PRECEDENCE.get(type(node), 4) < floor else text


def _or(node: ast.Or) -> str:
    return " or ".join([_inner(item, 2) for item in node.items])


def _and(node: ast.And) -> str:
    return " and ".join([_inner(item, 3) for item in node.items])


def _not(node: ast.Not) -> str:
    return "not " + _inner(node.item, 3)


def _in_list(node: ast.InList) -> str:
    return (f"{write(node.left)} {'not in' if node.negated else 'in'} {_list(node.values)}"
            f"{_ignoring(node)}")


def _is_missing(node: ast.IsMissing) -> str:
    return f"{write(node.left)} is {'set' if node.negated else 'missing'}"


def _where(cond) -> str:
    return f" where {write(cond)}" if cond is not None else ""


# --- statements --------------------------------------------------------------------------------

def _wrapped(keyword: str, items: list[str]) -> str:
    """`keyword a, b, ...`, wrapped after a comma before WIDTH, aligned under the first item."""
    lines, line = [], f"{keyword} {items[0]}"
    for index, item in enumerate(items[1:], start=2):
        more = index < len(items)  # a comma will follow this item
        if len(line) + 2 + len(item) + more > WIDTH:
            lines.append(line + ",")
            line = " " * (len(keyword) + 1) + item
        else:
            line += ", " + item
    return "\n".join([*lines, line])


def _limit_per(node) -> str:
    return f" per {write(node.per)}" if node.per is not None else ""


def _outcome(points: int | None, limits, actions, per: ast.PerValue | None = None) -> str:
    """What follows `then`: points (per a value), limits and `and ACTION`s, or the actions."""
    words = [_signed(points), *([_per(per)] if per is not None else []),
             *(write(limit) for limit in limits)] if points is not None else []
    acts = [write(action) for action in actions]
    if not words:
        return " and ".join(acts)
    return " ".join(words) + "".join(f" and {act}" for act in acts)


def when_head(node: ast.ScoreRule) -> str:
    return f"when {write(node.event)}{_where(node.where)}"


def then_part(node: ast.ScoreRule) -> str:
    return "then " + _outcome(node.points, node.limits, node.actions, node.per)


def _guard(cond, otherwise: bool = False) -> str:
    if cond is not None:
        return f" if {write(cond)}"
    return " otherwise" if otherwise else ""


def _classify(node: ast.Classify) -> str:
    return f"{node.kind} {node.value}{_guard(node.cond, otherwise=node.cond is None)}"


def _stage_move(node: ast.StageMove) -> str:
    source = node.source.text if node.source is not None else "*"  # stages are never quoted
    return f"stage {source} -> {node.target.text} {write(node.trigger)}"


def _bant(node: ast.BantDecl) -> str:
    resets = f", reset on {_names(node.resets)}{_where(node.reset_where)}" if node.resets else ""
    return f"bant from {write(node.source)}{resets}"


def _goal(node: ast.Goal) -> str:
    text = (f"goal {_quote(node.name)}: {write(node.measure)} {node.op} "
            f"{_number(node.target)}{'%' if node.percent else ''}{_where(node.where)}")
    if node.start is not None:
        return f"{text} between {node.start.isoformat()} and {node.end.isoformat()}"
    return f"{text} by {node.end.isoformat()}" if node.end is not None else text


_WRITERS = {
    # names and values
    ast.Name: lambda n: _name(n.text),
    ast.Ref: _ref,
    ast.Literal: _literal,
    ast.Symbol: lambda n: n.name,
    ast.Duration: _duration,
    ast.DaysInStage: lambda n: "days in stage",
    ast.DaysSinceActivity: lambda n: "days since last activity",
    ast.CountWithin: lambda n: f"count {write(n.event)} within {write(n.window)}",
    # conditions
    ast.Compare: lambda n: f"{write(n.left)} {n.op} {write(n.right)}{_ignoring(n)}",
    ast.InList: _in_list,
    ast.TextMatch: _text_match,
    ast.IsMissing: _is_missing,
    ast.Truthy: lambda n: write(n.ref),
    ast.And: _and,
    ast.Or: _or,
    ast.Not: _not,
    # limits, actions, triggers, goal measures
    ast.Once: lambda n: "once" + _limit_per(n),
    ast.AtMost: lambda n: f"at most {n.times} times{_limit_per(n)}",
    ast.Within: lambda n: f"within {write(n.window)}",
    ast.Decay: lambda n: f"decay {_number(n.percent)}% every {write(n.every)}",
    ast.Action: lambda n: f"{n.kind} {_quote(n.text)}",
    ast.OnCondition: lambda n: f"if {write(n.cond)}",
    ast.OnEvent: lambda n: f"on {write(n.event)}{_where(n.where)}",
    ast.OnActivity: lambda n: "on any activity",
    ast.Entered: lambda n: f"entered {n.stage.text}",  # stage names are plain words, never quoted
    ast.Conversion: lambda n: f"conversion {n.source.text} -> {n.target.text}",
    ast.LeadsIn: lambda n: f"leads in {n.stage.text}",
    ast.MedianDays: lambda n: f"median days {n.source.text} -> {n.target.text}",
    ast.FieldDecl: lambda n: f"{write(n.name)}: {write(n.type)}",
    # statements
    ast.RulesetName: lambda n: f"ruleset {_quote(n.name)}",
    ast.EventsDecl: lambda n: _wrapped("events", [write(x) for x in n.names]),
    ast.ActivityExcludes: lambda n: _wrapped("activity excludes", [write(x) for x in n.names]),
    ast.FieldsDecl: _fields,
    ast.PerValue: _per,
    ast.ScoreRule: lambda n: f"{when_head(n)} {then_part(n)}",
    ast.InactivityRule: lambda n: (f"when no activity for {write(n.quiet)} then "
                                   f"{_outcome(n.points, (), n.actions)}"),
    ast.ScoreBounds: lambda n: f"score between {n.low} and {n.high}",
    ast.FitRule: lambda n: f"fit {_signed(n.points)} if {write(n.cond)}",
    ast.Classify: _classify,
    ast.Disqualify: lambda n: f"disqualify {_quote(n.reason)} if {write(n.cond)}",
    ast.BantDecl: _bant,
    ast.StagesDecl: lambda n: _wrapped("stages", [x.text for x in n.names]),
    ast.StageMove: _stage_move,
    ast.OnEntering: lambda n: (f"on entering {n.stage.text} {write(n.action)}"
                               f"{_guard(n.cond, n.otherwise)}"),
    ast.Sla: lambda n: f"sla {n.stage.text}: {write(n.event)} within {write(n.window)}",
    ast.Goal: _goal,
}
