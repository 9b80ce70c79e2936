"""The scorer follows the labels topic from its beginning (merchant risk needs every label)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from fraudstream_shared.events import TransactionLabel, encode, encode_key
from tests.conftest import TopicFactory, unique_token
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

pytestmark = pytest.mark.e2e


def _labels(count: int) -> list[TransactionLabel]:
    now = datetime.now(UTC)
    return [TransactionLabel(event_id=str(uuid.uuid4()), entity_id=f"c{i % 7}",
                             label="fraud" if i % 3 == 0 else "legit", labelled_at=now,
                             merchant_id=f"m{i % 5}")
            for i in range(count)]


async def test_labels_published_before_and_after_start_are_all_followed(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    labels_topic = await topic_factory("labels", partitions=3)
    transactions = await topic_factory("labels-tx", partitions=1)
    decisions = await topic_factory("labels-decisions", partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    run = unique_token()
    scorer = ServiceProcess("scorer", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": transactions,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": labels_topic,
        "KAFKA_CONSUMER_GROUP": f"scorer-labels-{run}", "KAFKA_TOPIC_PARTITIONS": "1",
    }, tmp_path)
    try:
        before, after = _labels(40), _labels(25)
        for label in before:
            await producer.send_and_wait(labels_topic, encode(label),
                                         key=encode_key(label.entity_id))
        scorer.start().wait_ready()
        for label in after:
            await producer.send_and_wait(labels_topic, encode(label),
                                         key=encode_key(label.entity_id))
        metric = (f'fraudstream_messages_consumed_total{{service="scorer",'
                  f'topic="{labels_topic}"}} 65.0')

        async def all_followed() -> bool:
            text = scorer.get("/metrics/").text
            return metric in text

        await poll_until(all_followed, f"the scorer to count all 65 labels ({metric})",
                         timeout=60)
        code, _ = scorer.terminate(timeout=30)
        assert code == 0, scorer.log_tail()
    finally:
        scorer.kill()
        await producer.stop()
