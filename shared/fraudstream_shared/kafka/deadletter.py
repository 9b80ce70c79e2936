"""Publishing poison messages to ``<topic>.dlq`` with the reason and origin."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from fraudstream_shared.events.codec import encode
from fraudstream_shared.events.deadletter import DeadLetter
from fraudstream_shared.events.topics import dead_letter_topic
from fraudstream_shared.exceptions import PoisonMessageError
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_DEAD_LETTERED, MESSAGES_FAILED

log = logging.getLogger(__name__)


class DeadLetterPublisher:
    """Wraps failed records in a :class:`DeadLetter` envelope and sends them.

    ``send`` returns the broker acknowledgement future: callers gather these
    before committing the batch, so a message is never committed unless it was
    either decided or dead-lettered.
    """

    def __init__(self, producer: AIOKafkaProducer, service: str) -> None:
        self._producer = producer
        self._service = service

    async def send(
        self,
        record: ConsumerRecord[bytes, bytes],
        error: PoisonMessageError,
        *,
        producer: AIOKafkaProducer | None = None,
    ) -> asyncio.Future[object]:
        """Queue ``record`` for its dead-letter topic; await the result to know it is durable.

        ``producer`` overrides the publisher's own, e.g. to dead-letter inside
        the caller's Kafka transaction.
        """
        envelope = DeadLetter.wrap(
            service=self._service,
            reason=error.reason,
            error=error.detail,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            timestamp_ms=record.timestamp,
        )
        target = dead_letter_topic(record.topic)
        log_event(
            log,
            logging.WARNING,
            f"{self._service}.message.dead_lettered",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            reason=error.reason,
            detail=error.detail[:500],
        )
        MESSAGES_DEAD_LETTERED.labels(self._service, record.topic, error.reason).inc()
        MESSAGES_FAILED.labels(self._service, "poison").inc()
        future: asyncio.Future[object] = await (producer or self._producer).send(
            target, value=encode(envelope), key=record.key
        )
        return future
