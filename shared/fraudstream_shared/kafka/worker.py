"""A base worker for services that consume Kafka topics in batches.

It owns the admin client, one producer (for output and dead letters) and the
consumer loop; a service subclasses it and implements :meth:`handle_batch`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka.admin import TopicSpec, ensure_topics
from fraudstream_shared.kafka.client import create_admin, create_consumer, create_producer
from fraudstream_shared.kafka.consumer import BatchConsumerLoop, Record, Settlement
from fraudstream_shared.kafka.deadletter import DeadLetterPublisher
from fraudstream_shared.retry import retry_until

log = logging.getLogger(__name__)

LIVENESS_TIMEOUT_S = 120.0
"""A loop that has not polled for this long is considered stuck."""

START_DEADLINE_S = 90.0
"""How long start-up waits for Kafka before giving up."""


class KafkaWorker:
    """Consume ``input_topics`` in batches; subclasses implement :meth:`handle_batch`."""

    admin: AIOKafkaAdminClient
    producer: AIOKafkaProducer
    consumer: AIOKafkaConsumer
    dead_letters: DeadLetterPublisher
    loop: BatchConsumerLoop

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        input_topics: Sequence[str],
        topics: Sequence[TopicSpec],
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        commit_offsets: bool = True,
    ) -> None:
        self.settings = settings
        self.service = settings.service_name
        self._input_topics = list(input_topics)
        self._topics = list(topics)
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        self._commit_offsets = commit_offsets
        self._started = False

    def _create_clients(self) -> None:
        # aiokafka clients bind to the running event loop, so they are made
        # here (inside the lifespan), not in __init__.
        self.admin = create_admin(self.settings)
        self.producer = create_producer(self.settings)
        self.consumer = create_consumer(self.settings)
        self.dead_letters = DeadLetterPublisher(self.producer, self.service)
        self.loop = BatchConsumerLoop(
            self.consumer, self._input_topics, self.handle_batch,
            service=self.service, max_records=self._max_records,
            poll_timeout_ms=self._poll_timeout_ms, commit_offsets=self._commit_offsets,
        )

    async def start(self) -> None:
        """Connect to Kafka (waiting for it while it boots), create topics, subscribe."""
        self._create_clients()
        await retry_until(self.admin.start, what="kafka.admin", deadline_s=START_DEADLINE_S)
        if self.settings.kafka_create_topics:
            await retry_until(lambda: ensure_topics(self.admin, self._topics),
                              what="kafka.topics", deadline_s=START_DEADLINE_S)
        await retry_until(self.producer.start, what="kafka.producer", deadline_s=START_DEADLINE_S)
        await retry_until(self.consumer.start, what="kafka.consumer", deadline_s=START_DEADLINE_S)
        self.loop.subscribe()
        await self.on_start()
        self._started = True

    async def on_start(self) -> None:
        """Hook: start the service's own clients (called after Kafka is up)."""

    async def run(self) -> None:
        """The consume loop; returns after :meth:`stop` once the batch is committed."""
        await self.loop.run()

    def stop(self) -> None:
        """Ask the loop to finish its batch, commit and return."""
        self.loop.stop()

    async def close(self) -> None:
        """Leave the group, flush the producer, close every client."""
        await self.on_close()
        if not hasattr(self, "consumer"):
            return
        # Stop the consumer first so its group leaves promptly (fast rebalance),
        # then flush whatever the producer still holds.
        for closer in (self.consumer.stop, self.producer.stop, self.admin.close):
            with contextlib.suppress(Exception):
                await closer()

    async def on_close(self) -> None:
        """Hook: close the service's own clients."""

    async def readiness(self) -> dict[str, str | None]:
        """Kafka reachable and partitions assigned, plus the service's own checks."""
        checks: dict[str, str | None] = {}
        try:
            await asyncio.wait_for(self.admin.describe_cluster(), timeout=1.5)
            checks["kafka"] = None
        except Exception as exc:  # any failure means not ready
            checks["kafka"] = f"{type(exc).__name__}: {exc}"
        if self.loop.topics:
            checks["partitions"] = None if self.loop.assigned else "no partitions assigned yet"
        checks.update(await self.extra_readiness())
        return checks

    async def extra_readiness(self) -> dict[str, str | None]:
        """Hook: the service's own dependency checks."""
        return {}

    async def consumer_lag(self) -> int | None:
        """Uncommitted messages on this member's partitions; ``None`` without input topics."""
        if not self.loop.topics:
            return None
        return await self.loop.measure_lag()

    def is_alive(self) -> bool:
        """The loop has polled recently."""
        return not self._started or time.monotonic() - self.loop.heartbeat < LIVENESS_TIMEOUT_S

    async def handle_batch(self, records: Sequence[Record]) -> Settlement | None:
        """Process a batch: return ``None`` once its results are durable, or hand it off.

        A handler that hands a batch off returns a future that completes when
        its results are durable; the loop commits its offsets then, in order
        (see :mod:`fraudstream_shared.kafka.consumer`).
        """
        raise NotImplementedError
