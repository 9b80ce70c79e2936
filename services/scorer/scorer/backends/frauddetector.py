"""Amazon Fraud Detector as a backend: ``GetEventPrediction``, one call per transaction.

The request is the original sample's (detector ``transaction_fraud_detector``,
event type ``transaction_event``, entity type ``customer``, its variable
mapping, all values strings). Unlike the original, which kept only
``ruleResults[0].outcomes[0]``, every model score and every rule result is
kept, and the decision is the most severe outcome among them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fraudstream_shared.events import Outcome, Transaction
from scorer.backends.base import BackendInput, BackendResult, clamp_score, most_severe
from scorer.backends.resilience import CallFailed, RemoteBackend
from scorer.backends.settings import BackendSettings

EVENT_VARIABLES: tuple[tuple[str, str], ...] = (
    ("order_price", "transaction_amt"),
    ("customer_email", "email_address"),
    ("payment_currency", "transaction_currency"),
    ("ip_address", "ip_address"),
    ("billing_longitude", "billing_longitude"),
    ("billing_latitude", "billing_latitude"),
    ("billing_state", "billing_state"),
    ("billing_street", "billing_street"),
    ("billing_city", "billing_city"),
    ("billing_zip", "billing_zip"),
    ("user_agent", "user_agent"),
    ("card_bin", "card_bin"),
    ("customer_name", "customer_name"),
    ("product_category", "product_category"),
    ("customer_job", "customer_job"),
    ("phone", "phone"),
)
"""Detector variable ← transaction field, exactly the original Flink job's mapping."""

KNOWN_OUTCOMES = {outcome.value: outcome for outcome in Outcome}


def event_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` in UTC, whole seconds (as the original sent it)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def variable_text(value: object) -> str:
    """A variable's value as Fraud Detector wants it: text.

    Whole amounts stay ``"1234"`` as the original's integer amounts did, not
    ``"1234.0"``.
    """
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def event_variables(tx: Transaction) -> dict[str, str]:
    """The detector's variables for ``tx``; absent (None or empty) values are omitted.

    Fraud Detector then uses the variable's default value, and an empty string
    would be rejected (values need at least one character).
    """
    variables = {}
    for variable, field_name in EVENT_VARIABLES:
        value = getattr(tx, field_name)
        if value is None:
            continue
        text = variable_text(value)
        if text:
            variables[variable] = text
    return variables


def fraud_detector_request(tx: Transaction, settings: BackendSettings) -> dict[str, Any]:
    """The ``GetEventPrediction`` parameters for ``tx``."""
    request: dict[str, Any] = {
        "detectorId": settings.frauddetector_detector_id,
        "eventId": tx.event_id,
        "eventTypeName": settings.frauddetector_event_type,
        "entities": [{"entityType": settings.frauddetector_entity_type,
                      "entityId": tx.entity_id}],
        "eventTimestamp": event_timestamp(tx.event_time),
        "eventVariables": event_variables(tx),
    }
    if settings.frauddetector_detector_version:
        request["detectorVersionId"] = settings.frauddetector_detector_version
    return request


def map_outcome(name: str, aliases: Mapping[str, Outcome]) -> Outcome | None:
    """Our outcome for a detector outcome name, or ``None`` when it is unknown."""
    key = name.strip().lower()
    return KNOWN_OUTCOMES.get(key) or aliases.get(key)


def detector_version(settings: BackendSettings) -> str:
    """``<detector>:<version>``; ``active`` when no version is configured."""
    version = settings.frauddetector_detector_version or "active"
    return f"{settings.frauddetector_detector_id}:{version}"


def parse_prediction(
    response: Mapping[str, Any], *, detector: str, aliases: Mapping[str, Outcome],
) -> BackendResult:
    """Turn a ``GetEventPrediction`` response into a result, keeping everything.

    Scores are rounded and kept within 0–1000; every rule result is kept with
    its outcomes mapped onto approve/review/block (unknown names → review, with
    a reason); the outcome is the most severe one returned (approve if none).
    """
    model_scores: dict[str, int] = {}
    versions: list[str] = []
    for entry in response.get("modelScores") or []:
        version = entry.get("modelVersion") or {}
        if version:
            versions.append(f"{version.get('modelId')}/{version.get('modelVersionNumber')}")
        for score_name, value in (entry.get("scores") or {}).items():
            model_scores[str(score_name)] = clamp_score(float(value))

    rule_results: dict[str, list[Outcome]] = {}
    reasons: list[str] = []
    for entry in response.get("ruleResults") or []:
        rule_id = str(entry.get("ruleId") or "unnamed_rule")
        outcomes = rule_results.setdefault(rule_id, [])
        for name in entry.get("outcomes") or []:
            outcome = map_outcome(str(name), aliases)
            if outcome is None:
                outcome = Outcome.REVIEW
                reasons.append(f"frauddetector outcome {name!r} of rule {rule_id} is not "
                               "approve/review/block: treated as review")
            outcomes.append(outcome)
        if outcomes:
            reasons.append(f"frauddetector rule {rule_id}: {', '.join(outcomes)}")

    every_outcome = [o for outcomes in rule_results.values() for o in outcomes]
    return BackendResult(
        model_scores=model_scores,
        rule_results=rule_results,
        outcome=most_severe(every_outcome),
        model_version=",".join(versions) or "none",
        detector_version=detector,
        reasons=reasons,
    )


class FraudDetectorBackend(RemoteBackend):
    """Scores each transaction with ``GetEventPrediction``, calls running concurrently.

    Up to ``backend_concurrency`` calls are in flight; each is guarded by the
    timeout, retry and circuit-breaker policy, and the transactions whose call
    failed are scored by the fallback (``fallback=True`` with the reason).
    """

    name = "frauddetector"
    service = "frauddetector"
    operation = "get_event_prediction"

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        """One result per item, in order."""
        answers = await asyncio.gather(*(self._score_one(item) for item in items))
        return await self.with_fallback(items, answers)

    async def _score_one(self, item: BackendInput) -> BackendResult | CallFailed:
        params = fraud_detector_request(item.transaction, self.settings)
        response = await self.limited(lambda: self.invoke(params))
        if isinstance(response, CallFailed):
            return response
        return parse_prediction(response, detector=detector_version(self.settings),
                                aliases=self.settings.frauddetector_outcome_aliases)
