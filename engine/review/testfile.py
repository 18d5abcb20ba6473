"""Rule test files (`*.tests`) to RuleTestFile: one statement per line, every error located."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

import attrs

from leadrules.dsl import read_text
from leadrules.dsl.check import suggest
from leadrules.dsl.errors import Diagnostic, RulesError, Span, source_lines
from leadrules.engine.events import parse_timestamp

KEYWORDS = ("rules", "test", "lead", "event", "as", "expect")
ACTION_KINDS = ("assign", "enroll", "alert")
GRADES = ("A", "B", "C", "D")
SLA_OUTCOMES = ("met", "overdue", "left", "pending")
TIME_HINT = "write a date like 2026-03-01 or a moment like 2026-03-01T09:30:00Z"
MAX_TEST_FILE_BYTES = 2 * 1024 * 1024


class RuleTestError(RulesError):
    """A test file, or the ruleset it tests, cannot be used: bad input, so exit status 2."""

    exit_code = 2


@attrs.frozen
class Setting:
    """`name = value` on a `lead` or `event` line; value None for `none` (the value is absent)."""

    name: str
    value: str | None
    span: Span


@attrs.frozen
class TestEvent:
    """An `event TIME TYPE [name = value, ...]` line; its id is made from its line number."""

    event_id: str
    ts: int
    type: str
    props: tuple[Setting, ...]
    span: Span  # of the event type, where an unknown type is underlined


@attrs.frozen
class Expectation:
    """One expected result (`score`, `stage`, `actions`, ...), or `fired` / `not fired` with the
    rule's text and how many times (None: at least once)."""

    what: str
    value: object
    span: Span
    times: int | None = None


@attrs.frozen
class RuleTest:
    """One `test "NAME"` block: the lead's profile and events, the as-of time, the expectations."""

    name: str
    path: str
    line: int
    profile: tuple[Setting, ...]
    events: tuple[TestEvent, ...]
    as_of: int
    as_of_line: int
    expectations: tuple[Expectation, ...]

    @property
    def lead_id(self) -> str:
        return f"{Path(self.path).name}:{self.line}"


@attrs.frozen
class RuleTestFile:
    """A parsed test file: the rule file it tests and its tests in file order."""

    path: str
    source: str
    rules: Path
    rules_span: Span | None  # None when the rules file is the default one beside the tests
    tests: tuple[RuleTest, ...]


# --- one line: tokens and a cursor -------------------------------------------------------

_TOKEN = re.compile(r'\s+|(?P<string>"(?:[^"\\]|\\.)*")|(?P<comment>#.*)|(?P<punct>[,=])'
                    r'|(?P<word>[^\s,="#]+)|(?P<unclosed>".*)')


@attrs.frozen
class Token:
    kind: str  # string, punct or word
    text: str
    col: int

    @property
    def end(self) -> int:
        return self.col + len(self.text)

    @property
    def shown(self) -> str:
        """The token as messages quote it."""
        return self.text if self.kind == "string" else f"'{self.text}'"

    @property
    def value(self) -> str:
        """A word as written; a string without its quotes and escapes."""
        if self.kind != "string":
            return self.text
        return self.text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


class _Bad(Exception):
    """A line that cannot be read; carries its diagnostic."""

    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


class _Cursor:
    """The tokens of one line, read left to right; every failure names its place."""

    def __init__(self, path: str, number: int, line: str):
        self.path, self.number, self.line = path, number, line
        self.tokens: list[Token] = []
        self.code_end = len(line)
        self.i = 0
        for match in _TOKEN.finditer(line):
            kind = match.lastgroup
            if kind == "comment":
                self.code_end = match.start()
                break
            if kind == "unclosed":
                raise _Bad(Diagnostic("syntax", "this text has no closing quote",
                                      self.span(match.start() + 1, len(line) + 1),
                                      hint='end it with " on the same line'))
            if kind is not None:
                self.tokens.append(Token(kind, match.group(), match.start() + 1))

    def span(self, col: int, end: int) -> Span:
        return Span(self.path, self.number, col, self.number, end)

    def at(self, token: Token | None) -> Span:
        if token is None:  # the end of the line's code
            end = len(self.line[:self.code_end].rstrip()) + 1
            return self.span(end, end + 1)
        return self.span(token.col, token.end)

    def fail(self, code: str, token: Token | None, message: str, hint: str | None = None):
        raise _Bad(Diagnostic(code, message, self.at(token), hint=hint))

    def peek(self, ahead: int = 0) -> Token | None:
        i = self.i + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def take(self, wanted: str, hint: str | None = None) -> Token:
        token = self.peek()
        if token is None:
            self.fail("syntax", None, f"the line ends too early; expected {wanted}", hint)
        self.i += 1
        return token

    def word(self, wanted: str, hint: str | None = None) -> Token:
        token = self.take(wanted, hint)
        if token.kind != "word":
            self.fail("syntax", token, f"expected {wanted}, found {token.shown}", hint)
        return token

    def name(self, wanted: str, hint: str | None = None) -> Token:
        """A field, property or event name: a word, or quoted ("Page Visit", "Lead Origin")."""
        token = self.take(wanted, hint)
        if token.kind == "punct":
            self.fail("syntax", token, f"expected {wanted}, found {token.shown}", hint)
        return token

    def string(self, wanted: str, hint: str | None = None) -> Token:
        token = self.take(wanted, hint)
        if token.kind != "string":
            self.fail("syntax", token, f"expected {wanted} in double quotes, found {token.shown}",
                      hint)
        return token

    def keyword(self, *words: str) -> Token | None:
        """The next token if it is one of the words (any case), consumed; else None."""
        token = self.peek()
        if token is not None and token.kind == "word" and token.text.lower() in words:
            self.i += 1
            return token
        return None

    def punct(self, mark: str, hint: str | None = None) -> Token:
        token = self.take(f"'{mark}'", hint)
        if token.text != mark:
            self.fail("syntax", token, f"expected '{mark}', found {token.shown}", hint)
        return token

    def comma(self) -> bool:
        token = self.peek()
        if token is not None and token.text == ",":
            self.i += 1
            return True
        return False

    def value(self, wanted: str, hint: str | None = None) -> tuple[str | None, Token]:
        """A word or a "string"; None for the bare word `none`."""
        token = self.take(wanted, hint)
        if token.kind == "punct":
            self.fail("syntax", token, f"expected {wanted}, found {token.shown}", hint)
        if token.kind == "word" and token.text.lower() == "none":
            return None, token
        return token.value, token

    def rest(self) -> tuple[str, Token | None]:
        """The rest of the line's code as written, and its first token."""
        first = self.peek()
        self.i = len(self.tokens)
        if first is None:
            return "", None
        return self.line[first.col - 1:self.code_end].strip(), first

    def end(self, hint: str | None = None) -> None:
        token = self.peek()
        if token is not None:
            self.fail("syntax", token, f"unexpected {token.shown}",
                      hint or "remove it, or put a comma before the next item")


# --- values of expectations --------------------------------------------------------------

def _integer(cursor: _Cursor, what: str):
    value, token = cursor.value("a whole number")
    try:
        return int(value)
    except (TypeError, ValueError):
        cursor.fail("bad-value", token, f"{what} is a whole number, not {token.shown}",
                    hint=f"write e.g. expect {what} = 55")


def _choice(options: tuple[str, ...], noun: str, hint: str) -> Callable:
    def read(cursor: _Cursor, what: str):
        value, token = cursor.value(noun)
        if value is not None and value not in options:
            cursor.fail("bad-value", token, f"{token.shown} is not {noun}", hint=hint)
        return value
    return read


def _band(cursor: _Cursor, what: str):
    value, token = cursor.value("a band")
    if value is None:
        return None
    if value not in ("1", "2", "3", "4"):
        cursor.fail("bad-value", token, f"{token.shown} is not a band", hint="bands are 1, 2, 3 "
                    "and 4, or none")
    return int(value)


def _priority(cursor: _Cursor, what: str):
    value, token = cursor.value("a priority")
    if value is not None and not re.fullmatch(r"[ABCD][1234]", value):
        cursor.fail("bad-value", token, f"{token.shown} is not a priority",
                    hint="priorities are a grade and a band together, A1 ... D4, or none")
    return value


def _text(cursor: _Cursor, what: str):
    return cursor.value(f"the {what}", hint=f'write e.g. expect {what} = "..." or {what} = none')[0]


def _actions(cursor: _Cursor, what: str):
    """`none`, or `KIND "TEXT"` items separated by commas, in the order they were taken."""
    hint = 'write e.g. expect actions = enroll "Follow-up nurture", assign "Vertrieb DACH"'
    if cursor.keyword("none"):
        return ()
    items = []
    while True:
        kind = cursor.word("an action (assign, enroll, alert)", hint)
        if kind.text.lower() not in ACTION_KINDS:
            cursor.fail("bad-value", kind, f"{kind.shown} is not an action",
                        hint=f"actions are assign, enroll and alert; {hint}")
        text = cursor.string(f"the text after {kind.text.lower()}", hint)
        items.append((kind.text.lower(), text.value))
        # After a comma comes another action, or the next result (`, stage = Lead`).
        comma, after = cursor.peek(), cursor.peek(1)
        if not (comma is not None and comma.text == "," and after is not None
                and after.text.lower() in ACTION_KINDS):
            return tuple(items)
        cursor.i += 1


RESULTS: dict[str, Callable] = {
    "score": _integer,
    "fit": _integer,
    "grade": _choice(GRADES, "a grade", "grades are A, B, C and D, or none"),
    "band": _band,
    "priority": _priority,
    "label": _text,
    "stage": _text,
    "disqualified": _text,
    "owner": _text,
    "sla": _choice(SLA_OUTCOMES, "an SLA outcome",
                   "SLA outcomes are met, overdue, left and pending, or none"),
    "actions": _actions,
}


# --- the file: lines in order, tests from them --------------------------------------------

@attrs.define
class _Draft:
    """A test while its lines are read; `bad` when one of them could not be read."""

    line: int
    span: Span
    name: str = ""
    profile: dict[str, Setting] = attrs.Factory(dict)
    events: list[TestEvent] = attrs.Factory(list)
    as_of: tuple[int, int] | None = None
    expect: dict[object, Expectation] = attrs.Factory(dict)
    bad: bool = False


class _Reader:
    """Reads a test file line by line, collecting one diagnostic per bad line."""

    def __init__(self, text: str, path: str):
        self.text, self.path = text, path
        self.lines = source_lines(text)
        self.width = len(str(max(len(self.lines), 1)))
        self.diagnostics: list[Diagnostic] = []
        self.rules: tuple[str, Span] | None = None
        self.default_as_of: tuple[int, int] | None = None
        self.tests: list[RuleTest] = []
        self.names: dict[str, int] = {}
        self.current: _Draft | None = None

    def read(self) -> RuleTestFile:
        for number, line in enumerate(self.lines, start=1):
            try:
                cursor = _Cursor(self.path, number, line)
                if cursor.tokens:
                    self.statement(cursor)
            except _Bad as bad:
                self.diagnostics.append(bad.diagnostic)
                if self.current is not None:
                    self.current.bad = True  # so its other checks do not pile on
        self.close_test()
        if not self.tests and not self.diagnostics:
            self.diagnostics.append(Diagnostic(
                "no-tests", "this file has no tests", Span(self.path, 1, 1, 1, 2),
                hint='start one with a line like: test "A webinar makes a Lead"'))
        here = Path(self.path)
        rules = here.parent / self.rules[0] if self.rules else here.with_suffix(".rules")
        return RuleTestFile(self.path, self.text, rules, self.rules[1] if self.rules else None,
                            tuple(self.tests))

    def statement(self, cursor: _Cursor) -> None:
        first = cursor.take("a keyword")
        word = first.text.lower() if first.kind == "word" else ""
        handler = getattr(self, f"line_{word}", None) if word in KEYWORDS else None
        if handler is None:
            cursor.fail("unknown-statement", first, f"a line cannot start with {first.shown}",
                        hint=suggest(word, KEYWORDS) or
                        "lines start with test, lead, event, as of, expect or rules")
        if word not in ("test", "rules", "as") and self.current is None:
            cursor.fail("outside-test", first, f"'{word}' belongs to a test",
                        hint='start the test above it with a line like: test "NAME"')
        handler(cursor)

    def line_rules(self, cursor: _Cursor) -> None:
        token = cursor.string("the rule file", hint='write e.g. rules "b2b.rules"')
        cursor.end()
        if self.current is not None or self.tests:
            cursor.fail("misplaced", token, "the rules line goes above the first test",
                        hint="move it to the top of the file")
        if self.rules is not None:
            cursor.fail("duplicate", token, "a test file tests one rule file",
                        hint="put tests of another rule file in a file of their own")
        self.rules = (token.value, cursor.at(token))

    def line_test(self, cursor: _Cursor) -> None:
        self.close_test()
        # The test is read on even when this line is bad, so its other lines are checked too.
        self.current = _Draft(cursor.number, cursor.at(cursor.tokens[0]))
        name = cursor.string("the test's name", hint='write e.g. test "A webinar makes a Lead"')
        self.current.name, self.current.span = name.value, cursor.at(name)
        cursor.end()
        if not name.value.strip():
            cursor.fail("bad-value", name, "a test needs a name",
                        hint="say in a few words what the test shows")
        if name.value in self.names:
            cursor.fail("duplicate", name, f"line {self.names[name.value]} has a test of "
                        "this name too", hint="give each test a name of its own")
        self.names[name.value] = cursor.number

    def line_lead(self, cursor: _Cursor) -> None:
        hint = 'write e.g. lead title = "CEO", employees = 12000, country = "DE"'
        for setting in self.settings(cursor, "field", hint):
            if setting.name in self.current.profile:
                raise _Bad(Diagnostic("duplicate", f"the field {setting.name} is given twice",
                                      setting.span, hint="give each field once"))
            self.current.profile[setting.name] = setting

    def line_event(self, cursor: _Cursor) -> None:
        hint = 'write e.g. event 2026-03-05 page_visit topic = "pricing"'
        ts = self.time(cursor, hint)
        kind = cursor.name("the event type", hint)
        props = self.settings(cursor, "property", hint) if cursor.peek() else ()
        event_id = f"e{cursor.number:0{self.width}d}"
        self.current.events.append(TestEvent(event_id, ts, kind.value, tuple(props),
                                                cursor.at(kind)))

    def line_as(self, cursor: _Cursor) -> None:
        if not cursor.keyword("of"):
            cursor.fail("syntax", cursor.peek(), "expected 'as of'", hint="write e.g. as of "
                        "2026-03-10")
        ts = self.time(cursor, "write e.g. as of 2026-03-10")
        cursor.end()
        if self.current is None:
            if self.default_as_of is not None or self.tests:
                cursor.fail("misplaced", cursor.tokens[0], "a file-wide as of goes once, above "
                            "the first test", hint="or give each test its own as of line")
            self.default_as_of = (ts, cursor.number)
        elif self.current.as_of is not None:
            cursor.fail("duplicate", cursor.tokens[0], "this test has an as of already",
                        hint="a test is evaluated at one moment; remove one of the lines")
        else:
            self.current.as_of = (ts, cursor.number)

    def line_expect(self, cursor: _Cursor) -> None:
        if cursor.keyword("not"):
            fired = cursor.keyword("fired")
            if fired is None:
                cursor.fail("syntax", cursor.peek(), "expected 'not fired'",
                            hint="write e.g. expect not fired when newsletter_unsubscribe then -20")
            self.fired(cursor, "not fired", fired)
        elif fired := cursor.keyword("fired"):
            self.fired(cursor, "fired", fired)
        else:
            self.results(cursor)

    def fired(self, cursor: _Cursor, what: str, keyword: Token) -> None:
        times = None
        number, after = cursor.peek(), cursor.peek(1)
        if what == "fired" and cursor.keyword("once"):
            times = 1
        elif (what == "fired" and number is not None and number.text.isascii()
              and number.text.isdigit()  # ascii: '2²' is a digit to isdigit, not to int
              and after is not None and after.text.lower() in ("time", "times")):
            cursor.i += 2
            if len(number.text) > 9:
                cursor.fail("bad-value", number, f"a count of {len(number.text)} digits is more "
                            "than a test's events can fire", hint="write how often it fires")
            times = int(number.text)
            if times == 0:
                cursor.fail("bad-value", number, "'fired 0 times' is 'not fired'",
                            hint="write expect not fired RULE")
        text, first = cursor.rest()
        if first is not None and first.kind == "string" and first.end - 1 == len(
                cursor.line[:cursor.code_end].rstrip()):
            text = first.value  # the rule in quotes, as one string
        if not text:
            cursor.fail("syntax", None, "the line ends too early; expected a rule",
                        hint="copy the rule's line from the rule file, e.g. "
                        "expect fired when webinar_signup then +25")
        span = cursor.span(first.col, len(cursor.line[:cursor.code_end].rstrip()) + 1)
        key = (what, " ".join(text.split()))
        self.add_expectation(key, Expectation(what, text, span, times), cursor, keyword)

    def results(self, cursor: _Cursor) -> None:
        hint = "write e.g. expect score = 55, stage = Lead"
        while True:
            name = cursor.word("a result (score, grade, stage, ...)", hint)
            read = RESULTS.get(name.text.lower())
            if read is None:
                cursor.fail("unknown-result", name, f"{name.shown} is not a result a test can "
                            "expect", hint=suggest(name.text.lower(), RESULTS) or
                            "results are " + ", ".join(RESULTS) + ", fired and not fired")
            cursor.punct("=", hint)
            first = cursor.peek()
            value = read(cursor, name.text.lower())
            last = cursor.tokens[cursor.i - 1]
            span = cursor.span(first.col, last.end)
            what = name.text.lower()
            self.add_expectation(what, Expectation(what, value, span), cursor, name)
            if not cursor.comma():
                break
        cursor.end(hint="separate the results with commas: expect grade = A, band = 2")

    def add_expectation(self, key, expectation: Expectation, cursor: _Cursor,
                        token: Token) -> None:
        expected = self.current.expect
        if key in expected:
            cursor.fail("duplicate", token, f"line {expected[key].span.line} expects this "
                        "already", hint="remove one of the two")
        expected[key] = expectation

    def settings(self, cursor: _Cursor, noun: str, hint: str) -> list[Setting]:
        """`name = value, ...` to the end of the line."""
        found = []
        while True:
            name = cursor.name(f"a {noun} name", hint)
            cursor.punct("=", hint)
            value, token = cursor.value(f"the {noun}'s value", hint)
            found.append(Setting(name.value, value, cursor.span(name.col, token.end)))
            if not cursor.comma():
                break
        cursor.end(hint=f'put text with spaces in double quotes, and a comma between {noun}s')
        return found

    def time(self, cursor: _Cursor, hint: str) -> int:
        token = cursor.take("a time", hint)
        try:
            return parse_timestamp(token.value)
        except ValueError:
            cursor.fail("bad-time", token, f"{token.shown} is not a time", hint=TIME_HINT)

    def close_test(self) -> None:
        """The test being read is complete: check it has what it needs, and keep it."""
        test, self.current = self.current, None
        if test is None or test.bad:
            return
        as_of = test.as_of or self.default_as_of
        problems = []
        if as_of is None:
            problems.append(("missing-as-of", "this test has no as of time", "add a line like: "
                             "as of 2026-03-10 (or one above the first test, for all tests)"))
        if not test.expect:
            problems.append(("no-expectations", "this test expects nothing",
                             "add a line like: expect score = 55, stage = Lead"))
        self.diagnostics += [Diagnostic(code, message, test.span, hint=hint)
                             for code, message, hint in problems]
        if problems:
            return
        self.tests.append(RuleTest(
            test.name, self.path, test.line, tuple(test.profile.values()), tuple(test.events),
            as_of[0], as_of[1], tuple(test.expect.values())))


def analyze_tests(text: str, path: str) -> tuple[RuleTestFile, tuple[Diagnostic, ...]]:
    """The tests of a test file's text, and a diagnostic for each line that cannot be read."""
    reader = _Reader(text, path)
    parsed = reader.read()
    return parsed, tuple(sorted(reader.diagnostics, key=Diagnostic.sort_key))


def parse_tests(text: str, path: str = "<tests>") -> RuleTestFile:
    """The tests of a test file's text; RuleTestError with every diagnostic if any line is bad."""
    parsed, diagnostics = analyze_tests(text, path)
    if diagnostics:
        raise RuleTestError(diagnostics, {path: text})
    return parsed


def read_tests_source(path: str | Path) -> str:
    """The text of a test file; UsageError if it cannot be read, RuleTestError if not UTF-8."""
    return read_text(path, "test file", RuleTestError, MAX_TEST_FILE_BYTES,
                     "split the tests into several files")
