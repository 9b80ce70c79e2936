"""The first, simple fraud model: a hand-set logistic score over a few signals (heuristic).

It exists so the pipeline makes meaningful decisions before a trained model is
available; the coefficients encode well-known risk signals (large amounts,
card-not-present categories, night-time activity, high-risk currencies for a
US-based merchant) and nothing learned. Scores are 0–1000 like Fraud Detector's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fraudstream_shared.events import Transaction

MODEL_NAME = "fraudstream_heuristic"
MODEL_VERSION = "heuristic-1"

# Card-not-present ("_net") categories carry more fraud in the Sparkov data the
# original sample's categories come from.
ONLINE_CATEGORIES = frozenset({"shopping_net", "misc_net", "grocery_net"})
HOME_CURRENCY = "usd"

_INTERCEPT = -7.5
_W_LOG_AMOUNT = 0.9  # per natural-log unit of amount
_W_ONLINE = 0.8
_W_NIGHT = 0.9  # 00:00–05:59 UTC
_W_FOREIGN = 0.4


@dataclass(frozen=True)
class Signal:
    """One input of the model and what it added to the log-odds."""

    name: str
    value: float
    contribution: float


def signals(tx: Transaction) -> list[Signal]:
    """The model's inputs for ``tx`` with their signed log-odds contributions."""
    log_amount = math.log1p(tx.transaction_amt)
    online = 1.0 if tx.product_category in ONLINE_CATEGORIES else 0.0
    night = 1.0 if tx.event_time.hour < 6 else 0.0
    foreign = 0.0 if tx.transaction_currency == HOME_CURRENCY else 1.0
    return [
        Signal("log_amount", round(log_amount, 4), _W_LOG_AMOUNT * log_amount),
        Signal("online_category", online, _W_ONLINE * online),
        Signal("night_time", night, _W_NIGHT * night),
        Signal("foreign_currency", foreign, _W_FOREIGN * foreign),
    ]


def score(contributions: list[Signal]) -> int:
    """Map summed log-odds to a 0–1000 score."""
    logit = _INTERCEPT + sum(s.contribution for s in contributions)
    probability = 1.0 / (1.0 + math.exp(-logit))
    return round(1000 * probability)
