"""Exactly-once consume–transform–produce with one transactional producer per input partition.

aiokafka's transactions use the protocol's oldest form: ``send_offsets_to_transaction``
carries no consumer-group generation, so the broker cannot fence a zombie by
group membership (KIP-447). We therefore use Kafka Streams' original design
("EOS alpha"): the transactional id is derived from the input partition
(``<app>-<topic>-<partition>``). Whoever owns the partition owns that id; when
a new owner starts its producer, ``InitProducerId`` bumps the epoch, aborts the
previous owner's open transaction and fences it, so a zombie can neither
commit output nor offsets. Only after that does the new owner read the
committed offset and restore state, so it always resumes from what was
actually committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka.client import create_producer
from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)

DEFAULT_TRANSACTION_TIMEOUT_MS = 10_000
"""Short, so that a killed instance's open transaction stalls readers for seconds, not a minute."""


def transactional_id(app_id: str, tp: TopicPartition) -> str:
    """The stable transactional id of the producer that owns input partition ``tp``."""
    return f"{app_id}-{tp.topic}-{tp.partition}"


class PartitionProducers:
    """The transactional producers of the partitions this instance owns."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        app_id: str,
        transaction_timeout_ms: int = DEFAULT_TRANSACTION_TIMEOUT_MS,
        **producer_options: Any,
    ) -> None:
        self._settings = settings
        self._app_id = app_id
        self._timeout_ms = transaction_timeout_ms
        self._options = producer_options
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}

    def __contains__(self, tp: TopicPartition) -> bool:
        return tp in self._producers

    def get(self, tp: TopicPartition) -> AIOKafkaProducer:
        """The producer owning ``tp`` (it must have been started by :meth:`acquire`)."""
        return self._producers[tp]

    async def acquire(self, partitions: list[TopicPartition]) -> None:
        """Start (and so fence any previous owner of) the producers for ``partitions``."""
        new = [tp for tp in partitions if tp not in self._producers]

        async def start(tp: TopicPartition) -> None:
            producer = create_producer(
                self._settings,
                transactional_id=transactional_id(self._app_id, tp),
                transaction_timeout_ms=self._timeout_ms,
                **self._options,
            )
            await producer.start()  # InitProducerId: aborts and fences the old owner
            self._producers[tp] = producer

        await asyncio.gather(*(start(tp) for tp in new))
        if new:
            log_event(log, logging.INFO, "kafka.transactions.acquired",
                      partitions=[f"{tp.topic}:{tp.partition}" for tp in new])

    async def release(self, partitions: list[TopicPartition]) -> None:
        """Stop the producers of partitions this instance no longer owns."""
        producers = [self._producers.pop(tp) for tp in partitions if tp in self._producers]
        for producer in producers:
            with contextlib.suppress(Exception):
                await producer.stop()

    async def close(self) -> None:
        """Stop every producer."""
        await self.release(list(self._producers))


async def rewind_to_committed(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    """Seek ``tp`` back to its committed offset (after an aborted transaction).

    Records after the committed offset were consumed but their output was
    aborted; they must be processed again. Returns the offset sought to.
    """
    committed = await consumer.committed(tp)
    if committed is None:
        await consumer.seek_to_beginning(tp)
        return 0
    consumer.seek(tp, committed)
    return int(committed)
