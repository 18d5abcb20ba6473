"""Conditions compile to one Python function each, written out as source where they read the
score, fit, grade, band, stage, priority, BANT or a profile field read at the start, and made
of closures elsewhere. Both ways must mean the same: this compares them on many states."""

import random
from decimal import Decimal

import pytest

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.check import Scope
from leadrules.engine.scoring.compiler import _ConditionCompiler, compile_ruleset
from leadrules.engine.scoring.evaluate import LeadState
from leadrules.engine.scoring.results import BANT_FLAGS

HEAD = """
events visit, qualify
bant from qualify
fields title: text, employees: number, country: text, vip: boolean
grade A if fit >= 50
grade B if fit >= 20 and employees > 100
grade D otherwise
band 1 if score >= 50
band 2 if score >= 20
fit +30 if title = "CEO"
fit +20 if employees >= 500
"""

CONDITIONS = [
    "score >= 20", "score < 20", "score = 35", "score != 35", "fit > 20", "fit <= 30",
    "grade = A", "grade != D", "grade in [A, B]", "grade not in [A]", "band = 1", "band in [1, 2]",
    "band not in [2]", "priority in [A1, B2]", "priority not in [A1]", "stage = Lead",
    "stage in [Name, Lead]", "stage not in [Lead]", "bant.all", "bant.budget", "bant.need",
    "bant.any", "bant.count >= 2", "title = \"CEO\"", "title != \"CEO\"",
    "title in [\"CEO\", \"CMO\"]", "title not in [\"CEO\"]", "employees > 100",
    "employees <= 100", "employees in [100, 500]", "employees not in [100]",
    "country in [\"DE\", \"AT\"]", "vip", "title contains \"EO\"", "title is missing",
    "topic in [\"pricing\"]", "minutes >= 5",
    "score >= 20 and bant.all", "grade in [A, B] or employees > 1000",
    "not (score >= 20 and title = \"CEO\")", "score >= 20 and (band = 1 or vip) and not bant.need",
]

TITLES = [None, "", "CEO", "CMO", "Intern"]
EMPLOYEES = [None, "", "100", "500", "5000", "lots", " 500 "]


def _condition(text: str, decays: bool):
    rules = HEAD + f"when visit where {text} then +1\n"
    if decays:
        rules += "when visit then +3 decay 50% every 7 days\n"
    ruleset = dsl.analyze(rules, "t.rules").raise_for_errors()
    (rule,) = [r for r in ruleset.of(ast.ScoreRule) if r.where is not None]
    return ruleset, rule.where


@pytest.mark.parametrize("decays", [False, True])
@pytest.mark.parametrize("text", CONDITIONS)
def test_written_source_means_what_the_closures_mean(text, decays):
    ruleset, node = _condition(text, decays)
    compiled = compile_ruleset(ruleset)
    conditions = _ConditionCompiler(Scope.of(ruleset), ruleset, decays, {})
    written, closure = conditions(node), conditions.closure(node)
    rng = random.Random(text)
    outcomes = set()
    for _ in range(300):
        profile = {"title": rng.choice(TITLES), "employees": rng.choice(EMPLOYEES),
                   "country": rng.choice([None, "DE", "FR"]),
                   "vip": rng.choice([None, "yes", "no", "maybe"])}
        state = LeadState(compiled, profile)
        state.score = rng.choice([0, 19, 20, 35, 50, 75]) + (
            rng.choice([Decimal("0.5"), Decimal("0.25")]) if decays else 0)
        state.stage = rng.choice(["Name", "Lead", "SalesLead"])
        state.bant = rng.choice([{}, {f: rng.random() < 0.7 for f in BANT_FLAGS}])
        state.props = rng.choice([{}, {"topic": "pricing", "minutes": "7"}, {"topic": ""}])
        outcome = closure(state)
        assert written(state) is outcome, (profile, state.score, state.stage, state.bant)
        outcomes.add(outcome)
    assert outcomes == {True, False}  # the states tried made the condition hold and fail


def test_the_written_profile_reader_reads_each_field_as_its_reader_does():
    ruleset = dsl.analyze(HEAD, "t.rules").raise_for_errors()
    compiled = compile_ruleset(ruleset)
    rng = random.Random(11)
    cells = [None, "", " ", "CEO", "500", " 500 ", "5e3", "yes", "no", "2026-01-02", 7, 2.5]
    for _ in range(2000):
        profile = {name: rng.choice(cells) for name in ("title", "employees", "country", "vip")
                   if rng.random() < 0.8}
        expected = {name: read(profile.get(name)) for name, read in compiled.fields.items()}
        read = compiled.read_profile(profile)
        assert [(k, type(v), v) for k, v in read.items()] == [
            (k, type(v), v) for k, v in expected.items()], profile
