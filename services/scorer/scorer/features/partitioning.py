"""Which input partition a transaction lands on: Kafka's default partitioner, offline.

The producer sends each transaction with the key ``entity_id`` encoded as UTF-8
(:func:`fraudstream_shared.events.encode_key`) and no explicit partition, so
the client's default partitioner picks ``toPositive(murmur2(key)) % N``, the
rule shared by the Java client (``Utils.murmur2``/``Utils.toPositive``) and
aiokafka's ``DefaultPartitioner``. A scorer partition therefore sees all of a
customer's transactions but only its own share of a merchant's or an IP's:
training and evaluation replay the same split (:func:`scorer.features.replay`
with ``partitions=N``) so that a model learns the features it is served.
"""

from __future__ import annotations

from fraudstream_shared.config import ServiceSettings

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF

DEFAULT_PARTITIONS: int = int(ServiceSettings.model_fields["kafka_topic_partitions"].default)
"""The partition count the services create their topics with (``KAFKA_TOPIC_PARTITIONS``)."""


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 (seed 0x9747b28c) as Kafka computes it, as an unsigned int.

    Java's ``Utils.murmur2`` returns the same bits as a signed ``int``.
    """
    length = len(data)
    h = (_SEED ^ length) & _MASK
    whole = length - length % 4
    for i in range(0, whole, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    tail = data[whole:]
    # The tail bytes are mixed in from the last one down, then multiplied once.
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_of_key(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for a non-null ``key``."""
    if partitions < 1:
        raise ValueError("a topic has at least one partition")
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partition_of(entity_id: str, partitions: int) -> int:
    """The ``transactions`` partition of a customer (the message key is ``entity_id``)."""
    return partition_of_key(entity_id.encode("utf-8"), partitions)
