"""Mutation fuzzing of rule files, rule-test files and ingest rows: mutators, and the oracle that
decides whether leadrules handled one input soundly. tests/test_fuzz.py and bench/fuzz.py use it."""

from __future__ import annotations

import collections
import contextlib
import functools
import io
import json
import random
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import attrs
from click.testing import CliRunner

from leadrules import dsl
from leadrules.cli import main as cli_main
from leadrules.dsl import statements as kept
from leadrules.dsl.errors import LeadrulesError
from leadrules.dsl.format import format_source
from leadrules.engine.review import ruletest, testfile
from leadrules.engine.review.diff import Pair, compare
from leadrules.engine.review.diff_render import markdown, to_json
from leadrules.engine.review.diff_render import text as diff_text
from leadrules.engine.scoring.compiler import compile_ruleset
from leadrules.engine.scoring.evaluate import evaluate, event_rows
from leadrules.engine.scoring.explain import explain
from leadrules.engine.scoring.run import run_rules
from leadrules.engine.store import ingest, sources
from leadrules.engine.store.mapping import ReadOptions
from leadrules.engine.store.store import Store

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
AS_OF = 1_790_000_000_000_000  # 2026-09-21, after every sample event


# How far inputs got, by what was done with them: a harness whose inputs all fail `check`
# would prove little (bench/fuzz.py reports these counts).
REACHED: collections.Counter = collections.Counter()


class Hang(BaseException):
    """An input took longer than its time limit (BaseException: no `except Exception` eats it)."""


@attrs.frozen
class Finding:
    """What went wrong with one input: its kind (exception, hang, clean-but-failing), where,
    the error, and the input itself."""

    kind: str
    stage: str
    error: str
    text: str


# --- corpora ---------------------------------------------------------------------------------

def rule_corpus() -> list[str]:
    """The real rule files: the bundled ruleset, the test data and the examples of the docs."""
    files = [REPO / "rulesets" / "b2b.rules", *sorted(DATA.rglob("*.rules"))]
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    docs = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
    texts += [block for block in re.findall(r"```(?:rules)?\n(.*?)```", docs, re.S) if block]
    return [t for t in texts if t.strip()]


def tests_corpus() -> list[tuple[str, str]]:
    """The real rule-test files, each with the rule file it tests: (tests text, rules text)."""
    found = []
    for path in [REPO / "rulesets" / "b2b.tests", *sorted((DATA / "ruletest").glob("*.tests"))]:
        rules = path.with_name("b2b.rules" if path.stem == "b2b" else "campaign.rules")
        found.append((path.read_text(encoding="utf-8"), rules.read_text(encoding="utf-8")))
    return found


def sample_leads() -> list[tuple[str, dict, list]]:
    """A small sample: the leads and events of tests/data/explain and tests/data/diff."""
    leads = []
    for folder in ("explain", "diff"):
        profiles = dict(ingest.read_leads(DATA / folder / "leads.csv"))
        events = ingest.read_events(DATA / folder / "events.csv")
        for lead in sorted({*profiles, *(e.lead_id for e in events)}):
            mine = [e for e in events if e.lead_id == lead]
            leads.append((f"{folder}-{lead}", profiles.get(lead, {}), mine))
    return leads


# --- mutators --------------------------------------------------------------------------------

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[0-9][0-9.\-]*|\w+|->|[<>!]=|\s+|.', re.S)
WEIRD = ["\u00e9", "\u0301", "\u200b", "\u2028", "\u202e", "\ufeff", "\x00", "\x0c", "\r", "\t",
         "\U0001f600", "\u0130", "\u00df", "\ufb01", "\u0663", "\u00b2", "ǅ", "ﬀ", "\\", '"',
         "#"]
KEYWORDS = ["when", "where", "then", "and", "or", "not", "in", "if", "once", "per", "at", "most",
            "times", "within", "decay", "every", "score", "between", "fit", "grade", "band",
            "label", "otherwise", "stage", "stages", "on", "entering", "any", "activity", "no",
            "for", "sla", "goal", "entered", "conversion", "leads", "by", "events", "fields",
            "ruleset", "bant", "from", "reset", "disqualify", "assign", "enroll", "alert",
            "days", "since", "last", "count", "contains", "starts", "with", "ends", "is",
            "missing", "set", "true", "false", "*", "->", "%", ",", ":", "(", ")", "[", "]"]


def huge_number(rng: random.Random) -> str:
    digits = rng.choice([19, 20, 40, 300, 4301, 5000, 20000, 100001])
    sign = rng.choice(["", "+", "-"])
    body = str(rng.randint(1, 9)) + "".join(rng.choice("0123456789") for _ in range(digits - 1))
    return sign + body + (("." + "9" * rng.choice([1, 30, 5000])) if rng.random() < 0.3 else "")


def odd_value(rng: random.Random) -> str:
    """A number, date, string or word that is odd in some way."""
    return rng.choice([
        lambda: huge_number(rng),
        lambda: rng.choice(["0", "-0", "+0", "00", "0.0", "1.5", "-1", "99999999999999999999"]),
        lambda: rng.choice(["0000-00-00", "9999-12-31", "2027-02-30", "0001-01-01", "2027-13-01"]),
        lambda: '"' + "".join(rng.choice(WEIRD + ["a", " ", "\\\\"]) for _ in range(5)) + '"',
        lambda: '"' + "x" * rng.choice([1000, 20000]) + '"',
        lambda: rng.choice(WEIRD),
        lambda: "x" * rng.choice([300, 5000]),
    ])()


def deep_condition(rng: random.Random) -> str:
    """A condition nested some hundreds or thousands of levels deep, in one of several ways."""
    n = rng.choice([2, 30, 31, 32, 33, 64, 100, 500, 2000, 20000])
    return rng.choice([
        lambda: "(" * n + "score > 1" + ")" * n,
        lambda: "not " * n + "score > 1",
        lambda: "(score > 1 and " * n + "fit > 1" + ")" * n,
        lambda: "(score > 1 or (fit > 2 and " * n + "fit > 1" + "))" * n,
        lambda: " and ".join(["score > 1"] * n),
        lambda: "(" * n + "score > 1",
        lambda: "score in [" + ", ".join(str(i) for i in range(n)) + "]",
    ])()


def _tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def _token_mutation(rng: random.Random, tokens: list[str], vocabulary: list[str]) -> None:
    """One change to a token list, in place."""
    if not tokens:
        tokens.append(rng.choice(KEYWORDS))
        return
    i, j = rng.randrange(len(tokens)), rng.randrange(len(tokens))
    op = rng.randrange(9)
    if op == 0:
        del tokens[i]
    elif op == 1:
        tokens.insert(i, tokens[i] * rng.choice([1, 2, 50]))
    elif op == 2:
        tokens[i], tokens[j] = tokens[j], tokens[i]
    elif op == 3:
        tokens[i] = rng.choice(vocabulary)
    elif op == 4:
        tokens[i] = rng.choice(KEYWORDS) if rng.random() < 0.5 else odd_value(rng)
    elif op == 5:
        tokens[i] = rng.choice([str.upper, str.title, str.swapcase, str.casefold])(tokens[i])
    elif op == 6:
        tokens.insert(i, rng.choice(WEIRD))
    elif op == 7:
        tokens.insert(i, deep_condition(rng) if rng.random() < 0.5 else odd_value(rng))
    else:
        tokens[i:i] = [" ", rng.choice(KEYWORDS), " "]


def _line_mutation(rng: random.Random, text: str) -> str:
    """One change to the lines of a text: a move, a copy, a removal, or a very long line."""
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    op = rng.randrange(5)
    if op == 0:
        lines.insert(j, lines.pop(i))
    elif op == 1:
        lines[j:j] = [lines[i]] * rng.choice([1, 2, 200])
    elif op == 2:
        del lines[i]
    elif op == 3:
        lines[i] = lines[i] + (" and score > 1" * rng.choice([10, 500, 3000]))
    else:
        lines[i] = " " * rng.choice([1, 4, 10000]) + lines[i]
    return "\n".join(lines)


TEMPLATES = [
    "events a\nfields t: number\nwhen a where {c} then +1\n",
    "events a\nfields t: number\nfit +{n} if t > {n}\n",
    "events a\nwhen a then +{n} at most {n} times per {n} days\n",
    "events a\nwhen a then +5 decay {n}% every {n} weeks\n",
    "events a\nscore between {n} and {n}\nwhen a then +{n}\n",
    "events a\nstages Name, Lead\nstage Name -> Lead if {c}\nsla Lead: a within {n} hours\n",
    "events a\nstages Name, Lead\ngoal \"g\": entered Lead >= {n} by 2027-01-01\n",
    "events a\nfields t: number\ngrade A if {c}\ngrade B otherwise\n",
    "events a\nwhen no activity for {n} days then -{n}\nwhen a then +1 within {n} days\n",
    "events a\nfields t: number\nwhen a where count a within {n} days > {n} then +1\n",
]


# Values at the edges of what `check` allows (dsl/bounds.py), and just past them.
EDGE_NUMBERS = ["0", "1", "2", "100", "1000000", "1000001", "999999999999999",
                "1000000000000000", "0.000000001", "0.0000000001", "99.999999999", "36500",
                "36501", "5214", "5215", "876000", "876001", "4294967296", "9223372036854775808"]
EDGE_POINTS = ["+1000000", "-1000000", "+1000001", "+0", "-0", "+999999", "-1"]
EDGE_DATES = ["0001-01-01", "9999-12-31", "2000-02-29", "1970-01-01", "2026-01-05"]
OPS = ["=", "!=", "<", "<=", ">", ">="]
NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?$")


def _gentle(rng: random.Random, text: str) -> str:
    """A change that keeps the file well-formed more often than not: an edge value in place of
    a number, date, text or comparison, a line removed, copied or swapped, a condition nested
    to the edge of the allowed depth."""
    tokens = _tokens(text)
    places = {kind: [i for i, t in enumerate(tokens) if test(t)] for kind, test in (
        ("number", NUMBER.match), ("points", lambda t: t in "+-"), ("op", lambda t: t in OPS),
        ("string", lambda t: t.startswith('"') and len(t) > 1),
        ("date", re.compile(r"\d{4}-\d\d-\d\d$").match), ("if", lambda t: t.lower() in (
            "if", "where")))}
    kind = rng.choice([k for k, v in places.items() if v] or ["lines"])
    if kind == "lines":
        return _line_mutation(rng, text)
    i = rng.choice(places[kind])
    if kind == "number":
        tokens[i] = rng.choice(EDGE_NUMBERS)
    elif kind == "points" and i + 1 < len(tokens) and NUMBER.match(tokens[i + 1]):
        tokens[i:i + 2] = [rng.choice(EDGE_POINTS)]
    elif kind == "op":
        tokens[i] = rng.choice(OPS)
    elif kind == "string":
        tokens[i] = '"' + "".join(rng.choice(WEIRD[:14] + ["a", " ", "\\\\"])
                                  for _ in range(rng.randint(0, 8))) + '"'
    elif kind == "date":
        tokens[i] = rng.choice(EDGE_DATES)
    elif kind == "if":
        depth = rng.choice([1, 2, 15, 31, 32, 33])
        tokens.insert(i + 1, " " + "not " * depth if rng.random() < 0.5 else " " + "(" * depth)
        if not tokens[i + 1].strip().startswith("not"):
            end = next((j for j in range(i + 2, len(tokens)) if "\n" in tokens[j] or
                        tokens[j].lower() in ("then", "->", "on")), len(tokens))
            tokens.insert(end, ")" * depth)
    return "".join(tokens)


@functools.lru_cache(maxsize=2)
def _clean(corpus: tuple[str, ...]) -> tuple[str, ...]:
    """The files of the corpus that `check` calls clean (many of tests/data/errors are not)."""
    return tuple(text for text in corpus if not dsl.analyze(text).errors) or corpus


def mutate_rules(rng: random.Random, corpus: list[str], vocabulary: list[str]) -> str:
    """A rule file made from a real one (or a small template) by one to four mutations: gentle
    ones (edge values) half of the time, so that many files pass `check` and are run."""
    if rng.random() < 0.15:
        template = rng.choice(TEMPLATES)
        number = rng.random()
        return template.replace("{c}", deep_condition(rng)).replace(
            "{n}", huge_number(rng).lstrip("+-") if number < 0.3 else
            odd_value(rng) if number < 0.4 else rng.choice(EDGE_NUMBERS))
    text = rng.choice(corpus)
    if rng.random() < 0.5:
        text = rng.choice(_clean(tuple(corpus)))
        for _ in range(rng.randint(1, 3)):
            text = _gentle(rng, text)
        return text
    return _mutations(rng, text, vocabulary)


def _mutations(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    """One to four line or token mutations of `text`."""
    for _ in range(rng.randint(1, 4)):
        if rng.random() < 0.25:
            text = _line_mutation(rng, text)
        else:
            tokens = _tokens(text)
            _token_mutation(rng, tokens, vocabulary)
            text = "".join(tokens)
    return text


def vocabulary_of(texts: list[str]) -> list[str]:
    return sorted({t for text in texts for t in _tokens(text) if not t.isspace()})


# --- the oracle ------------------------------------------------------------------------------

@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang in the block when it runs longer than `seconds` (main thread, Unix only)."""
    def expired(signum, frame):
        raise Hang(f"over {seconds:.1f} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def parsed_once():
    """Within the block, each text is parsed once however often `analyze`, `parse` and
    `format_source` ask for it (they all go through dsl.statements.parse): the oracle asks
    five times per file, and parsing is most of its time."""
    real = kept.parse
    kept.parse = functools.lru_cache(maxsize=4)(real)
    try:
        yield
    finally:
        kept.parse = real


def budget(seconds: float, text: str, per_mb: float) -> float:
    """The time an input may take: `seconds`, plus `per_mb` for each MB of it, since `check`
    takes time in proportion to a file's length (a hang is time beyond that)."""
    return seconds + per_mb * len(text) / 1e6


class _Trial:
    """Runs the stages of one input, turning the first unexpected failure into a Finding."""

    def __init__(self, text: str):
        self.text, self.finding = text, None

    def run(self, stage: str, kind: str, action):
        """`action()`, its result; a LeadrulesError is its answer and returns None."""
        if self.finding is not None:
            return None
        try:
            return action()
        except LeadrulesError:
            return None
        except Hang:
            raise
        except BaseException as error:  # noqa: B036 - every other escape is the defect sought
            if isinstance(error, KeyboardInterrupt):
                raise
            self.finding = Finding(kind, stage, f"{type(error).__name__}: {error}"[:300],
                                   self.text)
            return None

    def fail(self, stage: str, kind: str, message: str) -> None:
        if self.finding is None:
            self.finding = Finding(kind, stage, message, self.text)


class SampleStore:
    """A store holding the sample of tests/data/explain, copied afresh for each run on it."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="leadrules-fuzz-"))
        self.template = self.folder / "template.db"
        with Store(self.template) as store:
            ingest.ingest(store, DATA / "explain" / "leads.csv", DATA / "explain" / "events.csv")

    def run(self, rules) -> None:
        """`leadrules run` of compiled rules on a copy of the sample store, in this process."""
        path = self.folder / "run.db"
        shutil.copyfile(self.template, path)
        with Store(path) as store:
            run_rules(store, rules, AS_OF, full=True, workers=1)
            run_rules(store, rules, AS_OF + 86_400_000_000, workers=1)  # incremental, a day on

    def cli(self, text: str) -> str | None:
        """`leadrules check`, `check --format json`, `fmt --check` on the text as a file, and
        `dry-run` on the sample when it is clean: None, or what went wrong (an exception that
        escaped, an exit status other than 0, 1 and 2)."""
        path = self.folder / "fuzz.rules"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        runs = [["check", path], ["check", "--format", "json", path], ["fmt", "--check", path],
                ["dry-run", path, "--leads", DATA / "explain" / "leads.csv", "--events",
                 DATA / "explain" / "events.csv", "--as-of", "2026-09-21", "--format", "json"]]
        for args in runs:
            result = CliRunner().invoke(cli_main, [str(a) for a in args])
            if result.exit_code not in (0, 1, 2) or not isinstance(
                    result.exception, (SystemExit, type(None))):
                return f"leadrules {args[0]} exited {result.exit_code}: {result.exception!r}"
            if args[0] == "check" and result.exit_code:
                return None  # not clean: dry-run would only repeat the errors
        return None

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def check_rules(text: str, leads: list, base: dsl.Ruleset | None = None,
                limit: float = 10.0, store: SampleStore | None = None,
                per_mb: float = 20.0) -> Finding | None:
    """Everything a user can do with one rule file, asserted sound: `check` (text and JSON),
    `fmt` (same tree, idempotent), and when `check` is clean: compile, evaluate and explain
    the sample leads, diff against `base`, and run on `store`."""
    trial = _Trial(text)
    try:
        with time_limit(budget(limit, text, per_mb)), parsed_once():
            if _rules_stages(trial, text, leads, base) and store is not None:
                REACHED["rule files run on a store"] += 1
                trial.run("run", "clean-but-failing", lambda: store.run(
                    compile_ruleset(dsl.parse(text, "fuzz.rules"))))
            if store is not None and trial.finding is None:
                REACHED["rule files through the CLI"] += 1
                if problem := store.cli(text):
                    trial.fail("cli", "exception", problem)
    except Hang as hang:
        return Finding("hang", "rules", str(hang), text)
    return trial.finding


def _rules_stages(trial: _Trial, text: str, leads: list, base) -> bool:
    """Whether the file was clean and every stage went through."""
    analysis = trial.run("check", "exception", lambda: dsl.analyze(text, "fuzz.rules"))
    if analysis is None:
        return
    trial.run("render", "exception", lambda: [d.render(text) for d in analysis.diagnostics])
    trial.run("json", "exception", lambda: json.dumps([d.to_dict() for d in analysis.diagnostics]))
    _format_stage(trial, text)
    if analysis.errors or trial.finding:
        return False
    rules = trial.run("compile", "clean-but-failing", lambda: compile_ruleset(analysis.ruleset))
    if rules is None:
        trial.fail("compile", "clean-but-failing", "check was clean but compiling raised")
        return False
    for lead, profile, events in leads:
        result = trial.run("evaluate", "clean-but-failing",
                           lambda: evaluate(rules, lead, profile, events, AS_OF, trace=True))
        if result is None:
            trial.fail("evaluate", "clean-but-failing", "check was clean but evaluating raised")
            return False
        trial.run("explain", "clean-but-failing", lambda: explain(rules, result, profile, AS_OF,
                                                                  "fuzz"))
    REACHED["rule files clean, compiled and evaluated"] += 1
    if base is not None:
        REACHED["rule files diffed"] += 1
        trial.run("diff", "clean-but-failing", lambda: _diff(base, analysis.ruleset, leads))
    return trial.finding is None


def _diff(base: dsl.Ruleset, new: dsl.Ruleset, leads: list) -> None:
    pair = Pair.of(base, new)
    found = compare(pair, [(lead, p, event_rows(e)) for lead, p, e in leads], AS_OF,
                    source="fuzz", as_of_source="fuzz")
    diff_text(found), markdown(found), to_json(found)


def _format_stage(trial: _Trial, text: str) -> None:
    """If the text parses, `fmt` writes text that parses to the same statements and that
    `fmt` leaves as it is; if it does not parse, `fmt` says so (RulesError)."""
    try:
        tree = dsl.parse(text, "fuzz.rules")
    except LeadrulesError:
        return
    except Exception:  # noqa: BLE001 - analyze ran the same parser; reported there
        return
    formatted = trial.run("fmt", "exception", lambda: format_source(text, "fuzz.rules"))
    if formatted is None:
        trial.fail("fmt", "exception", "the file parses but fmt refused it")
        return
    again = trial.run("fmt", "exception", lambda: dsl.parse(formatted, "fuzz.rules"))
    if again is None:
        trial.fail("fmt", "exception", "fmt wrote text that does not parse")
    elif again.statements != tree.statements:
        trial.fail("fmt", "exception", "fmt changed the meaning: the trees differ")
    elif trial.run("fmt", "exception", lambda: format_source(formatted, "fuzz.rules")) != formatted:
        trial.fail("fmt", "exception", "fmt is not idempotent")


# --- rule-test files -------------------------------------------------------------------------

def mutate_tests(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    return _mutations(rng, text, vocabulary)


def suite_of(rules_text: str) -> ruletest.Suite:
    ruleset = dsl.analyze(rules_text, "fuzz.rules").raise_for_errors()
    return ruletest.Suite("fuzz.rules", compile_ruleset(ruleset), ruletest.RuleIndex(ruleset))


def check_tests(text: str, suite: ruletest.Suite, limit: float = 10.0,
                per_mb: float = 20.0) -> Finding | None:
    """A rule-test file read (errors located), and when it reads, run and reported."""
    trial = _Trial(text)
    try:
        with time_limit(budget(limit, text, per_mb)):
            _tests_stages(trial, text, suite)
    except Hang as hang:
        return Finding("hang", "tests", str(hang), text)
    return trial.finding


def _tests_stages(trial: _Trial, text: str, suite: ruletest.Suite) -> None:
    read = trial.run("read-tests", "exception", lambda: testfile.analyze_tests(text, "f.tests"))
    if read is None:
        return
    parsed, diagnostics = read
    trial.run("render", "exception", lambda: [d.render(text) for d in diagnostics])
    if diagnostics:
        return
    REACHED["rule-test files read cleanly and run"] += 1
    outcomes = trial.run("run-tests", "clean-but-failing",
                         lambda: tuple(ruletest.run_test(t, suite) for t in parsed.tests))
    if outcomes is None:
        trial.fail("run-tests", "clean-but-failing", "the tests read cleanly but running raised")
        return
    report = ruletest.Report(("f.tests",), outcomes, ())
    trial.run("report", "clean-but-failing", lambda: (
        ruletest.render_text(report), ruletest.render_json(report), ruletest.render_junit(report)))


# --- ingest rows -----------------------------------------------------------------------------

LEAD_HEADER = "lead_id,title,employees,industry,country,email"
EVENT_HEADER = "event_id,lead_id,type,ts,topic,budget,authority,need,timeline"


def _odd_cell(rng: random.Random) -> str:
    return rng.choice([
        lambda: odd_value(rng),
        lambda: rng.choice(["", " ", '"', '""', '"a""b"', "a,b", "\n", "\r\n", "\x00", "null"]),
        lambda: rng.choice(["2026-13-45T99:99:99Z", "1e999999", "-1e-999999", "NaN", "inf",
                            "2026-01-01T00:00:00+99:00", "99999-01-01", "0", "-9" * 30,
                            "2026-01-05T09:00:00Z", "2026-01-05", "1790000000"]),
        lambda: "[" * rng.choice([10, 5000, 100000]),
        lambda: rng.choice(WEIRD) * rng.choice([1, 100]),
    ])()


def _csv_row(rng: random.Random, header: str, sample: list[str]) -> str:
    cells = rng.choice(sample).split(",")
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(cells))
        op = rng.randrange(4)
        if op == 0:
            cells[i] = _odd_cell(rng)
        elif op == 1:
            del cells[i]
        elif op == 2:
            cells.insert(i, _odd_cell(rng))
        else:
            cells[i] = '"' + cells[i]
    return ",".join(cells)


def _json_row(rng: random.Random, header: str, sample: list[str]) -> str:
    names = header.split(",")
    cells = dict(zip(names, rng.choice(sample).split(",")))
    for _ in range(rng.randint(1, 3)):
        key = rng.choice([*names, "props", "profile", _odd_cell(rng)])
        cells[key] = rng.choice([
            lambda: _odd_cell(rng), lambda: rng.randint(-10**30, 10**30), lambda: None,
            lambda: True, lambda: [1], lambda: {"x": {"y": 1}}, lambda: {"topic": "pricing"},
            lambda: 1e308, lambda: rng.random()])()
    line = json.dumps(cells, ensure_ascii=rng.random() < 0.5)
    op = rng.randrange(6)
    if op == 0:
        return line[:rng.randrange(len(line))]
    if op == 1:
        return "[" * 100000 + "]" * 100000
    if op == 2:
        return '{"a": ' * 50000 + "1" + "}" * 50000
    if op == 3:
        return line.replace(":", rng.choice([": 1e999999 ,", ":NaN,", ":Infinity,", "::"]), 1)
    return line


def ingest_batch(rng: random.Random, kind: str, fmt: str, count: int) -> bytes:
    """A file of `count` mutated rows of leads or events, in CSV or JSON Lines, with a header."""
    header = LEAD_HEADER if kind == "leads" else EVENT_HEADER
    sample = (DATA / "explain" / f"{kind}.csv").read_text(encoding="utf-8").splitlines()[1:]
    make = _csv_row if fmt == "csv" else _json_row
    rows = [make(rng, header, sample) for _ in range(count)]
    head = [header] if fmt == "csv" else []
    text = "\n".join(head + rows) + "\n"
    if rng.random() < 0.05:
        return text.encode("utf-8", "surrogatepass")[:-3] + b"\xff\xfe\n"
    return text.encode("utf-8", "surrogatepass")


def check_rows(data: bytes, kind: str, fmt: str, rules, limit: float = 20.0) -> Finding | None:
    """Rows read, each taken or rejected with a line and a reason; the taken ones evaluated."""
    trial = _Trial(data.decode("utf-8", "replace"))
    try:
        with time_limit(limit):
            _rows_stages(trial, data, kind, fmt, rules)
    except Hang as hang:
        return Finding("hang", "ingest", str(hang), trial.text)
    return trial.finding


def _rows_stages(trial: _Trial, data: bytes, kind: str, fmt: str, rules) -> None:
    required, nested = ((ingest.LEAD_COLUMNS, ingest.LEAD_NESTED) if kind == "leads"
                        else (ingest.EVENT_COLUMNS, ingest.EVENT_NESTED))
    options = ReadOptions()
    convert = (ingest.Convert.leads(options, ingest.field_types(rules.ruleset)) if kind == "leads"
               else ingest.Convert.events(options))
    results = trial.run("read", "exception", lambda: _read_rows(data, required, nested, fmt,
                                                               convert))
    for result in results or ():
        REACHED["rows rejected" if isinstance(result, list) else "rows taken and evaluated"] += 1
        if isinstance(result, list):
            if not all(r.line >= 1 and r.reason for r in result):
                trial.fail("read", "exception", f"a reject without a place or reason: {result}")
            continue
        if kind == "leads":
            lead, profile = result
            trial.run("evaluate", "clean-but-failing",
                      lambda: evaluate(rules.compiled, lead, profile, [], AS_OF, trace=True))
        else:
            trial.run("evaluate", "clean-but-failing",
                      lambda: evaluate(rules.compiled, result.lead_id, {}, [result], AS_OF,
                                       trace=True))


def _read_rows(data: bytes, required, nested, fmt: str, convert) -> list:
    with sources.Source("-", required, nested, fmt, stdin=io.BytesIO(data)) as source:
        return [ingest._convert(item, source, convert) for item in source.rows()]


@attrs.frozen
class RulesUnderTest:
    """The bundled ruleset, parsed and compiled, that ingested rows are evaluated with."""

    ruleset: dsl.Ruleset
    compiled: object

    @classmethod
    def bundled(cls) -> "RulesUnderTest":
        text = (REPO / "rulesets" / "b2b.rules").read_text(encoding="utf-8")
        ruleset = dsl.analyze(text, "b2b.rules").raise_for_errors()
        return cls(ruleset, compile_ruleset(ruleset))


def elapsed(since: float) -> float:
    return time.perf_counter() - since
