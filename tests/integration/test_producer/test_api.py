"""The control API of a running producer, through the real app and lifespan."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from fraudstream_shared.http import create_app
from producer.control import add_control_routes
from producer.settings import ProducerSettings
from producer.worker import ProducerWorker
from tests.conftest import unique_name

pytestmark = pytest.mark.integration


Status = dict[str, Any]


def _wait_for(client: TestClient, condition: str, check: Callable[[Status], bool],
              timeout: float = 30) -> Status:
    """Poll ``/status`` until ``check(status)`` holds; fail naming ``condition``."""
    deadline = time.monotonic() + timeout
    while True:
        status: Status = client.get("/status").json()
        if check(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}; last status {status}")
        time.sleep(0.1)


@pytest.fixture
def client(kafka_bootstrap: str) -> Iterator[TestClient]:
    settings = ProducerSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        transactions_topic=unique_name("papi-tx"),
        labels_topic=unique_name("papi-labels"),
        kafka_topic_partitions=1,
        producer_autostart=False,
        producer_customers=100,
        producer_merchants=200,
        label_delay_s=0.5,
    )
    worker = ProducerWorker(settings)
    app = create_app(settings, worker, extra_routes=lambda a: add_control_routes(
        a, lambda: worker.control))
    with TestClient(app) as test_client:
        yield test_client
    admin_topics = [settings.transactions_topic, settings.labels_topic]
    _delete_topics(kafka_bootstrap, admin_topics)


def _delete_topics(bootstrap: str, names: list[str]) -> None:
    import asyncio

    from fraudstream_shared.kafka import create_admin

    async def delete() -> None:
        admin = create_admin(ProducerSettings(kafka_bootstrap_servers=bootstrap))
        await admin.start()
        try:
            await admin.delete_topics(names)
        finally:
            await admin.close()

    asyncio.run(delete())


def test_start_rate_stop_and_status(client: TestClient) -> None:
    status = client.get("/status").json()
    assert (status["running"], status["produced"], status["mode"]) == (False, 0, "simulate")
    assert client.get("/readyz").status_code == 200

    assert client.put("/rate", json={"rate_per_s": 100}).status_code == 200
    assert client.put("/rate", json={"rate_per_s": -1}).status_code == 422
    assert client.post("/start").json()["running"] is True
    _wait_for(client, "30 transactions", lambda s: s["produced"] >= 30)
    stopped = client.post("/stop").json()
    assert stopped["running"] is False
    final = _wait_for(client, "all labels published",
                      lambda s: s["labels_published"] == s["produced"] and s["labels_pending"] == 0)
    assert final["produced"] >= 30
    assert final["rate_per_s"] == 100
    metrics = client.get("/metrics/").text
    assert 'fraudstream_messages_produced_total{service="producer"' in metrics
