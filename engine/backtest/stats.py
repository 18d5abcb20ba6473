"""The back-test's statistics, as pure functions of scores and outcomes: ROC AUC (ties as in
the Mann–Whitney statistic), lift and cumulative capture by decile, conversion rates per group,
hand-over precision and recall, and non-monotone neighbours.

Counts are exact: the AUC is a ratio of integers, and a decile that cuts through a run of tied
scores takes its share of that run's conversions (see `deciles`), computed with fractions.
"""

from __future__ import annotations

import math
from collections import defaultdict
from fractions import Fraction
from typing import Hashable, Iterable, Sequence

import attrs


@attrs.frozen
class Rate:
    """Leads in a group and how many of them converted."""

    leads: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.leads if self.leads else None


def base_rate(outcomes: Sequence[bool]) -> Rate:
    """All leads with an outcome, and the converted ones among them."""
    return Rate(len(outcomes), sum(outcomes))


def auc(scores: Sequence, outcomes: Sequence[bool]) -> float | None:
    """ROC AUC: the chance that a converted lead ranks above one that did not, a tie counting
    one half (the Mann–Whitney U statistic over converted × not converted). Higher score ranks
    higher. None when one of the two kinds of lead is missing."""
    positives = sum(outcomes)
    negatives = len(outcomes) - positives
    if not positives or not negatives:
        return None
    by_score: dict = defaultdict(lambda: [0, 0])  # score -> [converted, not converted]
    for score, outcome in zip(scores, outcomes):
        by_score[score][0 if outcome else 1] += 1
    doubled, below = 0, 0  # twice U: wins count 2, ties 1; negatives with a lower score so far
    for score in sorted(by_score):
        pos, neg = by_score[score]
        doubled += pos * (2 * below + neg)
        below += neg
    return doubled / (2 * positives * negatives)


def roc_points(scores: Sequence, outcomes: Sequence[bool]) -> list[tuple[float, float]]:
    """The ROC curve: (false positive rate, true positive rate) with the threshold at each
    distinct score, highest first, after (0, 0); its area is `auc`. Empty when one of the two
    kinds of lead is missing."""
    positives = sum(outcomes)
    negatives = len(outcomes) - positives
    if not positives or not negatives:
        return []
    by_score: dict = defaultdict(lambda: [0, 0])
    for score, outcome in zip(scores, outcomes):
        by_score[score][0 if outcome else 1] += 1
    points, tp, fp = [(0.0, 0.0)], 0, 0
    for score in sorted(by_score, reverse=True):
        tp, fp = tp + by_score[score][0], fp + by_score[score][1]
        points.append((fp / negatives, tp / positives))
    return points


def roc_at(points: Sequence[tuple[float, float]], fpr: float) -> float:
    """The ROC curve's true positive rate at a false positive rate, between its points on the
    straight line that a run of tied scores draws; at a vertical step, the top of it."""
    best = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x0 <= fpr <= x1:
            best = max(best, y1 if x1 == x0 else y0 + (y1 - y0) * (fpr - x0) / (x1 - x0))
    return best


@attrs.frozen
class Decile:
    """One tenth of the leads, best scores first. `leads` and `converted` are fractions when
    the decile's edge cuts through leads with the same score (see `deciles`)."""

    number: int  # 1 = the best-scored tenth
    leads: Fraction
    converted: Fraction
    low: object  # the lowest and highest score in it
    high: object
    cumulative: Fraction  # converted in this decile and the ones above it
    total: int  # converted leads in all deciles

    @property
    def rate(self) -> float | None:
        return float(self.converted / self.leads) if self.leads else None

    def lift(self, base: Rate) -> float | None:
        """This decile's conversion rate over the base rate: 2.0 means twice as many."""
        rate = self.rate
        return None if rate is None or not base.converted else rate / base.rate

    @property
    def capture(self) -> float | None:
        """The share of all converted leads found in the deciles down to this one."""
        return float(self.cumulative / self.total) if self.total else None


def deciles(scores: Sequence, outcomes: Sequence[bool], parts: int = 10) -> list[Decile]:
    """The leads sorted by score, best first, cut into `parts` equal slices of n/parts leads
    each (fractional when n is not a multiple). Leads with equal scores cannot be ordered, so a
    run of t tied leads with c conversions is spread evenly over the positions it occupies: a
    slice holding k of those positions gets k·c/t of its conversions, which is what it would
    get on average if the ties were broken at random. Empty when there are no leads."""
    n = len(scores)
    if not n:
        return []
    runs: dict = defaultdict(lambda: [0, 0])  # score -> [leads, converted]
    for score, outcome in zip(scores, outcomes):
        runs[score][0] += 1
        runs[score][1] += bool(outcome)
    ordered = sorted(runs.items(), key=lambda item: item[0], reverse=True)
    total = sum(outcomes)
    found, at, k, cumulative = [], 0, 0, Fraction(0)  # at: position where run k starts
    for number in range(1, parts + 1):
        start, stop = Fraction(n * (number - 1), parts), Fraction(n * number, parts)
        converted, scores_in = Fraction(0), []
        while k < len(ordered):
            score, (size, conv) = ordered[k]
            overlap = min(stop, at + size) - max(start, at)
            if overlap > 0:
                converted += overlap * conv / size
                scores_in.append(score)
            if at + size > stop:
                break
            at, k = at + size, k + 1
        cumulative += converted
        found.append(Decile(number, stop - start, converted, min(scores_in), max(scores_in),
                            cumulative, total))
    return found


def rates(groups: Iterable[Hashable], outcomes: Iterable[bool]) -> dict[Hashable, Rate]:
    """Leads and conversions per group, in order of first appearance."""
    counts: dict = {}
    for group, outcome in zip(groups, outcomes):
        leads, converted = counts.get(group, (0, 0))
        counts[group] = (leads + 1, converted + bool(outcome))
    return {group: Rate(*count) for group, count in counts.items()}


@attrs.frozen
class Handover:
    """How a hand-over stage picks the converting leads: of the leads that reached it, the
    share that converted (precision); of the converted leads, the share that reached it
    (recall); and the converted leads that never reached it."""

    stage: str
    reached: int
    reached_converted: int
    converted: int

    @property
    def precision(self) -> float | None:
        return self.reached_converted / self.reached if self.reached else None

    @property
    def recall(self) -> float | None:
        return self.reached_converted / self.converted if self.converted else None

    @property
    def missed(self) -> int:
        return self.converted - self.reached_converted


def handover(stage: str, reached: Sequence[bool], outcomes: Sequence[bool]) -> Handover:
    """Precision and recall of `reached` (a lead reached the hand-over stage) for `outcomes`."""
    return Handover(stage, sum(reached), sum(r and o for r, o in zip(reached, outcomes)),
                    sum(outcomes))


@attrs.frozen
class NonMonotone:
    """A worse class that converts better than the better one next to it: band 4 above band 3,
    grade C above grade B. `p` is the two-sided p-value of the difference (a two-proportion
    z-test): the chance of a gap this wide between two classes that convert alike."""

    kind: str  # "band" or "grade"
    better: Hashable
    worse: Hashable
    better_rate: Rate
    worse_rate: Rate
    p: float

    @property
    def likely_chance(self) -> bool:
        """Too few leads to tell the gap from chance (p of 0.05 or more)."""
        return self.p >= 0.05


def non_monotone(kind: str, order: Sequence[Hashable],
                 counts: dict[Hashable, Rate]) -> list[NonMonotone]:
    """Each pair of neighbours in `order` (best first), among the classes with leads, where
    the worse one converts at a higher rate."""
    present = [c for c in order if c in counts and counts[c].leads]
    found = []
    for better, worse in zip(present, present[1:]):
        b, w = counts[better], counts[worse]
        if w.rate > b.rate:
            found.append(NonMonotone(kind, better, worse, b, w, two_proportion_p(b, w)))
    return found


def two_proportion_p(a: Rate, b: Rate) -> float:
    """Two-sided p-value of the pooled two-proportion z-test for a.rate = b.rate."""
    pooled = (a.converted + b.converted) / (a.leads + b.leads)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.leads + 1 / b.leads))
    if spread == 0:
        return 1.0
    z = abs(a.rate - b.rate) / spread
    return math.erfc(z / math.sqrt(2))
