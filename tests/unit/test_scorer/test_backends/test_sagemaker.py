"""SageMaker: the CSV body against botocore's model, parsing, chunks, errors, and moto."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from fraudstream_shared.events import Outcome
from scorer.backends import (
    BackendInput,
    FixedOutcomeBackend,
    SageMakerBackend,
    invoke_endpoint_request,
)
from scorer.backends.resilience import BackendResponseError
from scorer.backends.sagemaker import csv_rows, parse_probabilities, to_score
from tests.support.moto import moto_server, use_fake_credentials
from tests.unit.test_scorer.test_backends.support import (
    ModelBackend,
    Sleeps,
    async_call,
    botocore_client,
    settings,
    transaction,
)

NAMES = ("amount", "hour", "tx_count_1h")


def _rows(*vectors: tuple[float, ...]) -> list[BackendInput]:
    return [BackendInput(transaction(), vector, NAMES) for vector in vectors]


def _answer(text: str, variant: str = "blue") -> dict[str, Any]:
    data = text.encode()
    return {"Body": StreamingBody(io.BytesIO(data), len(data)), "ContentType": "text/csv",
            "InvokedProductionVariant": variant}


def _backend(client: Any, fallback: Any = None, **values: Any) -> tuple[SageMakerBackend, Sleeps]:
    sleeps = Sleeps()
    backend = SageMakerBackend(
        settings(**({"scorer_backend": "sagemaker", "sagemaker_endpoint_name": "fraud-xgb"}
                    | values)),
        fallback or FixedOutcomeBackend(), call=async_call(client.invoke_endpoint), sleep=sleeps)
    return backend, sleeps


# ----------------------------------------------------------------------------- request shape


def test_rows_are_xgboost_csv_without_header_and_missing_as_empty() -> None:
    body = csv_rows(_rows((12.5, math.nan, 3.0), (0.1, 23.0, math.inf)))
    assert body == b"12.5,,3.0\n0.1,23.0,"


def test_rows_of_one_request_share_their_feature_names() -> None:
    mixed = [BackendInput(transaction(), (1.0,), ("a",)), BackendInput(transaction(), (1.0,),
                                                                       ("b",))]
    with pytest.raises(ValueError, match="same feature names"):
        csv_rows(mixed)


async def test_request_passes_the_service_model_and_the_answer_becomes_scores() -> None:
    client = botocore_client("sagemaker-runtime")
    backend, _ = _backend(client, sagemaker_target_variant="blue", sagemaker_model_name="xgb")
    rows = _rows((12.5, math.nan, 3.0), (990.0, 3.0, 7.0))
    params = invoke_endpoint_request(rows, backend.settings)
    assert params == {"EndpointName": "fraud-xgb", "Body": b"12.5,,3.0\n990.0,3.0,7.0",
                      "ContentType": "text/csv", "Accept": "text/csv", "TargetVariant": "blue"}
    with Stubber(client) as stubber:
        stubber.add_response("invoke_endpoint", _answer("0.0123\n0.9876\n"),
                             expected_params=params)
        results = await backend.score_batch(rows)
        stubber.assert_no_pending_responses()
    assert [r.model_scores for r in results] == [{"xgb": 12}, {"xgb": 988}]
    assert all(r.outcome is None and r.rule_results == {} and not r.fallback for r in results)
    assert results[0].model_version == "fraud-xgb/blue"
    assert results[0].detector_version == "sagemaker:fraud-xgb"


async def test_a_batch_is_split_into_requests_of_max_rows() -> None:
    client = botocore_client("sagemaker-runtime")
    backend, _ = _backend(client, sagemaker_max_rows=2)
    rows = _rows((0.0,) * 3, (1.0,) * 3, (2.0,) * 3, (3.0,) * 3, (4.0,) * 3)
    with Stubber(client) as stubber:
        for chunk, answer in ((rows[0:2], "0.1\n0.2"), (rows[2:4], "0.3\n0.4"),
                              (rows[4:], "0.5")):
            stubber.add_response("invoke_endpoint", _answer(answer),
                                 expected_params=invoke_endpoint_request(chunk, backend.settings))
        results = await backend.score_batch(rows)
        stubber.assert_no_pending_responses()
    assert [r.model_scores["sagemaker"] for r in results] == [100, 200, 300, 400, 500]


# ----------------------------------------------------------------------------- answers


@pytest.mark.parametrize(
    ("body", "rows", "expected"),
    [
        (b"0.1\n0.9\n", 2, [0.1, 0.9]),
        (b"0.1,0.9", 2, [0.1, 0.9]),  # older XGBoost containers: one line
        (b"0.8,0.2\n0.3,0.7", 2, [0.2, 0.7]),  # class probabilities: the positive class
        (b"0.5", 1, [0.5]),
    ],
)
def test_probabilities_are_read_in_every_container_layout(body: bytes, rows: int,
                                                          expected: list[float]) -> None:
    assert parse_probabilities(body, rows) == expected


@pytest.mark.parametrize("body", [b"0.1", b"0.1\nabc", b"0.1\n1.5", b"\xff\xfe"])
def test_unusable_answers_are_rejected(body: bytes) -> None:
    with pytest.raises(BackendResponseError):
        parse_probabilities(body, 2)


def test_scores_are_probability_times_1000_or_the_calibration() -> None:
    assert [to_score(p) for p in (0.0, 0.0004, 0.5, 1.0)] == [0, 0, 500, 1000]
    calibration = [(0.0, 0.0), (0.1, 800.0), (1.0, 1000.0)]
    assert [to_score(p, calibration) for p in (0.0, 0.05, 0.1, 0.55, 1.0)] == [
        0, 400, 800, 900, 1000]


async def test_unavailable_endpoint_is_retried_then_falls_back_per_request() -> None:
    client = botocore_client("sagemaker-runtime")
    model = ModelBackend()
    backend, sleeps = _backend(client, model, backend_max_attempts=2)
    rows = _rows((1.0, 2.0, 3.0), (4.0, 5.0, 6.0))
    with Stubber(client) as stubber:
        for _ in range(2):
            stubber.add_client_error("invoke_endpoint", "ServiceUnavailable",
                                     http_status_code=503)
        results = await backend.score_batch(rows)
        stubber.assert_no_pending_responses()
    assert len(sleeps.delays) == 1
    assert model.batches == [[r.transaction.event_id for r in rows]]
    assert all(r.fallback and r.model_scores == {"embedded": 321} for r in results)
    assert results[0].reasons[0] == ("sagemaker ServiceUnavailable after 2 attempts; "
                                     "scored by the embedded fallback")


@pytest.mark.parametrize(
    ("error", "answer", "reason"),
    [
        ("ModelError", None, "sagemaker error ModelError"),
        ("ValidationError", None, "sagemaker rejected the request: ValidationError"),
        (None, "0.1\n0.2\n0.3", "sagemaker error BackendResponseError"),
    ],
)
async def test_model_and_answer_errors_are_not_retried(error: str | None, answer: str | None,
                                                       reason: str) -> None:
    client = botocore_client("sagemaker-runtime")
    backend, sleeps = _backend(client, FixedOutcomeBackend(Outcome.BLOCK))
    with Stubber(client) as stubber:
        if error:
            stubber.add_client_error("invoke_endpoint", error, http_status_code=424)
        else:
            stubber.add_response("invoke_endpoint", _answer(answer or ""))
        results = await backend.score_batch(_rows((1.0,) * 3, (2.0,) * 3))
        stubber.assert_no_pending_responses()
    assert sleeps.delays == []
    assert all(r.fallback and r.outcome is Outcome.BLOCK for r in results)
    assert results[0].reasons[0].startswith(reason)


# ----------------------------------------------------------------------------- moto


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_fake_credentials(monkeypatch)
    with moto_server() as endpoint:
        yield endpoint


async def test_invoke_endpoint_through_aioboto3_on_moto(moto_endpoint: str) -> None:
    # moto answers InvokeEndpoint from a queue of canned results (it runs no model).
    async with httpx.AsyncClient() as http:
        queued = await http.post(f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results",
                                 json={"results": [{
                                     "Body": "0.25\n0.75", "ContentType": "text/csv",
                                     "InvokedProductionVariant": "green",
                                     "CustomAttributes": ""}]})
        queued.raise_for_status()
    backend = SageMakerBackend(
        settings(scorer_backend="sagemaker", sagemaker_endpoint_name="fraud-xgb-moto",
                 aws_endpoint_url=moto_endpoint), FixedOutcomeBackend())
    assert await backend.check() == "sagemaker client not created"
    await backend.start()
    try:
        assert await backend.check() is None
        results = await backend.score_batch(_rows((1.0, 2.0, 3.0), (4.0, math.nan, 6.0)))
    finally:
        await backend.close()
    assert [r.model_scores for r in results] == [{"sagemaker": 250}, {"sagemaker": 750}]
    assert results[0].model_version == "fraud-xgb-moto/green"
    assert not any(r.fallback for r in results)
