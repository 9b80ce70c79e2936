"""Decisions and labels for the archiver's tests, built with the contracts."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fraudstream_shared.events import ProcessedTransaction, TransactionLabel
from tests.support.factories import original_sample_transaction

OUTCOMES = ("approve", "review", "block")


def decision_payload(outcome: str = "approve", *, score: int = 100,
                     event_time: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    """A ``processed_transactions`` value (original-format transaction + ``fd``)."""
    moment = event_time or datetime.now(UTC)
    fd = {
        "outcome": outcome,
        "model_scores": {"fraudstream": score},
        "rule_results": {"high_score": [outcome] if outcome != "approve" else [],
                         "allow_list": []},
        "model_version": "m-1",
        "detector_version": "d-1",
        "reasons": [f"model score {score}"],
        "contributions": [{"feature": "amount_vs_customer", "value": 3.0, "contribution": 1.2}],
        "proc_time": 12,
        "ttdf": 15,
        "scorer_time": 2.5,
        "frauddetector_time": 3,
        "scored_at": (moment + timedelta(milliseconds=15)).isoformat(),
    }
    fd.update(overrides.pop("fd", {}))
    payload = original_sample_transaction(event_id=str(uuid.uuid4()),
                                          event_time=moment.isoformat(), **overrides)
    payload["fd"] = fd
    return payload


def decision(outcome: str = "approve", **kwargs: Any) -> ProcessedTransaction:
    """The same, parsed."""
    return ProcessedTransaction.model_validate(decision_payload(outcome, **kwargs))


def label(event_id: str, fraud: bool, *, labelled_at: datetime | None = None) -> TransactionLabel:
    """A label for ``event_id``."""
    return TransactionLabel(event_id=event_id, entity_id="123-45-6789",
                            label="fraud" if fraud else "legit",
                            labelled_at=labelled_at or datetime.now(UTC))


def varied_decisions(count: int, *, seed: int, start: datetime) -> list[ProcessedTransaction]:
    """``count`` decisions with random outcomes, scores, amounts, currencies, merchants,
    states and latencies, spread over three hours from ``start``."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        outcome = rng.choices(OUTCOMES, weights=(8, 1, 1))[0]
        out.append(decision(
            outcome, score=rng.randrange(0, 1001),
            event_time=start + timedelta(seconds=rng.randrange(0, 3 * 3600)),
            transaction_amt=rng.randrange(5, 2000),
            transaction_currency=rng.choice(("usd", "eur")),
            merchant_id=rng.choice(("m-1", "m-2", "m-3", None)),
            billing_state=rng.choice(("IL", "NY", "CA")),
            fd={"ttdf": rng.randrange(5, 500), "proc_time": rng.randrange(1, 50)}))
    return out
