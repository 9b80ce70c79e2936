"""A pass-through "null scorer": ``python -m bench.nullscorer``.

The control for the scorer's benchmark: it consumes ``NULL_INPUT_TOPIC`` and
produces every record unchanged to ``NULL_OUTPUT_TOPIC`` with the same shared
Kafka plumbing as the scorer (``KafkaWorker``'s batch loop; with
``NULL_EXACTLY_ONCE`` one transaction per input partition holding the output
and the input offsets, via the same ``PartitionProducers``), but does no
decoding, no features, no model and no rules. What it costs is the price of
our Kafka plumbing alone. Benchmark-only: an aborted transaction crashes it
(the scorer instead rewinds and restores its state).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer, TopicPartition
from pydantic import Field

from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.kafka import KafkaWorker, Record, TopicSpec, input_topic, send_batched
from fraudstream_shared.kafka.transactions import PartitionProducers
from fraudstream_shared.runtime import serve


class NullScorerSettings(ServiceSettings):
    """Topics, the exactly-once switch and the batch options (as the scorer's)."""

    service_name: str = "nullscorer"
    http_port: int = Field(8098, ge=1, le=65535)
    null_input_topic: str = Field(min_length=1)
    null_output_topic: str = Field(min_length=1)
    null_exactly_once: bool = True
    # The bench sets this and the fetch options to the scorer's (runner.nullscorer_env).
    null_max_batch: int = Field(2000, ge=1, le=10_000)
    null_commit_interval_ms: int = Field(100, ge=1, le=10_000)


class NullScorerWorker(KafkaWorker):
    """Copies each batch to the output topic, exactly once or at least once."""

    def __init__(self, settings: NullScorerSettings) -> None:
        n, rf = settings.kafka_topic_partitions, settings.kafka_replication_factor
        self.null_settings = settings
        super().__init__(
            settings,
            input_topics=[settings.null_input_topic],
            topics=[input_topic(settings.null_input_topic, n, rf),
                    TopicSpec(settings.null_output_topic, n, rf)],
            max_records=settings.null_max_batch,
            poll_timeout_ms=settings.null_commit_interval_ms,
            commit_offsets=not settings.null_exactly_once,
        )
        self.txn_producers = PartitionProducers(settings, app_id=settings.consumer_group)

    async def on_start(self) -> None:
        """With exactly-once, own (and fence) a transactional producer per assigned partition."""
        if self.null_settings.null_exactly_once:
            self.loop.on_assigned.append(self._acquire)
            self.loop.on_revoked.append(self.txn_producers.release)

    async def _acquire(self, assigned: list[TopicPartition]) -> None:
        async with self.loop.batch_lock:
            await self.txn_producers.acquire(assigned)

    async def on_close(self) -> None:
        """Stop the transactional producers."""
        await self.txn_producers.close()

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Forward the batch; return once it is durable (committed, with exactly-once)."""
        by_partition: dict[TopicPartition, list[Record]] = {}
        for record in records:
            by_partition.setdefault(TopicPartition(record.topic, record.partition),
                                    []).append(record)
        step = self._transaction if self.null_settings.null_exactly_once else self._forward
        await asyncio.gather(*(step(tp, batch) for tp, batch in by_partition.items()))

    async def _send(self, producer: AIOKafkaProducer, records: Sequence[Record]) -> None:
        topic = self.null_settings.null_output_topic
        # The same batched send as the scorer's decisions.
        await asyncio.gather(*await send_batched(producer, topic,
                                                 [(r.key, r.value) for r in records]))

    async def _transaction(self, tp: TopicPartition, records: Sequence[Record]) -> None:
        producer = self.txn_producers.get(tp)
        async with producer.transaction():
            await self._send(producer, records)
            await producer.send_offsets_to_transaction(
                {tp: records[-1].offset + 1}, self.settings.consumer_group)

    async def _forward(self, tp: TopicPartition, records: Sequence[Record]) -> None:
        await self._send(self.producer, records)


def main() -> int:
    """Run the null scorer until SIGTERM/SIGINT; return the exit status."""
    return serve(lambda: load_settings(NullScorerSettings), NullScorerWorker)


if __name__ == "__main__":
    raise SystemExit(main())
