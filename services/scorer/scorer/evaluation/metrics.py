"""Detection metrics (numpy only): AUC ROC, Average Precision, Card Precision@k, curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def _arrays(y_true: Sequence[float] | npt.ArrayLike, y_score: Sequence[float] | npt.ArrayLike
            ) -> tuple[npt.NDArray[np.bool_], FloatArray]:
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(y_score, dtype=float)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError("labels and scores must be 1-d and of the same length")
    return y, s


def roc_auc(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> float:
    """Area under the ROC curve (ties count one half); NaN without both classes."""
    y, s = _arrays(y_true, y_score)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s))
    # Average ranks over ties (Mann–Whitney U).
    _, first, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(average, counts)
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _threshold_counts(y: npt.NDArray[np.bool_], s: FloatArray
                      ) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cumulative true and false positives at each distinct threshold, highest first."""
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie].astype(float)
    fp = (last_of_tie + 1 - tp).astype(float)
    return tp, fp, s[last_of_tie]


def average_precision(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> float:
    """Σ (R_n − R_{n−1}) P_n over distinct thresholds (scikit-learn's definition)."""
    y, s = _arrays(y_true, y_score)
    n_pos = int(y.sum())
    if not n_pos:
        return float("nan")
    tp, fp, _ = _threshold_counts(y, s)
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def roc_curve(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(fpr, tpr)`` points from (0, 0) to (1, 1)."""
    y, s = _arrays(y_true, y_score)
    tp, fp, _ = _threshold_counts(y, s)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.r_[0.0, fp / n_neg], np.r_[0.0, tp / n_pos]


def pr_curve(y_true: npt.ArrayLike, y_score: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(recall, precision)`` points, highest threshold first."""
    y, s = _arrays(y_true, y_score)
    tp, fp, _ = _threshold_counts(y, s)
    return tp / max(int(y.sum()), 1), tp / (tp + fp)


def card_precision_at_k(day: npt.ArrayLike, customer: npt.ArrayLike, y_true: npt.ArrayLike,
                        y_score: npt.ArrayLike, k: int = 100
                        ) -> tuple[float, list[float]]:
    """The Handbook's Card Precision@k: mean over days of the daily precision.

    Each day, every customer gets the highest score of their transactions and
    is fraudulent if any of them is; the ``k`` customers with the highest
    scores are "alerted" and the day's precision is the share of them that are
    fraudulent (always divided by ``k``).
    """
    days = np.asarray(day)
    customers = np.asarray(customer)
    y, s = _arrays(y_true, y_score)
    daily: list[float] = []
    for d in np.unique(days):
        rows = days == d
        _, inverse = np.unique(customers[rows], return_inverse=True)
        best = np.full(inverse.max() + 1, -np.inf)
        np.maximum.at(best, inverse, s[rows])
        bad = np.zeros(inverse.max() + 1, dtype=bool)
        np.logical_or.at(bad, inverse, y[rows])
        top = np.argsort(-best, kind="mergesort")[:k]
        daily.append(float(bad[top].sum()) / k)
    return (float(np.mean(daily)) if daily else float("nan")), daily
