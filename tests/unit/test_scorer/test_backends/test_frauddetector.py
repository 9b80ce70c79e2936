"""Fraud Detector: the request against botocore's model, parsing, retries, breaker, fallback."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber

from fraudstream_shared.events import Outcome
from scorer.backends import (
    CircuitBreaker,
    CircuitState,
    FixedOutcomeBackend,
    FraudDetectorBackend,
    ScoringBackend,
    fraud_detector_request,
)
from scorer.backends.frauddetector import parse_prediction
from tests.unit.test_scorer.test_backends.support import (
    Clock,
    CountingCall,
    ModelBackend,
    Sleeps,
    async_call,
    botocore_client,
    item,
    settings,
    transaction,
)

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/57.0.2987.133 Safari/537.36")

PREDICTION: dict[str, Any] = {
    "modelScores": [
        {"modelVersion": {"modelId": "transaction_fraud_insights",
                          "modelType": "TRANSACTION_FRAUD_INSIGHTS", "modelVersionNumber": "1.0"},
         "scores": {"transaction_fraud_insights_insightscore": 912.4}},
        {"modelVersion": {"modelId": "online_fraud", "modelType": "ONLINE_FRAUD_INSIGHTS",
                          "modelVersionNumber": "2.1"},
         "scores": {"online_fraud_insightscore": 1200.0, "online_fraud_other": -3.0}},
    ],
    "ruleResults": [
        {"ruleId": "high_fraud_risk", "outcomes": ["BLOCK"]},
        {"ruleId": "medium_fraud_risk", "outcomes": ["review", "verify_customer"]},
        {"ruleId": "low_fraud_risk", "outcomes": ["approve"]},
        {"ruleId": "no_match", "outcomes": []},
    ],
}
APPROVED: dict[str, Any] = {"modelScores": [], "ruleResults": [
    {"ruleId": "low_fraud_risk", "outcomes": ["approve"]}]}


def _throttled(stubber: Stubber, params: dict[str, Any], times: int) -> None:
    for _ in range(times):
        stubber.add_client_error("get_event_prediction", "ThrottlingException", "slow down",
                                 http_status_code=429, expected_params=params)


def _backend(stubber_client: Any, fallback: ScoringBackend | None = None,
             call: Any = None, **values: Any) -> tuple[FraudDetectorBackend, Sleeps]:
    sleeps = Sleeps()
    backend = FraudDetectorBackend(
        settings(**values), fallback or FixedOutcomeBackend(),
        call=call or async_call(stubber_client.get_event_prediction), sleep=sleeps)
    return backend, sleeps


# ----------------------------------------------------------------------------- request shape


def test_request_is_the_originals_and_passes_the_service_model() -> None:
    tx = transaction()
    params = fraud_detector_request(tx, settings())
    assert params == {
        "detectorId": "transaction_fraud_detector",
        "eventId": tx.event_id,
        "eventTypeName": "transaction_event",
        "entities": [{"entityType": "customer", "entityId": "123-45-6789"}],
        "eventTimestamp": "2026-11-25T14:03:07Z",
        "eventVariables": {
            "order_price": "1234",
            "customer_email": "jessica@example.com",
            "payment_currency": "usd",
            "ip_address": "203.0.113.7",
            "billing_longitude": "-89.65",
            "billing_latitude": "39.78",
            "billing_state": "IL",
            "billing_street": "123 Main St",
            "billing_city": "Springfield",
            "billing_zip": "6270",
            "user_agent": USER_AGENT,
            "card_bin": "411111",
            "customer_name": "Jessica",
            "product_category": "shopping_net",
            "customer_job": "Engineer, biomedical",
            "phone": "(217) 555-0199",
        },
    }
    client = botocore_client("frauddetector")
    with Stubber(client) as stubber:
        stubber.add_response("get_event_prediction", PREDICTION, expected_params=params)
        # botocore validates the parameters against the frauddetector model first.
        client.get_event_prediction(**params)
        stubber.assert_no_pending_responses()


def test_the_service_model_would_reject_a_wrong_request() -> None:
    params = fraud_detector_request(transaction(), settings())
    params["eventVariables"]["order_price"] = 1234  # not a string
    client = botocore_client("frauddetector")
    with Stubber(client) as stubber:
        stubber.add_response("get_event_prediction", PREDICTION)
        with pytest.raises(ParamValidationError):
            client.get_event_prediction(**params)


def test_version_fraction_and_absent_values() -> None:
    tx = transaction(transaction_amt=10.5, phone=None, customer_job=None,
                     event_time="2026-11-25T15:03:07+01:00")
    params = fraud_detector_request(tx, settings(frauddetector_detector_version="3",
                                                 frauddetector_entity_type="account"))
    assert params["detectorVersionId"] == "3"
    assert params["entities"][0]["entityType"] == "account"
    assert params["eventTimestamp"] == "2026-11-25T14:03:07Z"
    assert params["eventVariables"]["order_price"] == "10.5"
    assert "phone" not in params["eventVariables"]
    assert "customer_job" not in params["eventVariables"]


# ----------------------------------------------------------------------------- parsing


def test_every_model_score_and_rule_result_is_kept() -> None:
    result = parse_prediction(PREDICTION, detector="d:active", aliases={})
    assert result.model_scores == {"transaction_fraud_insights_insightscore": 912,
                                   "online_fraud_insightscore": 1000, "online_fraud_other": 0}
    assert result.rule_results == {
        "high_fraud_risk": [Outcome.BLOCK],
        "medium_fraud_risk": [Outcome.REVIEW, Outcome.REVIEW],
        "low_fraud_risk": [Outcome.APPROVE],
        "no_match": [],
    }
    assert result.outcome is Outcome.BLOCK
    assert result.model_version == "transaction_fraud_insights/1.0,online_fraud/2.1"
    assert result.detector_version == "d:active"
    assert any("'verify_customer'" in r and "review" in r for r in result.reasons)
    assert result.fallback is False


def test_aliases_map_custom_outcomes_and_no_outcome_means_approve() -> None:
    aliased = parse_prediction({"ruleResults": [{"ruleId": "r", "outcomes": ["Deny"]}]},
                               detector="d", aliases={"deny": Outcome.BLOCK})
    assert aliased.outcome is Outcome.BLOCK
    assert not any("not approve/review/block" in r for r in aliased.reasons)
    empty = parse_prediction({"modelScores": [], "ruleResults": []}, detector="d", aliases={})
    assert (empty.outcome, empty.rule_results, empty.model_version) == (Outcome.APPROVE, {},
                                                                        "none")


async def test_backend_parses_the_stubbed_answer() -> None:
    client = botocore_client("frauddetector")
    tx_item = item()
    backend, _ = _backend(client, frauddetector_detector_version="7")
    assert isinstance(backend, ScoringBackend)
    with Stubber(client) as stubber:
        params = fraud_detector_request(tx_item.transaction, backend.settings)
        stubber.add_response("get_event_prediction", PREDICTION, expected_params=params)
        [result] = await backend.score_batch([tx_item])
        stubber.assert_no_pending_responses()
    assert result.outcome is Outcome.BLOCK
    assert result.detector_version == "transaction_fraud_detector:7"
    assert len(result.rule_results) == 4


# ----------------------------------------------------------------------------- retries


async def test_throttling_is_retried_with_full_jitter_then_succeeds() -> None:
    client = botocore_client("frauddetector")
    tx_item = item()
    backend, sleeps = _backend(client, backend_max_attempts=3, backend_retry_base_s=0.1,
                               backend_retry_cap_s=0.15)
    params = fraud_detector_request(tx_item.transaction, backend.settings)
    with Stubber(client) as stubber:
        _throttled(stubber, params, 2)
        stubber.add_response("get_event_prediction", APPROVED, expected_params=params)
        [result] = await backend.score_batch([tx_item])
        stubber.assert_no_pending_responses()
    assert result.fallback is False
    assert result.outcome is Outcome.APPROVE
    assert len(sleeps.delays) == 2
    assert 0 <= sleeps.delays[0] <= 0.1
    assert 0 <= sleeps.delays[1] <= 0.15  # 0.2 capped


async def test_throttling_until_exhausted_falls_back_to_the_fixed_outcome() -> None:
    client = botocore_client("frauddetector")
    tx_item = item()
    backend, sleeps = _backend(client, FixedOutcomeBackend(Outcome.REVIEW),
                               backend_max_attempts=3)
    with Stubber(client) as stubber:
        _throttled(stubber, fraud_detector_request(tx_item.transaction, backend.settings), 3)
        [result] = await backend.score_batch([tx_item])
        stubber.assert_no_pending_responses()
    assert result.fallback is True
    assert result.outcome is Outcome.REVIEW
    assert result.reasons[0] == ("frauddetector ThrottlingException after 3 attempts; "
                                 "scored by the fixed fallback")
    assert len(sleeps.delays) == 2


async def test_exhausted_items_go_to_the_model_fallback_and_the_rest_keep_their_answer() -> None:
    client = botocore_client("frauddetector")
    ok, throttled = item(), item()
    model = ModelBackend()
    backend, _ = _backend(client, model, backend_max_attempts=2)
    with Stubber(client) as stubber:
        stubber.add_response("get_event_prediction", APPROVED,
                             expected_params=fraud_detector_request(ok.transaction,
                                                                    backend.settings))
        _throttled(stubber, fraud_detector_request(throttled.transaction, backend.settings), 2)
        results = await backend.score_batch([ok, throttled])
        stubber.assert_no_pending_responses()
    assert [r.fallback for r in results] == [False, True]
    assert model.batches == [[throttled.transaction.event_id]]
    assert results[1].model_scores == {"embedded": 321}
    assert results[1].reasons == ["frauddetector ThrottlingException after 2 attempts; "
                                  "scored by the embedded fallback", "embedded model"]


async def test_validation_errors_are_not_retried_and_do_not_trip_the_breaker() -> None:
    client = botocore_client("frauddetector")
    tx_item = item()
    backend, sleeps = _backend(client, backend_breaker_failures=1)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_event_prediction", "ValidationException", "bad variable",
                                 http_status_code=400)
        [result] = await backend.score_batch([tx_item])
        stubber.assert_no_pending_responses()
    assert result.fallback is True
    assert result.reasons[0].startswith("frauddetector rejected the request: ValidationException")
    assert sleeps.delays == []
    assert backend.breaker.state is CircuitState.CLOSED


async def test_a_missing_detector_is_not_retried_but_counts_against_the_breaker() -> None:
    client = botocore_client("frauddetector")
    backend, sleeps = _backend(client, backend_breaker_failures=5)
    with Stubber(client) as stubber:
        stubber.add_client_error("get_event_prediction", "ResourceNotFoundException",
                                 "no such detector", http_status_code=404)
        [result] = await backend.score_batch([item()])
        stubber.assert_no_pending_responses()
    assert result.fallback is True
    assert sleeps.delays == []
    assert backend.breaker.consecutive_failures == 1


async def test_a_call_that_times_out_is_retried() -> None:
    client = botocore_client("frauddetector")
    tx_item = item()
    call = CountingCall(async_call(client.get_event_prediction), hang=1)
    backend, _ = _backend(client, call=call, backend_timeout_s=0.05)
    with Stubber(client) as stubber:
        stubber.add_response("get_event_prediction", APPROVED)
        [result] = await backend.score_batch([tx_item])
    assert (call.attempts, result.fallback) == (2, False)


async def test_calls_that_always_time_out_end_in_the_fallback() -> None:
    client = botocore_client("frauddetector")
    call = CountingCall(async_call(client.get_event_prediction), hang=2)
    backend, _ = _backend(client, call=call, backend_timeout_s=0.05, backend_max_attempts=2)
    [result] = await backend.score_batch([item()])
    assert call.attempts == 2
    assert result.fallback is True
    assert result.reasons[0].startswith("frauddetector TimeoutError after 2 attempts")


# ----------------------------------------------------------------------------- breaker


async def test_the_breaker_opens_and_short_circuits_without_calling() -> None:
    client = botocore_client("frauddetector")
    clock = Clock()
    call = CountingCall(async_call(client.get_event_prediction))
    backend = FraudDetectorBackend(
        settings(backend_max_attempts=1), FixedOutcomeBackend(), call=call,
        breaker=CircuitBreaker(failure_threshold=2, reset_after_s=30, clock=clock), sleep=Sleeps())
    with Stubber(client) as stubber:
        for _ in range(2):
            stubber.add_client_error("get_event_prediction", "ThrottlingException",
                                     http_status_code=429)
        results = await backend.score_batch([item(), item(), item()])
        stubber.assert_no_pending_responses()
    assert call.attempts == 2  # the third transaction never reached the service
    assert all(r.fallback for r in results)
    assert results[2].reasons[0].startswith("frauddetector circuit open")
    # Readiness reports the open circuit.
    assert await backend.check() == "frauddetector circuit open; fixed fallback in use"

    # After the cool-down one trial call goes out; its success closes the circuit.
    clock.now += 30
    with Stubber(client) as stubber:
        stubber.add_response("get_event_prediction", APPROVED)
        [recovered] = await backend.score_batch([item()])
    assert recovered.fallback is False
    assert backend.breaker.state is CircuitState.CLOSED
    assert await backend.check() is None


async def test_a_failed_trial_reopens_the_circuit() -> None:
    client = botocore_client("frauddetector")
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    backend = FraudDetectorBackend(settings(backend_max_attempts=3), FixedOutcomeBackend(),
                                   call=async_call(client.get_event_prediction),
                                   breaker=breaker, sleep=Sleeps())
    with Stubber(client) as stubber:
        stubber.add_client_error("get_event_prediction", "InternalServerException",
                                 http_status_code=500)
        await backend.score_batch([item()])  # opens on the first failure, no more attempts
        clock.now += 10
        stubber.add_client_error("get_event_prediction", "InternalServerException",
                                 http_status_code=500)
        [result] = await backend.score_batch([item()])
        stubber.assert_no_pending_responses()
    assert result.fallback is True
    assert breaker.state is CircuitState.OPEN


# ----------------------------------------------------------------------------- lifecycle


async def test_start_and_close_carry_the_fallback() -> None:
    model = ModelBackend()
    backend = FraudDetectorBackend(settings(), model)
    assert await backend.check() == "frauddetector client not created"
    with pytest.raises(RuntimeError, match="not started"):
        await backend.invoke({})
    backend_with_call = FraudDetectorBackend(
        settings(), model, call=async_call(botocore_client("frauddetector").get_event_prediction))
    await backend_with_call.start()
    assert model.started
    assert await backend_with_call.check() is None
    await backend_with_call.close()
    assert model.closed
