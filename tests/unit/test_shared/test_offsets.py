"""Committed offsets are one past the last processed record of each partition."""

from __future__ import annotations

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from fraudstream_shared.kafka import next_offsets


def _record(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", partition, offset, 0, 0, None, b"v", None, 0, 1, ())


def test_next_offsets_per_partition() -> None:
    records = [_record(0, 5), _record(1, 9), _record(0, 7), _record(0, 6)]
    offsets = next_offsets(records)
    assert offsets[TopicPartition("t", 0)].offset == 8
    assert offsets[TopicPartition("t", 1)].offset == 10
