"""send_batched hands the producer closed batches, so none waits for linger_ms."""

from __future__ import annotations

from typing import Any

from aiokafka.producer.message_accumulator import BatchBuilder

from fraudstream_shared.kafka import send_batched
from fraudstream_shared.kafka.batches import partition_for_key


class RecordingProducer:
    """Makes real batch builders and notes what each hand-over received."""

    def __init__(self, batch_size: int = 16 * 1024) -> None:
        self.batch_size = batch_size
        self.handed: list[tuple[int, int, bool]] = []  # (partition, records, closed)

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(self.batch_size, 0)  # 0: no compression

    async def send_batch(self, builder: BatchBuilder, topic: str, *, partition: int) -> Any:
        self.handed.append((partition, builder.record_count(), builder.closed()))
        return None


async def test_every_batch_is_closed_when_handed_over() -> None:
    producer = RecordingProducer()
    records = [(f"k{i}".encode(), b"v" * 10) for i in range(30)]
    await send_batched(producer, "t", records)
    assert producer.handed
    assert all(closed for _, _, closed in producer.handed)
    per_partition: dict[int, int] = {}
    for key, _ in records:
        p = partition_for_key(key, 3)
        per_partition[p] = per_partition.get(p, 0) + 1
    assert {p: n for p, n, _ in producer.handed} == per_partition


async def test_full_batches_are_closed_too() -> None:
    producer = RecordingProducer(batch_size=200)
    await send_batched(producer, "t", [(None, b"v" * 60) for _ in range(10)], partition=1)
    assert len(producer.handed) > 1
    assert all(p == 1 and closed for p, _, closed in producer.handed)
    assert sum(n for _, n, _ in producer.handed) == 10
