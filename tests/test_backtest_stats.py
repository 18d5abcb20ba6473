"""engine.backtest.stats: AUC as scikit-learn computes it, deciles through ties, rates,
hand-over precision and recall, non-monotone neighbours, each checked by hand or against
scikit-learn."""

import math
import random
from fractions import Fraction as F

import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from leadrules.engine.backtest import stats


def test_auc_counts_ties_as_half_a_win():
    # converted 40, 30, 40, 10 against not converted 10, 50, 0, 20: wins 3 + 3 + 3 + 1, one tie
    assert stats.auc([40, 10, 30, 40, 50, 0, 10, 20],
                     [True, False, True, True, False, False, True, False]) == 10.5 / 16


@pytest.mark.parametrize("seed", range(20))
def test_auc_equals_scikit_learn_on_data_with_many_ties(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 3000)
    distinct = rng.choice([2, 5, 30, 1000])
    scores = [rng.randrange(distinct) * rng.choice([1, 1, 5]) for _ in range(n)]
    outcomes = [rng.random() < 0.1 + scores[k] / (distinct * 10) for k in range(n)]
    outcomes[0], outcomes[1] = True, False  # both kinds present
    assert abs(stats.auc(scores, outcomes) - roc_auc_score(outcomes, scores)) < 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_roc_points_are_scikit_learns_curve_and_enclose_the_auc(seed):
    rng = random.Random(seed)
    scores = [rng.randrange(40) for _ in range(500)]
    outcomes = [rng.random() < 0.2 + scores[k] / 100 for k in range(500)]
    points = stats.roc_points(scores, outcomes)
    fpr, tpr, _ = roc_curve(outcomes, scores, drop_intermediate=False)
    assert points == list(zip(fpr.tolist(), tpr.tolist()))
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in zip(points, points[1:]))
    assert abs(area - stats.auc(scores, outcomes)) < 1e-12
    assert stats.roc_points([1, 2], [True, True]) == []


def test_auc_of_decimal_scores_and_a_perfect_ranking():
    from decimal import Decimal

    assert stats.auc([Decimal("0.5"), Decimal("1.5"), 2], [False, True, True]) == 1.0
    assert stats.auc([3, 2, 1], [False, True, True]) == 0.0


def test_auc_needs_both_kinds_of_lead():
    assert stats.auc([1, 2], [True, True]) is None
    assert stats.auc([1, 2], [False, False]) is None
    assert stats.auc([], []) is None


def test_deciles_spread_a_run_of_ties_over_the_positions_it_takes():
    # 8 leads, 0.8 per decile: 50 (no), 40 40 (yes yes), 30 (yes), 20 (no), 10 10 (no yes), 0 (no)
    scores = [50, 40, 40, 30, 20, 10, 10, 0]
    outcomes = [False, True, True, True, False, False, True, False]
    found = stats.deciles(scores, outcomes)
    assert [d.leads for d in found] == [F(4, 5)] * 10
    assert [d.converted for d in found] == [F(0), F(3, 5), F(4, 5), F(4, 5), F(4, 5), F(0),
                                            F(3, 10), F(2, 5), F(3, 10), F(0)]
    assert [(d.low, d.high) for d in found] == [(50, 50), (40, 50), (40, 40), (30, 40),
                                                (30, 30), (20, 20), (10, 20), (10, 10),
                                                (0, 10), (0, 0)]
    third = found[2]
    assert third.cumulative == F(7, 5) and third.capture == 0.35
    assert third.rate == 1.0 and third.lift(stats.base_rate(outcomes)) == 2.0
    assert found[-1].capture == 1.0


def test_deciles_of_one_tied_score_are_the_base_rate_each():
    found = stats.deciles([7] * 20, [True] * 5 + [False] * 15)
    assert [d.converted for d in found] == [F(1, 2)] * 10
    assert [d.leads for d in found] == [2] * 10
    assert [d.capture for d in found] == [k / 10 for k in range(1, 11)]


def test_deciles_with_fewer_leads_than_deciles():
    found = stats.deciles([2, 1, 0], [True, False, False])
    assert sum(d.leads for d in found) == 3 and sum(d.converted for d in found) == 1
    assert [d.converted for d in found[:4]] == [F(3, 10), F(3, 10), F(3, 10), F(1, 10)]
    assert stats.deciles([], []) == []


def test_deciles_capture_agrees_with_exact_fractions_on_random_data():
    rng = random.Random(5)
    scores = [rng.randrange(12) for _ in range(997)]
    outcomes = [rng.random() < 0.3 for _ in scores]
    found = stats.deciles(scores, outcomes)
    assert sum(d.leads for d in found) == 997
    assert sum(d.converted for d in found) == sum(outcomes)
    assert all(a.high >= b.low for a, b in zip(found, found[1:]))  # best scores first


def test_rates_per_group_in_order_of_appearance():
    found = stats.rates(["b", "a", "b", None, "b"], [True, False, False, True, True])
    assert found == {"b": stats.Rate(3, 2), "a": stats.Rate(1, 0), None: stats.Rate(1, 1)}
    assert found["b"].rate == 2 / 3 and stats.Rate(0, 0).rate is None


def test_handover_precision_recall_and_missed():
    h = stats.handover("SalesLead", [True, True, False, True, False],
                       [True, False, True, True, True])
    assert (h.reached, h.reached_converted, h.converted, h.missed) == (3, 2, 4, 2)
    assert h.precision == 2 / 3 and h.recall == 0.5
    none = stats.handover("SalesLead", [False], [False])
    assert none.precision is None and none.recall is None


def test_non_monotone_neighbours_and_their_p_value():
    counts = {1: stats.Rate(3, 2), 2: stats.Rate(2, 1), 3: stats.Rate(100, 10),
              4: stats.Rate(100, 30)}
    (warning,) = stats.non_monotone("band", (1, 2, 3, 4), counts)
    assert (warning.better, warning.worse) == (3, 4)
    # pooled 0.2; spread sqrt(0.2 * 0.8 * (1/100 + 1/100)) = 0.0566; z = 0.2 / 0.0566 = 3.536
    assert warning.p == pytest.approx(math.erfc(3.5355339 / math.sqrt(2)), rel=1e-6)
    assert warning.p == pytest.approx(0.000407, abs=1e-6) and not warning.likely_chance


def test_non_monotone_skips_empty_classes_and_small_gaps_are_likely_chance():
    counts = {"A": stats.Rate(2, 1), "C": stats.Rate(3, 2)}  # no B: A and C are neighbours
    (warning,) = stats.non_monotone("grade", "ABCD", counts)
    assert (warning.better, warning.worse) == ("A", "C")
    # pooled 0.6, spread sqrt(0.24 * (1/2 + 1/3)) = 0.4472, z = 0.1667 / 0.4472 = 0.3727
    assert round(warning.p, 3) == 0.709 and warning.likely_chance
    assert stats.non_monotone("grade", "ABCD", {"A": stats.Rate(2, 2)}) == []
