"""Backend settings, the choice of backend, error classification and the backoff."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from pydantic import ValidationError

from fraudstream_shared.events import Outcome
from scorer.backends import (
    BackendSettings,
    FixedOutcomeBackend,
    FraudDetectorBackend,
    RetryPolicy,
    SageMakerBackend,
    build_backend,
)
from scorer.backends.resilience import BackendResponseError, ErrorKind, classify
from tests.unit.test_scorer.test_backends.support import ModelBackend


def test_defaults_are_the_originals() -> None:
    s = BackendSettings()
    assert (s.scorer_backend, s.backend_fallback, s.backend_fallback_outcome) == (
        "embedded", "embedded", Outcome.REVIEW)
    assert (s.frauddetector_detector_id, s.frauddetector_event_type,
            s.frauddetector_entity_type, s.frauddetector_detector_version) == (
        "transaction_fraud_detector", "transaction_event", "customer", None)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scorer_backend": "sagemaker"}, "SAGEMAKER_ENDPOINT_NAME"),
        ({"sagemaker_calibration": [(0.5, 1), (0.2, 2)]}, "strictly increasing"),
        ({"backend_retry_base_s": 3, "backend_retry_cap_s": 1}, "BACKEND_RETRY_CAP_S"),
        ({"frauddetector_detector_version": "v1"}, "pattern"),
    ],
)
def test_inconsistent_settings_are_rejected(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BackendSettings.model_validate(values)


def test_fields_are_picked_from_the_scorers_settings_by_name() -> None:
    scorer = SimpleNamespace(scorer_backend="frauddetector", backend_max_attempts=5,
                             kafka_bootstrap_servers="ignored")
    s = BackendSettings.from_fields(scorer)
    assert (s.scorer_backend, s.backend_max_attempts) == ("frauddetector", 5)


def test_build_backend_wires_the_configured_fallback() -> None:
    model = ModelBackend()
    assert build_backend(BackendSettings(), model) is model
    fd = build_backend(BackendSettings(scorer_backend="frauddetector"), model)
    assert isinstance(fd, FraudDetectorBackend)
    assert fd.fallback is model
    sm = build_backend(BackendSettings(scorer_backend="sagemaker", sagemaker_endpoint_name="e",
                                       backend_fallback="fixed",
                                       backend_fallback_outcome=Outcome.APPROVE), model)
    assert isinstance(sm, SageMakerBackend)
    assert isinstance(sm.fallback, FixedOutcomeBackend)
    assert sm.fallback.outcome is Outcome.APPROVE


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_client_error("ThrottlingException", 429), ErrorKind.TRANSIENT),
        (_client_error("TooManyRequestsException", 400), ErrorKind.TRANSIENT),
        (_client_error("SomethingNew", 502), ErrorKind.TRANSIENT),
        (_client_error("ValidationException", 400), ErrorKind.REQUEST),
        (_client_error("ResourceNotFoundException", 404), ErrorKind.SERVICE),
        (_client_error("AccessDeniedException", 403), ErrorKind.SERVICE),
        (EndpointConnectionError(endpoint_url="https://x"), ErrorKind.TRANSIENT),
        (ReadTimeoutError(endpoint_url="https://x"), ErrorKind.TRANSIENT),
        (TimeoutError(), ErrorKind.TRANSIENT),
        (BackendResponseError("2 values for 3 rows"), ErrorKind.SERVICE),
        (KeyError("bug"), None),
    ],
)
def test_error_classification(error: BaseException, kind: ErrorKind | None) -> None:
    assert classify(error) is kind


def test_backoff_is_full_jitter_under_a_growing_cap() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.1, cap_s=0.5)
    rng = random.Random(7)
    for retry, ceiling in enumerate((0.1, 0.2, 0.4, 0.5, 0.5)):
        delays = [policy.delay(retry, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling * 0.1  # spread down to ~0, not only the upper half
