"""The producer against the real local Kafka: transactions, keys, delayed labels, replay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from fraudstream_shared.events import Transaction, TransactionLabel, decode
from fraudstream_shared.kafka import create_admin, create_consumer
from producer.settings import ProducerSettings
from producer.worker import ProducerWorker
from tests.conftest import unique_name
from tests.support.factories import original_sample_transaction
from tests.support.polling import poll_until

pytestmark = pytest.mark.integration

LABEL_DELAY_S = 1.5
Records = list[ConsumerRecord[bytes, bytes]]


@pytest.fixture
async def topic_names(kafka_bootstrap: str) -> AsyncIterator[tuple[str, str]]:
    """Unique names for the worker to create; deleted after the test."""
    names = (unique_name("ptx"), unique_name("plabels"))
    yield names
    admin = create_admin(ProducerSettings(kafka_bootstrap_servers=kafka_bootstrap))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        if existing & set(names):
            await admin.delete_topics(sorted(existing & set(names)))
    finally:
        await admin.close()


def _settings(bootstrap: str, topics: tuple[str, str], **overrides: Any) -> ProducerSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": bootstrap,
        "transactions_topic": topics[0],
        "labels_topic": topics[1],
        "kafka_topic_partitions": 3,
        "producer_rate_per_s": 200.0,
        "label_delay_s": LABEL_DELAY_S,
        "producer_customers": 200,
        "producer_merchants": 400,
        "producer_stream_seed": 11,
    }
    values.update(overrides)
    return ProducerSettings(**values)


async def _consume(settings: ProducerSettings, topic: str, expected: int) -> Records:
    consumer = create_consumer(settings, topic, group_id=unique_name("pcheck"))
    await consumer.start()
    records: Records = []
    try:
        async def enough() -> bool:
            batches = await consumer.getmany(timeout_ms=300)
            records.extend(r for batch in batches.values() for r in batch)
            return len(records) >= expected

        await poll_until(enough, f"{expected} records on {topic}", timeout=30)
        # Anything beyond the expected count would be a duplicate: read a little more.
        batches = await consumer.getmany(timeout_ms=500)
        records.extend(r for batch in batches.values() for r in batch)
    finally:
        await consumer.stop()
    return records


async def _running(worker: ProducerWorker) -> asyncio.Task[None]:
    await worker.start()
    return asyncio.create_task(worker.run())


async def _shutdown(worker: ProducerWorker, task: asyncio.Task[None]) -> None:
    worker.stop()
    await asyncio.wait_for(task, timeout=30)
    await worker.close()


def _when(condition: Callable[[], bool]) -> Callable[[], Any]:
    async def check() -> bool:
        return condition()
    return check


async def test_publishes_keyed_transactions_then_labels_after_the_delay(
    kafka_bootstrap: str, topic_names: tuple[str, str]
) -> None:
    settings = _settings(kafka_bootstrap, topic_names)
    worker = ProducerWorker(settings)
    task = await _running(worker)
    try:
        await poll_until(_when(lambda: worker.control.produced >= 60), "60 transactions sent")
        worker.control.stop()  # pause: the count stops moving, the labels keep coming
        await poll_until(_when(lambda: worker.control.labels_pending == 0
                               and worker.control.labels_published == worker.control.produced),
                         "every label published after its delay")
    finally:
        await _shutdown(worker, task)
    produced = worker.control.produced

    transactions = await _consume(settings, topic_names[0], produced)
    assert len(transactions) == produced
    decoded = {}
    for record in transactions:
        tx = decode(Transaction, record.value)
        assert record.key == tx.entity_id.encode()
        assert json.loads(record.value)["event_time"].endswith("+00:00")
        decoded[tx.event_id] = (tx, record.timestamp)
    assert len(decoded) == produced

    labels = await _consume(settings, topic_names[1], produced)
    assert len(labels) == produced
    for record in labels:
        label = decode(TransactionLabel, record.value)
        tx, sent_ms = decoded[label.event_id]
        assert record.key == tx.entity_id.encode()
        assert label.entity_id == tx.entity_id
        assert label.merchant_id == tx.merchant_id
        # Published no earlier than the delay after the transaction was acknowledged.
        assert record.timestamp - sent_ms >= LABEL_DELAY_S * 1000 - 50
        assert (label.labelled_at - tx.event_time).total_seconds() >= LABEL_DELAY_S - 0.05


async def test_pending_labels_are_flushed_at_shutdown(
    kafka_bootstrap: str, topic_names: tuple[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(kafka_bootstrap, topic_names, label_delay_s=3600)
    worker = ProducerWorker(settings)
    task = await _running(worker)
    try:
        await poll_until(_when(lambda: worker.control.produced >= 20), "20 transactions sent")
        assert worker.control.labels_published == 0
    finally:
        await _shutdown(worker, task)
    produced = worker.control.produced
    assert worker.control.labels_published == produced
    flushed = [r for r in caplog.records if r.getMessage() == "producer.labels.flushed_at_shutdown"]
    assert [r.fields["count"] for r in flushed] == [produced]  # type: ignore[attr-defined]
    labels = await _consume(settings, topic_names[1], produced)
    assert len(labels) == produced


async def test_replay_publishes_valid_rows_and_finishes(
    kafka_bootstrap: str, topic_names: tuple[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "replay.jsonl"
    rows = [original_sample_transaction(event_id=f"r{i}", entity_id=f"200-00-000{i}")
            for i in range(5)]
    lines = [json.dumps(r) for r in rows]
    lines.insert(2, json.dumps({**rows[0], "event_id": "bad", "ip_address": ""}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = _settings(kafka_bootstrap, topic_names, producer_mode="replay",
                         producer_replay_file=path, producer_rate_per_s=50.0)
    worker = ProducerWorker(settings)
    task = await _running(worker)
    try:
        await poll_until(_when(lambda: worker.control.finished), "the replay to finish")
        status = worker.control.status()
    finally:
        await _shutdown(worker, task)
    assert (status["produced"], status["rows_read"], status["rows_invalid"]) == (5, 6, 1)
    assert status["running"] is False
    records = await _consume(settings, topic_names[0], 5)
    assert sorted(decode(Transaction, r.value).event_id for r in records) == [
        f"r{i}" for i in range(5)]
