"""Decisions for the indexer's tests (shared by its unit and integration suites)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fraudstream_shared.events import ProcessedTransaction
from tests.support.factories import original_sample_transaction


def decision_payload(*, outcome: str = "approve", score: int = 120,
                     **overrides: Any) -> dict[str, Any]:
    """A ``processed_transactions`` value as JSON-ready data (original fields + ``fd``)."""
    payload = original_sample_transaction(event_id=str(uuid.uuid4()))
    payload["fd"] = {
        "outcome": outcome,
        "model_scores": {"fraudstream": score},  # the scorer's model name
        "rule_results": {"high_score": ["block"] if outcome == "block" else [],
                         "low_score": ["approve"] if outcome == "approve" else []},
        "model_version": "m-2026-11-01",
        "detector_version": "d-1",
        "reasons": ["amount far above the customer's usual"],
        "contributions": [{"feature": "amount_zscore", "value": 4.2, "contribution": 1.3}],
        "proc_time": 12,
        "ttdf": 30,
        "scorer_time": 3.5,
        "frauddetector_time": 18,
        "scored_at": datetime.now(UTC).isoformat(),
    }
    payload.update(overrides)
    return payload


def make_decision(**kwargs: Any) -> ProcessedTransaction:
    """A validated :class:`ProcessedTransaction` built from :func:`decision_payload`."""
    return ProcessedTransaction.model_validate(decision_payload(**kwargs))
