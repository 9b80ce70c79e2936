"""aiokafka against the real local broker: plain, transactional and aborted produce."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka import (
    TopicSpec,
    create_admin,
    create_consumer,
    create_producer,
    ensure_topics,
)
from tests.conftest import TopicFactory, unique_name

pytestmark = pytest.mark.integration


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(service_name="itest", kafka_bootstrap_servers=bootstrap)


async def _drain(consumer: AIOKafkaConsumer, expected: int, timeout: float = 20) -> list[bytes]:
    """Read until ``expected`` values arrived or ``timeout`` passed."""
    values: list[bytes] = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(values) < expected and asyncio.get_running_loop().time() < deadline:
        batches = await consumer.getmany(timeout_ms=500)
        for batch in batches.values():
            values.extend(record.value for record in batch)
    return values


async def test_ensure_topics_creates_missing_with_partitions(kafka_bootstrap: str) -> None:
    admin = create_admin(_settings(kafka_bootstrap))
    await admin.start()
    name = unique_name("ensure")
    try:
        created = await ensure_topics(admin, [TopicSpec(name, partitions=4)])
        assert created == [name]
        assert await ensure_topics(admin, [TopicSpec(name, partitions=4)]) == []
        described = await admin.describe_topics([name])
        assert len(described[0]["partitions"]) == 4
    finally:
        await admin.delete_topics([name])
        await admin.close()


async def test_produce_and_consume_with_manual_commit(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("plain")
    settings = _settings(kafka_bootstrap)
    producer = create_producer(settings)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, value=f"m{i}".encode(), key=f"k{i % 3}".encode())
    finally:
        await producer.stop()

    group = unique_name("group")
    consumer = create_consumer(settings, topic, group_id=group)
    await consumer.start()
    try:
        values = await _drain(consumer, 10)
        assert sorted(values) == sorted(f"m{i}".encode() for i in range(10))
        await consumer.commit()
    finally:
        await consumer.stop()

    # A new member of the same group resumes after the commit: nothing left.
    again = create_consumer(settings, topic, group_id=group)
    await again.start()
    try:
        assert await _drain(again, 1, timeout=3) == []
    finally:
        await again.stop()


async def test_transaction_with_offsets_is_read_committed_and_abort_is_invisible(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    source = await topic_factory("tx-in", partitions=1)
    sink = await topic_factory("tx-out", partitions=1)
    settings = _settings(kafka_bootstrap)
    group = unique_name("tx-group")

    seed = create_producer(settings)
    await seed.start()
    for i in range(3):
        await seed.send_and_wait(source, value=f"in{i}".encode())
    await seed.stop()

    txp = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        transactional_id=f"itest-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
        acks="all",
    )
    await txp.start()
    try:
        # Committed transaction: output plus the source offsets, atomically.
        async with txp.transaction():
            await txp.send(sink, value=b"committed-1")
            await txp.send(sink, value=b"committed-2")
            await txp.send_offsets_to_transaction({TopicPartition(source, 0): 3}, group)
        # Aborted transaction: must never be visible to read_committed readers.
        await txp.begin_transaction()
        await txp.send(sink, value=b"aborted")
        await txp.abort_transaction()
        async with txp.transaction():
            await txp.send(sink, value=b"committed-3")
    finally:
        await txp.stop()

    reader = create_consumer(settings, sink, group_id=unique_name("reader"))
    await reader.start()
    try:
        values = await _drain(reader, 3)
        assert values == [b"committed-1", b"committed-2", b"committed-3"]
        assert b"aborted" not in await _drain(reader, 1, timeout=2)
    finally:
        await reader.stop()

    # The offsets sent inside the transaction are the group's committed offsets.
    member = create_consumer(settings, group_id=group)
    await member.start()
    try:
        committed = await member.committed(TopicPartition(source, 0))
        assert committed == 3
    finally:
        await member.stop()


async def test_read_uncommitted_sees_aborted_records_for_contrast(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    """Proves the previous test's read_committed filter is what hides the aborted write."""
    sink = await topic_factory("tx-contrast", partitions=1)
    txp = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap,
                           transactional_id=f"itest-{uuid.uuid4().hex[:8]}")
    await txp.start()
    try:
        await txp.begin_transaction()
        await txp.send(sink, value=b"aborted")
        await txp.abort_transaction()
    finally:
        await txp.stop()
    reader = create_consumer(_settings(kafka_bootstrap), sink, group_id=unique_name("raw"),
                             isolation_level="read_uncommitted")
    await reader.start()
    try:
        assert await _drain(reader, 1) == [b"aborted"]
    finally:
        await reader.stop()
