"""`backtest --suggest`: the points of the existing rules fitted to the outcomes, for a human
to review. A regularised logistic regression (scikit-learn, the optional extra `suggest`) of
each measured lead's outcome on how often each scoring rule gave it points, and another on
which fit lines its profile meets; the coefficients scaled to the ruleset's own points and
rounded to their step, and printed as a diff of the rule file. Nothing is ever applied."""

from __future__ import annotations

import difflib
import math
import re
from functools import reduce
from typing import Iterable, Mapping, Sequence

import attrs

from leadrules import dsl
from leadrules.dsl import ast
from leadrules.dsl.errors import UsageError
from leadrules.dsl.format import write
from leadrules.engine.backtest import stats
from leadrules.engine.scoring.compiler import CompiledRuleset, compile_ruleset
from leadrules.engine.scoring.evaluate import LeadState, replay
from leadrules.engine.scoring.results import PointChange

REGULARISATION = 1.0  # scikit-learn's C: smaller is stronger; 1.0 is its default
_POINTS = {ast.ScoreRule: re.compile(r"(\bthen\s+)([+-]\d+)"),
           ast.InactivityRule: re.compile(r"(\bthen\s+)([+-]\d+)"),
           ast.FitRule: re.compile(r"^(\s*fit\s+)([+-]\d+)")}


@attrs.frozen
class Change:
    """One rule's points, as written and as suggested."""

    line: int
    text: str
    old: int
    new: int


@attrs.frozen
class Suggestion:
    """The suggested points, the rule file's diff, and the AUCs before and after."""

    changes: tuple[Change, ...]
    diff: str
    auc: tuple[float | None, float | None]  # of the score: now, with the fitted points
    fit_auc: tuple[float | None, float | None]
    leads: int
    # "score" and/or "fit": the parts whose fitted points ranked no better than the current
    # ones, and so are not suggested
    not_better: tuple[str, ...] = ()


def suggest(rules: CompiledRuleset, leads: Iterable[tuple[str, Mapping, list]],
            outcomes: Mapping[str, bool], as_of: int) -> Suggestion:
    """Fit the points of `rules`' scoring and fit rules to the `outcomes` of the leads
    (lead_id, profile, event rows in replay order) that have one, scored as of `as_of`."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise UsageError("--suggest fits the points with scikit-learn: pip install "
                         "'leadrules[suggest]'") from None
    ruleset = dsl.load(rules.path)
    scoring = [s for s in ruleset.of(ast.ScoreRule, ast.InactivityRule) if s.points is not None]
    fitting = ruleset.of(ast.FitRule)
    by_line = {s.span.line: k for k, s in enumerate(scoring)}
    kept = [(lead, profile, rows) for lead, profile, rows in leads if lead in outcomes]
    fires, fits, ys = [], [], []
    for lead, profile, rows in kept:
        fires.append(_fires(replay(rules, lead, profile, rows, as_of, trace=True), by_line,
                            len(scoring)))
        state = LeadState(rules, profile)
        fits.append([1.0 if line.pred(state) else 0.0 for line in rules.fit])
        ys.append(outcomes[lead])
    if len(set(ys)) < 2:
        raise UsageError("--suggest needs measured leads that converted and others")
    parts = {}
    for name, statements, features in (("score", scoring, fires), ("fit", fitting, fits)):
        if statements and any(any(row) for row in features):
            model = LogisticRegression(C=REGULARISATION, max_iter=5000).fit(features, ys)
            parts[name] = dict(zip(map(id, statements),
                                   _scaled(model.coef_[0], [s.points for s in statements])))
    fitted = {k: v for part in parts.values() for k, v in part.items()}
    auc, fit_auc = _aucs(rules, compile_ruleset(_with_points(ruleset, fitted)), kept, outcomes,
                         as_of)
    # The score reads only scoring rules and fit only fit lines: each part stands on its own.
    worse = tuple(name for name, (now, then) in (("score", auc), ("fit", fit_auc))
                  if name in parts and (then is None or now is not None and then <= now))
    points = {k: v for name, part in parts.items() if name not in worse for k, v in part.items()}
    return Suggestion(_changes(ruleset, points), _diff(ruleset, points), auc, fit_auc,
                      len(kept), worse)


def _fires(result, by_line: dict[int, int], size: int) -> list[float]:
    """How often each scoring rule gave the lead points (capped matches not counted)."""
    counts = [0.0] * size
    for change in result.history:
        if isinstance(change, PointChange) and change.capped_by is None:
            k = by_line.get(change.rule.line)
            if k is not None:
                counts[k] += 1
    return counts


def _scaled(coefficients: Sequence[float], current: Sequence[int]) -> list[int]:
    """Coefficients as points: the largest in size becomes the largest points written now,
    each rounded to the step the points are written in (their greatest common divisor)."""
    step = reduce(math.gcd, (abs(p) for p in current if p), 0) or 1
    largest, widest = max(abs(p) for p in current) or step, max(abs(c) for c in coefficients)
    if widest == 0:
        return list(current)
    return [step * round(c * largest / widest / step) for c in coefficients]


def _with_points(ruleset: ast.Ruleset, points: dict[int, int]) -> ast.Ruleset:
    statements = tuple(attrs.evolve(s, points=points[id(s)]) if id(s) in points else s
                       for s in ruleset.statements)
    return ast.Ruleset(statements, ruleset.path, ruleset.source)


def _changes(ruleset: ast.Ruleset, points: dict[int, int]) -> tuple[Change, ...]:
    return tuple(Change(s.span.line, re.sub(r",\n +", ", ", write(s)), s.points, points[id(s)])
                 for s in ruleset.statements if id(s) in points and points[id(s)] != s.points)


def _diff(ruleset: ast.Ruleset, points: dict[int, int]) -> str:
    """A unified diff of the rule file: each changed rule's points replaced where they stand."""
    lines = ruleset.source.splitlines(keepends=True)
    new = list(lines)
    for s in ruleset.statements:
        if id(s) in points and points[id(s)] != s.points:
            k = s.span.line - 1
            new[k] = _POINTS[type(s)].sub(lambda m: f"{m[1]}{points[id(s)]:+d}", new[k], 1)
    return "".join(difflib.unified_diff(lines, new, ruleset.path,
                                        f"{ruleset.path} (suggested)"))


def _aucs(rules: CompiledRuleset, new_rules: CompiledRuleset, leads: list,
          outcomes: Mapping[str, bool], as_of: int) -> tuple:
    ys = [outcomes[lead] for lead, _, _ in leads]
    results = [[replay(side, lead, profile, rows, as_of) for lead, profile, rows in leads]
               for side in (rules, new_rules)]
    return [tuple(stats.auc([getattr(r, attr) for r in side], ys) for side in results)
            for attr in ("score", "fit")]
