"""The offline partitioner picks the partition Kafka's default partitioner picks."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner

from fraudstream_shared.events import encode_key
from scorer.features import DEFAULT_PARTITIONS, partition_of
from scorer.features.partitioning import murmur2, partition_of_key
from scorer.settings import ScorerSettings


def signed(value: int) -> int:
    """The unsigned 32 bits as Java's ``int``."""
    return value - (1 << 32) if value >= 1 << 31 else value


# org.apache.kafka.common.utils.UtilsTest#testMurmur2: Utils.murmur2 of these bytes.
JAVA_MURMUR2 = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
]

# Partitions out of 1000 that the Java client's default partitioner picks (the
# vectors the Python Kafka clients test their compatibility with).
JAVA_PARTITIONS_OF_1000 = [
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742),
]


@pytest.mark.parametrize(("data", "expected"), JAVA_MURMUR2)
def test_murmur2_equals_javas(data: bytes, expected: int) -> None:
    assert signed(murmur2(data)) == expected


@pytest.mark.parametrize(("key", "expected"), JAVA_PARTITIONS_OF_1000)
def test_partition_equals_the_java_clients(key: bytes, expected: int) -> None:
    assert partition_of_key(key, 1000) == expected


def test_partition_equals_aiokafkas_default_partitioner() -> None:
    """The producer's own client (aiokafka) picks the same partition for every key."""
    rng = random.Random(11)
    client = DefaultPartitioner()
    keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(48))) for _ in range(3000)]
    keys += [f"customer-{i}".encode() for i in range(500)]
    for n in (1, 2, 3, 6, 7, 12, 64):
        partitions = list(range(n))
        assert [partition_of_key(k, n) for k in keys] == [
            client(k, partitions, partitions) for k in keys]


def test_the_key_is_the_producers_utf8_entity_id() -> None:
    client = DefaultPartitioner()
    for entity in ("c-00042", "kunde-müller", "顧客-7", "🙂-1"):
        key = encode_key(entity)
        assert key is not None
        assert partition_of(entity, 6) == client(key, list(range(6)), list(range(6)))


def test_default_is_the_partition_count_the_scorer_creates_its_topics_with() -> None:
    assert ScorerSettings.model_fields["kafka_topic_partitions"].default == DEFAULT_PARTITIONS


def test_a_topic_has_partitions() -> None:
    with pytest.raises(ValueError, match="at least one"):
        partition_of_key(b"k", 0)
