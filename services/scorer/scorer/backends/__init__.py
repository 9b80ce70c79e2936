"""Pluggable scoring backends: the embedded model, Amazon Fraud Detector, SageMaker.

:func:`build_backend` picks the one ``SCORER_BACKEND`` names; the remote ones
are wrapped in timeouts, jittered retries and a circuit breaker, and fall back
to the embedded model or to a fixed outcome.
"""

from __future__ import annotations

from scorer.backends.base import (
    BackendInput,
    BackendResult,
    FixedOutcomeBackend,
    ScoringBackend,
    most_severe,
)
from scorer.backends.circuit import CircuitBreaker, CircuitState
from scorer.backends.frauddetector import FraudDetectorBackend, fraud_detector_request
from scorer.backends.resilience import CallFailed, RetryPolicy
from scorer.backends.sagemaker import SageMakerBackend, invoke_endpoint_request
from scorer.backends.settings import BackendSettings


def build_backend(settings: BackendSettings, embedded: ScoringBackend) -> ScoringBackend:
    """The backend ``settings.scorer_backend`` names, with its configured fallback.

    ``embedded`` is the scorer's own model backend: the default backend, and
    the fallback of the remote ones unless a fixed outcome is configured.
    """
    if settings.scorer_backend == "embedded":
        return embedded
    fallback: ScoringBackend = (
        embedded if settings.backend_fallback == "embedded"
        else FixedOutcomeBackend(settings.backend_fallback_outcome))
    if settings.scorer_backend == "frauddetector":
        return FraudDetectorBackend(settings, fallback)
    return SageMakerBackend(settings, fallback)


__all__ = [
    "BackendInput",
    "BackendResult",
    "BackendSettings",
    "CallFailed",
    "CircuitBreaker",
    "CircuitState",
    "FixedOutcomeBackend",
    "FraudDetectorBackend",
    "RetryPolicy",
    "SageMakerBackend",
    "ScoringBackend",
    "build_backend",
    "fraud_detector_request",
    "invoke_endpoint_request",
    "most_severe",
]
