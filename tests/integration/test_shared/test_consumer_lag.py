"""The lag the services publish to CloudWatch, measured against the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka import BatchConsumerLoop, create_consumer, create_producer
from fraudstream_shared.kafka.consumer import Record
from tests.conftest import TopicFactory, unique_name
from tests.support.polling import poll_until

pytestmark = pytest.mark.integration


async def test_lag_counts_a_stuck_batch_and_drops_to_zero_once_committed(
    kafka_bootstrap: str, topic_factory: TopicFactory
) -> None:
    topic = await topic_factory("lag", partitions=2)
    settings = ServiceSettings(service_name="itest", kafka_bootstrap_servers=kafka_bootstrap)
    producer = create_producer(settings)
    await producer.start()
    try:
        for i in range(20):
            await producer.send_and_wait(topic, value=b"v", key=f"k{i}".encode())
    finally:
        await producer.stop()

    handled: list[int] = []
    sink_back = asyncio.Event()

    async def stuck_sink(records: Sequence[Record]) -> None:
        # A sink outage: the first batch waits until the "sink" returns.
        handled.append(len(records))
        await sink_back.wait()

    consumer = create_consumer(settings, group_id=unique_name("lag-group"))
    await consumer.start()
    loop = BatchConsumerLoop(consumer, [topic], stuck_sink, service="itest", max_records=5)
    loop.subscribe()
    task = asyncio.create_task(loop.run())
    try:
        async def first_batch_arrived() -> bool:
            return bool(handled)

        await poll_until(first_batch_arrived, "the first batch")
        # Nothing is committed while the batch is stuck: every message counts.
        assert await loop.measure_lag() == 20
        sink_back.set()

        async def lag_is_zero() -> bool:
            return await loop.measure_lag() == 0

        await poll_until(lag_is_zero, "lag back to zero")
        assert sum(handled) == 20
    finally:
        loop.stop()
        sink_back.set()
        await asyncio.wait_for(task, timeout=15)
        await consumer.stop()
