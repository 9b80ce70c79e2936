"""send_batched against the real broker: same partitions as send(), order, transactions."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka import create_consumer, create_producer
from fraudstream_shared.kafka.batches import partition_for_key, send_batched
from tests.conftest import TopicFactory, unique_name

pytestmark = pytest.mark.integration


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(service_name="itest", kafka_bootstrap_servers=bootstrap)


async def _read_all(consumer: AIOKafkaConsumer, expected: int,
                    timeout: float = 30) -> dict[int, list[tuple[bytes | None, bytes]]]:
    """Records by partition, in offset order, until ``expected`` arrived or ``timeout``."""
    got: dict[int, list[tuple[bytes | None, bytes]]] = defaultdict(list)
    deadline = asyncio.get_running_loop().time() + timeout
    while sum(map(len, got.values())) < expected and (
            asyncio.get_running_loop().time() < deadline):
        for tp, records in (await consumer.getmany(timeout_ms=500)).items():
            got[tp.partition].extend((r.key, r.value) for r in records if r.value is not None)
    return got


async def test_records_land_where_send_puts_them_in_order(
        kafka_bootstrap: str, topic_factory: TopicFactory) -> None:
    settings = _settings(kafka_bootstrap)
    by_send, by_batch = await topic_factory("send", partitions=6), await topic_factory(
        "batched", partitions=6)
    # 40 keys, 3,000 records of ~1 KB: several full batches per partition.
    records = [(f"customer-{i % 40}".encode(), f"{i:06d}".encode() + b"x" * 1000)
               for i in range(3000)]
    producer = create_producer(settings)
    await producer.start()
    try:
        futures = [await producer.send(by_send, key=k, value=v) for k, v in records]
        await asyncio.gather(*futures)
        batch_futures = await send_batched(producer, by_batch, records)
        assert len(batch_futures) > 6  # more than one batch for some partitions
        await asyncio.gather(*batch_futures)
    finally:
        await producer.stop()

    placed = {}
    for topic in (by_send, by_batch):
        consumer = create_consumer(settings, topic, group_id=unique_name("g"))
        await consumer.start()
        try:
            placed[topic] = await _read_all(consumer, len(records))
        finally:
            await consumer.stop()
    assert placed[by_batch] == placed[by_send]
    for partition, rows in placed[by_batch].items():
        assert all(partition_for_key(k or b"", 6) == partition for k, _ in rows)
    # Every record exactly once, and per key in the order given.
    flat = [row for rows in placed[by_batch].values() for row in rows]
    assert sorted(flat) == sorted(records)
    for rows in placed[by_batch].values():
        per_key: dict[bytes | None, list[bytes]] = defaultdict(list)
        for key, value in rows:
            per_key[key].append(value)
        assert all(values == sorted(values) for values in per_key.values())


async def test_batches_join_the_transaction_and_vanish_when_it_aborts(
        kafka_bootstrap: str, topic_factory: TopicFactory) -> None:
    settings = _settings(kafka_bootstrap)
    topic = await topic_factory("txn", partitions=3)
    producer: AIOKafkaProducer = create_producer(settings,
                                                 transactional_id=unique_name("batches"))
    await producer.start()
    try:
        async with producer.transaction():
            await asyncio.gather(*await send_batched(
                producer, topic, [(b"k1", b"committed-%d" % i) for i in range(50)]))
            await asyncio.gather(*await send_batched(
                producer, topic, [(None, b"pinned-%d" % i) for i in range(5)], partition=2))
        await producer.begin_transaction()
        await asyncio.gather(*await send_batched(
            producer, topic, [(b"k2", b"aborted-%d" % i) for i in range(50)]))
        await producer.abort_transaction()
    finally:
        await producer.stop()

    consumer = create_consumer(settings, topic, group_id=unique_name("g"))
    await consumer.start()
    try:
        got = await _read_all(consumer, 55, timeout=15)
    finally:
        await consumer.stop()
    values = [v for rows in got.values() for _, v in rows]
    assert sorted(values) == sorted([b"committed-%d" % i for i in range(50)]
                                    + [b"pinned-%d" % i for i in range(5)])
    assert [v for _, v in got[2] if v.startswith(b"pinned")] == [b"pinned-%d" % i
                                                                  for i in range(5)]
    assert [v for _, v in got[partition_for_key(b"k1", 3)] if v.startswith(b"committed")] == [
        b"committed-%d" % i for i in range(50)]
