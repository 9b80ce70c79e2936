"""Decision payloads for the notifier's tests (unit and integration)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fraudstream_shared.events import ProcessedTransaction
from tests.support.factories import original_sample_transaction


def decision_payload(outcome: str = "block", **overrides: Any) -> dict[str, Any]:
    """A ``processed_transactions`` value as a dict: an original-format transaction + ``fd``."""
    fd = {
        "outcome": outcome,
        "model_scores": {"fraud_model": 912},
        "rule_results": {"high_score": [outcome]},
        "model_version": "m-1",
        "detector_version": "d-1",
        "reasons": ["model score 912 >= 900", "amount 1234 is 8x the customer's median"],
        "proc_time": 12,
        "ttdf": 15,
        "scorer_time": 2.5,
        "frauddetector_time": 3,
        "scored_at": datetime.now(UTC).isoformat(),
    }
    fd.update(overrides.pop("fd", {}))
    payload = original_sample_transaction(**overrides)
    payload["fd"] = fd
    return payload


def decision(outcome: str = "block", **overrides: Any) -> ProcessedTransaction:
    """The same, parsed."""
    return ProcessedTransaction.model_validate(decision_payload(outcome, **overrides))
