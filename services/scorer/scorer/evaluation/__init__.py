"""Backtesting a model on held-out labelled data (the Handbook's protocol and metrics)."""

from scorer.evaluation.metrics import (
    average_precision,
    card_precision_at_k,
    pr_curve,
    roc_auc,
    roc_curve,
)

__all__ = ["average_precision", "card_precision_at_k", "pr_curve", "roc_auc", "roc_curve"]
