"""Backtest a model on the test window of the protocol and describe the results."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scorer.evaluation.metrics import average_precision, card_precision_at_k, roc_auc
from scorer.features import FEATURE_NAMES
from scorer.model.calibration import fpr_for_score
from scorer.model.core import Model
from scorer.model.train import Prepared

HANDBOOK_BEST = {"auc_roc": 0.879, "average_precision": 0.687, "card_precision_at_100": 0.305}
"""The Handbook's best published test results (the bar to beat)."""


@dataclass(frozen=True)
class Thresholds:
    """The score thresholds of the default rule set (``scorer/data/rules/default.yaml``)."""

    review_score: int = 900
    block_score: int = 950
    large_amount: float = 5000.0


def columns_for(model: Model, matrix: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The replayed matrix re-ordered to the model's features (NaN for unknown ones)."""
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    out = np.full((len(matrix), len(model.feature_names)), np.nan)
    for j, name in enumerate(model.feature_names):
        if name in index:
            out[:, j] = matrix[:, index[name]]
    return out


def outcomes(scores: npt.NDArray[np.int64], amounts: npt.NDArray[np.float64],
             thresholds: Thresholds) -> npt.NDArray[np.str_]:
    """approve/review/block per row, as the starter rules decide."""
    result = np.full(len(scores), "approve", dtype="<U7")
    result[(scores >= thresholds.review_score) | (amounts >= thresholds.large_amount)] = "review"
    result[scores >= thresholds.block_score] = "block"
    return result


def ranking_metrics(raw: npt.NDArray[np.float64], y: npt.NDArray[np.bool_],
                    day: npt.NDArray[np.int64], customer: npt.NDArray[np.object_],
                    k: int) -> dict[str, Any]:
    """AUC ROC, AP and CP@k (with its daily values)."""
    cp, daily = card_precision_at_k(day, customer, y, raw, k)
    return {"auc_roc": roc_auc(y, raw), "average_precision": average_precision(y, raw),
            f"card_precision_at_{k}": cp, f"card_precision_at_{k}_daily": daily,
            "transactions": len(y), "frauds": int(y.sum()),
            "fraud_customer_days": len({(d, c) for d, c, f in
                                            zip(day.tolist(), customer.tolist(), y.tolist(),
                                                strict=True) if f})}


def by_scenario(scenario: npt.NDArray[np.object_] | None, y: npt.NDArray[np.bool_],
                decided: npt.NDArray[np.str_], amount: npt.NDArray[np.float64]
                ) -> dict[str, dict[str, float]]:
    """Per fraud scenario: frauds, how many were blocked or reviewed, and their amounts.

    Frauds without a scenario count as ``unspecified``; empty without scenarios.
    """
    if scenario is None:
        return {}
    names = np.where(scenario == "", "unspecified", scenario)
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(names[y].tolist())):
        rows = y & (names == name)
        blocked = rows & (decided == "block")
        caught = rows & (decided != "approve")
        out[name] = {"frauds": int(rows.sum()), "blocked": int(blocked.sum()),
                     "reviewed_or_blocked": int(caught.sum()),
                     "fraud_amount": round(float(amount[rows].sum()), 2),
                     "amount_blocked": round(float(amount[blocked].sum()), 2),
                     "amount_reviewed_or_blocked": round(float(amount[caught].sum()), 2)}
    return out


def backtest(model: Model, prepared: Prepared, thresholds: Thresholds, k: int = 100
             ) -> dict[str, Any]:
    """Every figure of the report, as a JSON-ready dict."""
    h, p = prepared.history, prepared.protocol
    test = p.test_mask(h.time)
    unknown = p.unknown_customers_mask(h.time, h.customer, h.is_fraud)
    matrix = columns_for(model, prepared.matrix[test])
    raw = model.raw(matrix)
    scores = model.calibration.scores_of(raw)
    y, day, customer = h.is_fraud[test], p.test_day(h.time[test]), h.customer[test]
    amount = h.amount[test]
    keep = unknown[test]
    decided = outcomes(scores, amount, thresholds)

    confusion = {o: {"fraud": int(((decided == o) & y).sum()),
                     "legit": int(((decided == o) & ~y).sum()),
                     "fraud_amount": round(float(amount[(decided == o) & y].sum()), 2)}
                 for o in ("approve", "review", "block")}
    alerts = decided != "approve"
    per_day = [{"day": int(d), "alerts": int(alerts[day == d].sum()),
                "blocks": int((decided[day == d] == "block").sum()),
                "transactions": int((day == d).sum())} for d in range(p.test_days)]
    fraud_amount = float(amount[y].sum())
    legit = max(int((~y).sum()), 1)
    return {
        "model": {"name": model.name, "version": model.version},
        "protocol": p.describe(),
        "data": h.describe(),
        "feature_seconds": round(prepared.feature_seconds, 1),
        "partitions": prepared.partitions,
        "model_features": len(model.feature_names),
        "handbook_test_set": ranking_metrics(raw[keep], y[keep], day[keep], customer[keep], k),
        "all_test_transactions": ranking_metrics(raw, y, day, customer, k),
        "handbook_best": HANDBOOK_BEST,
        "thresholds": {
            "review_score": thresholds.review_score, "block_score": thresholds.block_score,
            "large_amount": thresholds.large_amount,
            "review_fpr_calibrated": fpr_for_score(thresholds.review_score),
            "block_fpr_calibrated": fpr_for_score(thresholds.block_score),
            "review_or_block_fpr_observed": float((alerts & ~y).sum()) / legit,
            "block_fpr_observed": float(((decided == "block") & ~y).sum()) / legit,
        },
        "confusion": confusion,
        "scenarios": by_scenario(None if h.scenario is None else h.scenario[test], y, decided,
                                 amount),
        "alerts_per_day": per_day,
        "amount": {
            "fraud_total": round(fraud_amount, 2),
            "caught_blocked": confusion["block"]["fraud_amount"],
            "caught_reviewed_or_blocked": round(confusion["block"]["fraud_amount"]
                                                + confusion["review"]["fraud_amount"], 2),
        },
        "score_distribution": {
            "fraud_median": float(np.median(scores[y])) if y.any() else None,
            "legit_median": float(np.median(scores[~y])) if (~y).any() else None,
        },
        "_curves": {"y": y[keep], "raw": raw[keep]},
    }
