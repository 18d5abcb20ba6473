"""Rule text to AST: split a file into statements, parse each with the Lark grammar, build nodes."""

from __future__ import annotations

import datetime
import difflib
import functools
import hashlib
import re
from decimal import Decimal
from pathlib import Path

import attrs
import lark
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, VisitError

from leadrules.dsl import ast, bounds, cache
from leadrules.dsl.errors import Diagnostic, Span, source_lines

STATEMENT_KEYWORDS = ("ruleset", "events", "activity", "fields", "when", "score", "fit", "grade",
                      "band", "label", "disqualify", "bant", "stages", "stage", "on", "sla", "goal")
UNITS = {"hour": "hours", "hours": "hours", "day": "days", "days": "days",
         "week": "weeks", "weeks": "weeks"}
FIELD_TYPES = ("text", "number", "date", "boolean")
GRADES = ("A", "B", "C", "D")
BANDS = (1, 2, 3, 4)


GRAMMAR = Path(__file__).with_name("grammar.lark")
# The grammar's keywords, so that a syntax hint does not take `when Page` for a name.
_KEYWORDS = frozenset(re.findall(r'"([a-z]+)"i', GRAMMAR.read_text(encoding="utf-8")))


@functools.cache
def _lark() -> Lark:
    """The LALR parser, built once per process from the grammar file beside this module.

    Building its tables takes about 80 ms, most of the time a command like `check` needs, so
    Lark keeps them in the user's cache directory (`parser_cache`) and later processes load
    them in a few. Lark checks that a cached file was made from this grammar, with these
    options, by this Lark and Python; one that is unreadable or stale is built again."""
    grammar = GRAMMAR.read_text(encoding="utf-8")
    return Lark(grammar, source_path=str(GRAMMAR), parser="lalr", start="start",
                propagate_positions=True, maybe_placeholders=True,
                cache=parser_cache(grammar, GRAMMAR) or False)


def parser_cache(grammar: str, path: Path) -> str | None:
    """Where the parser tables of this grammar are cached (`dsl.cache`). One file per grammar
    text and place, because Lark's check covers the place too: two installs sharing one file
    would build it in turn. None when there is no cache directory."""
    where = cache.folder()
    if where is None:
        return None
    digest = hashlib.sha256(f"{path}\0{grammar}".encode("utf-8")).hexdigest()[:16]
    tables = where / f"grammar-{digest}-lark{lark.__version__}.cache"
    if not tables.exists():  # a new install or version: the time to forget old ones
        cache.forget_stale(where, "grammar-*.cache")
    return str(tables)


@attrs.frozen
class Chunk:
    """One statement's text and the line it starts on."""

    line: int
    text: str


_CODE = re.compile(r'"(?:[^"\\]|\\.)*"?|[#()\[\]]')  # a string (maybe unclosed), or # ( ) [ ]
_DEPTH = {"(": 1, "[": 1, ")": -1, "]": -1}


def code_part(line: str) -> tuple[str, int]:
    """The line without its comment, and the bracket depth it opens (negative if it closes)."""
    depth = 0
    for match in _CODE.finditer(line):
        token = match.group()
        if token == "#":
            return line[:match.start()], depth
        depth += _DEPTH.get(token, 0)
    return line, depth


def _starts_statement(line: str) -> bool:
    words = line.split(None, 1)
    return bool(words) and words[0].lower() in STATEMENT_KEYWORDS and not line[:1].isspace()


def split_statements(text: str) -> list[Chunk]:
    """Statements are lines; one continues after a trailing comma or inside open brackets,
    unless the next line starts a new statement at its first column."""
    chunks: list[Chunk] = []
    start, lines, depth, open_end = 0, [], 0, False
    for number, line in enumerate(source_lines(text), start=1):
        code, change = code_part(line)
        if lines and open_end and not _starts_statement(line):
            lines.append(line)
        else:
            if lines:
                chunks.append(Chunk(start, "\n".join(lines)))
            lines, depth = [], 0
            if not code.strip():
                open_end = False
                continue
            start, lines = number, [line]
        depth += change
        stripped = code.rstrip()
        open_end = depth > 0 or stripped.endswith(",") or (open_end and not stripped)
    if lines:
        chunks.append(Chunk(start, "\n".join(lines)))
    return chunks


class _Located(Exception):
    """A problem found while building nodes; becomes a Diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


class _Builder(Transformer):
    """Turns one statement's parse tree into AST nodes, spans shifted to file lines."""

    def __init__(self, path: str, first_line: int):
        super().__init__()
        self.path, self.offset = path, first_line - 1
        self.diagnostics: list[Diagnostic] = []

    # -- positions and problems
    def span(self, item) -> Span | None:
        line = getattr(item, "line", None)
        if line is None or getattr(item, "empty", False):
            return None
        return Span(self.path, line + self.offset, item.column,
                    item.end_line + self.offset, item.end_column)

    def problem(self, code: str, item, message: str, hint: str | None = None) -> None:
        own = getattr(item, "span", None)
        span = own if isinstance(own, Span) else self.span(item)
        span = span or Span(self.path, self.offset + 1, 1, self.offset + 1, 2)
        self.diagnostics.append(Diagnostic(code, message, span, hint=hint))

    def name(self, token) -> ast.Name:
        if isinstance(token, ast.Name):  # a `qname`, built already
            return token
        return ast.Name(str(token), span=self.span(token))

    def qname(self, items) -> ast.Name:
        """An event or field name, bare or quoted ("Page Visit")."""
        token = items[0]
        text = _unquote(token) if token.type == "STRING" else str(token)
        if not text.strip():
            self.problem("empty-name", token, "a quoted name cannot be empty",
                         hint='write a name, e.g. "Page Visit"')
        return ast.Name(text, span=self.span(token))

    def event_list(self, items):
        return tuple(items)

    def points(self, token: Token) -> int:
        text = str(token)
        if "." in text:
            self.problem("bad-points", token, f"points must be whole numbers, not {text}",
                         hint=f"write {text.split('.')[0]}")
        elif text[0] not in "+-":
            self.problem("missing-sign", token, f"points need a sign: {text}",
                         hint=f"write +{text} or -{text}")
        elif too_many := bounds.points_problem(int(text)):
            self.problem("too-many-points", token, too_many[0], hint=too_many[1])
        return int(Decimal(text))

    def integer(self, token: Token) -> int:
        value = _number(token)
        if not isinstance(value, int):
            self.problem("bad-number", token, f"expected a whole number, not {token}",
                         hint=f"write {int(value)}")
            return int(value)
        return value

    # -- statements
    @v_args(meta=True)
    def ruleset_decl(self, meta, items):
        return ast.RulesetName(_unquote(items[0]), span=self.span(meta))

    @v_args(meta=True)
    def events_decl(self, meta, items):
        return ast.EventsDecl(items[0], span=self.span(meta))

    @v_args(meta=True)
    def activity_decl(self, meta, items):
        return ast.ActivityExcludes(items[0], span=self.span(meta))

    def name_list(self, items):
        return tuple(self.name(t) for t in items)

    @v_args(meta=True)
    def fields_decl(self, meta, items):
        *fields, missing = items
        return ast.FieldsDecl(tuple(fields), missing or (), span=self.span(meta))

    def missing_tokens(self, items):
        return tuple(_unquote(t) for t in items)

    @v_args(meta=True)
    def field_decl(self, meta, items):
        name, kind = items
        if str(kind) not in FIELD_TYPES:
            close = difflib.get_close_matches(str(kind), FIELD_TYPES, n=1)
            self.problem("unknown-type", kind, f"unknown field type '{kind}'",
                         hint=f"did you mean '{close[0]}'?" if close else
                         "field types are " + ", ".join(FIELD_TYPES))
        return ast.FieldDecl(self.name(name), self.name(kind), span=self.span(meta))

    @v_args(meta=True)
    def when_rule(self, meta, items):
        event, where, (points, per, limits, actions) = items
        return ast.ScoreRule(self.name(event), where, points, limits, actions, per,
                             span=self.span(meta))

    @v_args(meta=True)
    def inactivity_rule(self, meta, items):
        quiet, (points, per, limits, actions) = items
        if per is not None:
            self.problem("per-on-inactivity", per, "a quiet spell has no event whose value "
                         "could give points", hint="write fixed points, e.g. then -10")
        for limit in limits:
            self.problem("limit-on-inactivity", limit, "a quiet-spell rule fires once per spell "
                         "and takes no limit", hint="remove the limit")
        return ast.InactivityRule(quiet, points, actions, span=self.span(meta))

    def outcome(self, items):
        """(points or None, per-value or None, limits, actions) after `then`."""
        points = self.points(items[0]) if isinstance(items[0], Token) else None
        rest = items[1:] if points is not None else items
        per = rest[0] if points is not None else None
        rest = rest[1:] if points is not None else rest
        limits = tuple(i for i in rest if not isinstance(i, ast.Action))
        return points, per, limits, tuple(i for i in rest if isinstance(i, ast.Action))

    @v_args(meta=True)
    def per_value(self, meta, items):
        per, prop, cap = items
        amount = _number(per)
        if amount <= 0 or str(per)[0] in "+-":
            self.problem("bad-number", per, f"'per {per}' must be a number above 0",
                         hint="write e.g. +1 per 60 seconds")
        limit = None
        if cap is not None:
            limit = self.integer(cap)
            if limit < 1 or str(cap)[0] in "+-":
                self.problem("bad-number", cap, f"'up to {cap}' must be a whole number above 0",
                             hint="write e.g. up to 25")
        return ast.PerValue(amount, self.name(prop), limit, span=self.span(meta))

    @v_args(meta=True)
    def once(self, meta, items):
        per = items[1] if len(items) > 1 else None
        return ast.Once(per, span=self.span(meta))

    @v_args(meta=True)
    def at_most(self, meta, items):
        times, per = items
        count = self.integer(times)
        if count < 1:
            self.problem("bad-number", times, f"'at most {times} times' can never give points",
                         hint="write at most 1 times or more, or remove the rule")
        return ast.AtMost(count, per, span=self.span(meta))

    @v_args(meta=True)
    def within(self, meta, items):
        return ast.Within(items[0], span=self.span(meta))

    @v_args(meta=True)
    def decay(self, meta, items):
        percent, every = items
        value = _number(percent)
        if not 0 < value <= 100:
            self.problem("bad-percent", percent, f"decay of {percent}% is not between 1 and 100",
                         hint="write e.g. decay 50% every 30 days")
        return ast.Decay(value, every, span=self.span(meta))

    @v_args(meta=True)
    def action(self, meta, items):
        kind, text = items
        return ast.Action(str(kind).lower(), _unquote(text), span=self.span(meta))

    def unit(self, items):
        return UNITS[str(items[0]).lower()]

    @v_args(meta=True)
    def duration(self, meta, items):
        amount, unit = items
        count = self.integer(amount)
        if count < 1:
            self.problem("bad-duration", amount, f"a duration of {amount} {unit} is too short",
                         hint=f"write 1 {unit[:-1]} or more")
        elif too_long := bounds.duration_problem(count, unit):
            self.problem("bad-duration", amount, too_long[0], hint=too_long[1])
        return ast.Duration(count, unit, span=self.span(meta))

    def where(self, items):
        return items[0]

    @v_args(meta=True)
    def score_bounds(self, meta, items):
        low, high = (self.integer(t) for t in items)
        if low > high:
            self.problem("bad-bounds", meta, f"the lower bound {low} is above the upper bound {high}",
                         hint=f"write score between {high} and {low}")
        return ast.ScoreBounds(low, high, span=self.span(meta))

    @v_args(meta=True)
    def fit_rule(self, meta, items):
        return ast.FitRule(self.points(items[0]), items[1], span=self.span(meta))

    @v_args(meta=True)
    def grade_rule(self, meta, items):
        letter, cond = items
        if str(letter) not in GRADES:
            self.problem("bad-grade", letter, f"'{letter}' is not a grade",
                         hint="grades are A, B, C and D")
        return ast.Classify("grade", str(letter), _guard(cond), span=self.span(meta))

    @v_args(meta=True)
    def band_rule(self, meta, items):
        number, cond = items
        if _number(number) not in BANDS:
            self.problem("bad-band", number, f"'{number}' is not a band",
                         hint="bands are 1, 2, 3 and 4")
        value = _number(number)
        return ast.Classify("band", str(int(value)), _guard(cond), span=self.span(meta))

    @v_args(meta=True)
    def label_rule(self, meta, items):
        name, cond = items
        return ast.Classify("label", str(name), _guard(cond), span=self.span(meta))

    def otherwise(self, items):
        return _OTHERWISE

    @v_args(meta=True)
    def on_entering(self, meta, items):
        stage, action, cond = items
        return ast.OnEntering(self.name(stage), action, _guard(cond), cond is _OTHERWISE,
                              span=self.span(meta))

    @v_args(meta=True)
    def sla_decl(self, meta, items):
        stage, event, window = items
        return ast.Sla(self.name(stage), self.name(event), window, span=self.span(meta))

    @v_args(meta=True)
    def goal_decl(self, meta, items):
        name, measure, op, target, percent, where, period = items
        start, end = period or (None, None)
        return ast.Goal(_unquote(name), measure, str(op), _number(target), percent is not None,
                        start, end, where, span=self.span(meta))

    @v_args(meta=True)
    def entered(self, meta, items):
        return ast.Entered(self.name(items[0]), span=self.span(meta))

    @v_args(meta=True)
    def conversion(self, meta, items):
        return ast.Conversion(self.name(items[0]), self.name(items[1]), span=self.span(meta))

    @v_args(meta=True)
    def median_days(self, meta, items):
        return ast.MedianDays(self.name(items[0]), self.name(items[1]), span=self.span(meta))

    @v_args(meta=True)
    def leads_in(self, meta, items):
        return ast.LeadsIn(self.name(items[0]), span=self.span(meta))

    def between(self, items):
        return self.date_of(items[0]), self.date_of(items[1])

    def by(self, items):
        return None, self.date_of(items[0])

    def date_of(self, token: Token) -> datetime.date | None:
        try:
            return datetime.date.fromisoformat(str(token))
        except ValueError:
            self.problem("bad-date", token, f"{token} is not a date in the calendar",
                         hint="write YYYY-MM-DD, e.g. 2027-12-31")
            return None

    @v_args(meta=True)
    def disqualify_rule(self, meta, items):
        return ast.Disqualify(_unquote(items[0]), items[1], span=self.span(meta))

    @v_args(meta=True)
    def bant_decl(self, meta, items):
        source, resets, where = (*items, None, None)[:3]
        return ast.BantDecl(self.name(source), resets or (), where, span=self.span(meta))

    @v_args(meta=True)
    def stages_decl(self, meta, items):
        return ast.StagesDecl(items[0], span=self.span(meta))

    @v_args(meta=True)
    def stage_move(self, meta, items):
        source, target, trigger = items
        return ast.StageMove(source, self.name(target), trigger, span=self.span(meta))

    def stage_from(self, items):
        return self.name(items[0])

    def any_stage(self, items):
        return None

    @v_args(meta=True)
    def on_condition(self, meta, items):
        return ast.OnCondition(items[0], span=self.span(meta))

    @v_args(meta=True)
    def on_activity(self, meta, items):
        return ast.OnActivity(span=self.span(meta))

    @v_args(meta=True)
    def on_event(self, meta, items):
        return ast.OnEvent(self.name(items[0]), items[1], span=self.span(meta))

    # -- conditions
    @v_args(meta=True)
    def or_cond(self, meta, items):
        return ast.Or(tuple(items), span=self.span(meta))

    @v_args(meta=True)
    def and_cond(self, meta, items):
        return ast.And(tuple(items), span=self.span(meta))

    @v_args(meta=True)
    def negate(self, meta, items):
        return ast.Not(items[0], span=self.span(meta))

    @v_args(meta=True)
    def compare(self, meta, items):
        left, op, right, ignoring = items
        return ast.Compare(left, str(op), right, ignoring is not None, span=self.span(meta))

    @v_args(meta=True)
    def in_list(self, meta, items):
        return ast.InList(items[0], items[1], ignore_case=items[2] is not None,
                          span=self.span(meta))

    @v_args(meta=True)
    def not_in_list(self, meta, items):
        return ast.InList(items[0], items[1], negated=True, ignore_case=items[2] is not None,
                          span=self.span(meta))

    def ignoring_case(self, items):
        return True

    def _text_match(op):  # noqa: N805 - builds one method per text operator
        @v_args(meta=True)
        def method(self, meta, items):
            return ast.TextMatch(items[0], op, items[1], items[2] is not None,
                                 span=self.span(meta))
        return method

    contains = _text_match("contains")
    starts_with = _text_match("starts with")
    ends_with = _text_match("ends with")

    @v_args(meta=True)
    def is_missing(self, meta, items):
        return ast.IsMissing(items[0], span=self.span(meta))

    @v_args(meta=True)
    def is_set(self, meta, items):
        return ast.IsMissing(items[0], negated=True, span=self.span(meta))

    @v_args(meta=True)
    def truthy(self, meta, items):
        return ast.Truthy(items[0], span=self.span(meta))

    @v_args(meta=True)
    def days_in_stage(self, meta, items):
        return ast.DaysInStage(span=self.span(meta))

    @v_args(meta=True)
    def days_since_activity(self, meta, items):
        return ast.DaysSinceActivity(span=self.span(meta))

    @v_args(meta=True)
    def count_within(self, meta, items):
        return ast.CountWithin(self.name(items[0]), items[1], span=self.span(meta))

    def date(self, items):
        return ast.Literal(self.date_of(items[0]), span=self.span(items[0]))

    @v_args(meta=True)
    def ref(self, meta, items):
        return ast.Ref(tuple(str(t) for t in items), span=self.span(meta))

    @v_args(meta=True)
    def quoted_ref(self, meta, items):
        """A field or property with a name that is not a plain word: "Lead Origin"."""
        return ast.Ref((_unquote(items[0]),), span=self.span(meta))

    def string(self, items):
        return ast.Literal(_unquote(items[0]), span=self.span(items[0]))

    def number(self, items):
        return ast.Literal(_number(items[0]), span=self.span(items[0]))

    def symbol(self, items):
        word = str(items[0])
        if word.lower() in ("true", "false"):
            return ast.Literal(word.lower() == "true", span=self.span(items[0]))
        return ast.Symbol(word, span=self.span(items[0]))

    def list(self, items):
        return tuple(v for v in items if v is not None)

    def start(self, items):
        return items[0]


_OTHERWISE = object()


def _guard(cond):
    return None if cond is _OTHERWISE else cond


def _number(token) -> int | Decimal:
    text = str(token)
    return Decimal(text) if "." in text else int(text)


def _unquote(token) -> str:
    body = str(token)[1:-1]
    return body.replace('\\"', '"').replace("\\\\", "\\")


# -- syntax errors --------------------------------------------------------------------------

_TERMINAL_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": 'a "quoted text"',
    "CMP_OP": "a comparison (= != < <= > >=)", "$END": "the end of the line",
    "DATE": "a date like 2027-12-31", "ACTION_KIND": "an action (assign, enroll, alert)",
    "PERCENT_SIGN": "'%'", "ONCE": "'once'",
}


def _describe(terminal: str) -> str:
    if terminal in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[terminal]
    try:
        return f"'{_lark().get_terminal(terminal).pattern.value}'"
    except KeyError:
        return terminal.lower()


def _expected(names) -> str:
    words = sorted({_describe(n) for n in names})
    if len(words) > 8:
        words = words[:8] + ["..."]
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


def _syntax_diagnostic(error: UnexpectedInput, chunk: Chunk, path: str) -> Diagnostic:
    line = error.line + chunk.line - 1 if error.line > 0 else chunk.line
    col = max(error.column, 1)
    if isinstance(error, UnexpectedCharacters):
        char = chunk.text[error.pos_in_stream]
        span = Span(path, line, col, line, col + 1)
        return Diagnostic("syntax", f"unexpected character {char!r}", span,
                          hint="names are letters, digits and _; text goes in double quotes")
    token = getattr(error, "token", None)
    expected = getattr(error, "accepts", None) or getattr(error, "expected", None) or set()
    if token is None or token.type == "$END":
        last = source_lines(chunk.text)[-1]
        end = len(last.rstrip()) + 1
        span = Span(path, chunk.line + chunk.text.count("\n"), end, chunk.line + chunk.text.count("\n"), end + 1)
        return Diagnostic("syntax", "the statement ends too early", span,
                          hint=f"expected {_expected(expected)}")
    span = Span(path, line, col, line, col + max(len(str(token)), 1))
    if token.start_pos == 0 or (token.type == "NAME" and _is_first_token(chunk, token)):
        close = difflib.get_close_matches(str(token), STATEMENT_KEYWORDS, n=1)
        return Diagnostic("unknown-statement", f"a statement cannot start with '{token}'", span,
                          hint=f"did you mean '{close[0]}'?" if close else
                          "statements start with " + ", ".join(STATEMENT_KEYWORDS))
    if set(expected) <= {"$END"}:
        return Diagnostic("syntax", f"unexpected '{token}' after a complete statement", span,
                          hint="remove it, or start a new statement on its own line")
    words = _spaced_name(chunk, token)
    if words is not None:
        return Diagnostic("syntax", f"unexpected '{token}'", span,
                          hint=f'a name with spaces goes in quotes: "{words}"')
    return Diagnostic("syntax", f"unexpected '{token}'", span, hint=f"expected {_expected(expected)}")


def _spaced_name(chunk: Chunk, token: Token) -> str | None:
    """`Lead Origin` where one name goes: the two words, when the token follows a name."""
    before = re.search(r"([^\W\d][\w-]*) +$", chunk.text[:token.start_pos])
    if token.type != "NAME" or before is None or before.group(1).lower() in _KEYWORDS:
        return None
    return f"{before.group(1)} {token}"


def _is_first_token(chunk: Chunk, token: Token) -> bool:
    return not chunk.text[:token.start_pos].strip()


def _build(builder: _Builder, tree):
    """The statement's node, or None when it nests deeper than Python's stack allows."""
    try:
        return builder.transform(tree)
    except RecursionError:
        return None
    except VisitError as error:  # a bug in a builder method, never the user's fault
        if isinstance(error.orig_exc, RecursionError):
            return None
        raise error.orig_exc from error


def parse_statements(text: str, path: str) -> tuple[list, list[Diagnostic]]:
    """Every statement that parses, in order, and a diagnostic for each that does not. A
    statement past a bound of dsl.bounds (a line, its depth, a list, a number) is not built."""
    diagnostics = bounds.long_lines(source_lines(text), 1, path)
    long = {d.span.line for d in diagnostics}
    statements = []
    for chunk in split_statements(text):
        lines = chunk.text.split("\n")
        if long and long & set(range(chunk.line, chunk.line + len(lines))):
            continue  # reported above
        try:
            tree = _lark().parse(chunk.text)
        except UnexpectedInput as error:
            diagnostics.append(_syntax_diagnostic(error, chunk, path))
            continue
        if beyond := bounds.tree_problems(tree, chunk.line, path):
            diagnostics.extend(beyond)
            continue
        statement, found = _statement(tree, chunk, path, lines[-1])
        if found:
            diagnostics.extend(found)
        else:
            statements.append(statement)
    return statements, diagnostics


def _statement(tree, chunk: Chunk, path: str, last_line: str) -> tuple[object, list[Diagnostic]]:
    """The statement's node and the problems found building it, its length as `fmt` writes
    it among them (checked here, so that `fmt` never writes a line `check` would refuse)."""
    builder = _Builder(path, chunk.line)
    statement = _build(builder, tree)
    if statement is None:
        return None, [Diagnostic("too-deep", "this statement is nested too deeply to read",
                                 Span(path, chunk.line, 1, chunk.line, 2),
                                 hint="split the condition into simpler rules")]
    if builder.diagnostics:
        return statement, builder.diagnostics
    from leadrules.dsl.write import write  # here: `check` on a cached file needs no writer

    code, _ = code_part(last_line)
    comment = last_line[len(code):].strip()
    length = len(write(statement)) + (len(comment) + 2 if comment else 0)
    span = statement.span or Span(path, chunk.line, 1, chunk.line, 2)
    too_long = bounds.statement_too_long(length, span)
    return statement, [too_long] if too_long else []
