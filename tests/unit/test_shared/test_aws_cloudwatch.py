"""The consumer-lag datum, checked against CloudWatch's own service model (botocore Stubber)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.stub import ANY, Stubber

from fraudstream_shared.aws.cloudwatch import (
    LAG_METRIC,
    LagPublisher,
    lag_datum,
    seconds_until_slot,
)
from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.exceptions import ConfigError


@pytest.fixture
def cloudwatch() -> Any:
    return botocore.session.Session().create_client(
        "cloudwatch", region_name="eu-west-1",
        aws_access_key_id="testing", aws_secret_access_key="testing")


def _publisher(client: Any, lag: int | Exception | None) -> LagPublisher:
    async def measure() -> int | None:
        if isinstance(lag, Exception):
            raise lag
        return lag

    return LagPublisher(namespace="fraudstream/dev", region="eu-west-1", service="indexer",
                        group="indexer", measure=measure, client=client, offset_s=0.0)


def test_lag_datum_names_service_and_group() -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    datum = lag_datum(service="scorer", group="scorer-eu", lag=1234, at=at)
    assert datum["MetricName"] == LAG_METRIC == "ConsumerLag"
    assert datum["Dimensions"] == [{"Name": "Service", "Value": "scorer"},
                                   {"Name": "ConsumerGroup", "Value": "scorer-eu"}]
    assert (datum["Value"], datum["Unit"], datum["Timestamp"]) == (1234.0, "Count", at)


@pytest.mark.parametrize(("now", "offset", "expected"), [
    (120.0, 7.0, 67.0),     # on a boundary: the next minute's slot, not this one
    (125.0, 7.0, 62.0),     # past this minute's slot already
    (179.5, 0.0, 0.5),
])
def test_each_task_publishes_once_per_minute_at_its_own_second(
        now: float, offset: float, expected: float) -> None:
    assert seconds_until_slot(now, offset) == pytest.approx(expected)


async def test_publish_sends_a_request_the_service_model_accepts(cloudwatch: Any) -> None:
    with Stubber(cloudwatch) as stub:
        stub.add_response("put_metric_data", {}, {
            "Namespace": "fraudstream/dev",
            "MetricData": [{"MetricName": "ConsumerLag",
                            "Dimensions": [{"Name": "Service", "Value": "indexer"},
                                           {"Name": "ConsumerGroup", "Value": "indexer"}],
                            "Timestamp": ANY, "Value": 42.0, "Unit": "Count",
                            "StorageResolution": 60}],
        })
        assert await _publisher(cloudwatch, 42).publish_once() is True
        stub.assert_no_pending_responses()


async def test_throttling_is_logged_and_the_service_goes_on(
        cloudwatch: Any, caplog: pytest.LogCaptureFixture) -> None:
    with Stubber(cloudwatch) as stub:
        stub.add_client_error("put_metric_data", service_error_code="Throttling",
                              http_status_code=400)
        assert await _publisher(cloudwatch, 5).publish_once() is False
    assert "indexer.lag.publish_failed" in caplog.text


async def test_an_unreachable_broker_publishes_nothing(
        cloudwatch: Any, caplog: pytest.LogCaptureFixture) -> None:
    with Stubber(cloudwatch) as stub:  # any call would fail: no response is queued
        assert await _publisher(cloudwatch, ConnectionError("broker down")).publish_once() is False
        stub.assert_no_pending_responses()
    assert "indexer.lag.measure_failed" in caplog.text


async def test_a_worker_without_input_publishes_nothing(cloudwatch: Any) -> None:
    with Stubber(cloudwatch):
        assert await _publisher(cloudwatch, None).publish_once() is False


def test_namespace_without_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDWATCH_NAMESPACE", "fraudstream/dev")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("SERVICE_NAME", "indexer")
    with pytest.raises(ConfigError, match="CLOUDWATCH_NAMESPACE needs AWS_REGION"):
        load_settings(ServiceSettings)


class _LaggingWorker:
    async def consumer_lag(self) -> int | None:
        return 3


def test_the_app_publishes_only_when_a_namespace_is_configured() -> None:
    from fraudstream_shared.http.app import _lag_publisher

    off = ServiceSettings(service_name="indexer")
    on = ServiceSettings(service_name="indexer", cloudwatch_namespace="fraudstream/dev",
                         aws_region="eu-west-1")
    assert _lag_publisher(off, _LaggingWorker()) is None  # type: ignore[arg-type]
    publisher = _lag_publisher(on, _LaggingWorker())  # type: ignore[arg-type]
    assert publisher is not None
    assert (publisher.namespace, publisher.service, publisher.group) == (
        "fraudstream/dev", "indexer", "indexer")
