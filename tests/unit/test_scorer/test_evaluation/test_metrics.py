"""Metrics on small examples whose values are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scorer.evaluation import average_precision, card_precision_at_k, pr_curve, roc_auc, roc_curve


def test_auc_perfect_reversed_and_ties() -> None:
    assert roc_auc([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert roc_auc([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert roc_auc([0, 1], [0.5, 0.5]) == 0.5
    # 3 of the 4 (pos, neg) pairs are ordered right.
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert math.isnan(roc_auc([1, 1], [0.1, 0.2]))


def test_average_precision_by_hand() -> None:
    # scikit-learn's documented example: 0.8333.
    assert average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.8333, 1e-4)
    assert average_precision([1, 0, 1], [0.9, 0.8, 0.7]) == pytest.approx((1 + 2 / 3) / 2)
    assert average_precision([0, 1], [0.5, 0.5]) == pytest.approx(0.5)


def test_curves_start_and_end_where_they_should() -> None:
    fpr, tpr = roc_curve([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    recall, precision = pr_curve([0, 1, 0, 1], [0.1, 0.4, 0.35, 0.8])
    assert recall[-1] == 1.0
    assert precision[0] == 1.0


def test_card_precision_at_k_takes_each_customers_max_per_day() -> None:
    day = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    customer = np.array(["a", "a", "b", "c", "d", "a", "b", "c"])
    fraud = np.array([0, 1, 0, 0, 0, 0, 0, 1])
    score = np.array([0.9, 0.1, 0.8, 0.7, 0.2, 0.5, 0.6, 0.4])
    cp, daily = card_precision_at_k(day, customer, fraud, score, k=2)
    # Day 0: top customers a (0.9, has a fraud) and b → 1/2. Day 1: b, a → 0/2.
    assert daily == [0.5, 0.0]
    assert cp == 0.25
    # Fewer customers than k still divides by k (the Handbook's definition).
    assert card_precision_at_k(day, customer, fraud, score, k=10)[1] == [0.1, 0.1]
