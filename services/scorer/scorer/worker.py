"""The scorer's loop: decode, decide, publish, and only then commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from fraudstream_shared.events import Transaction, decode, encode, encode_key
from fraudstream_shared.exceptions import PoisonMessageError
from fraudstream_shared.kafka import KafkaWorker, Record, TopicSpec, dead_letter_spec, input_topic
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_PRODUCED
from scorer.decide import Clock, decide
from scorer.rules import default_rules
from scorer.settings import ScorerSettings

log = logging.getLogger(__name__)


class ScorerWorker(KafkaWorker):
    """Scores each batch of ``transactions`` and publishes ``processed_transactions``."""

    def __init__(self, settings: ScorerSettings) -> None:
        n, rf = settings.kafka_topic_partitions, settings.kafka_replication_factor
        super().__init__(
            settings,
            input_topics=[settings.transactions_topic],
            topics=[
                input_topic(settings.transactions_topic, n, rf),
                TopicSpec(settings.decisions_topic, n, rf),
                dead_letter_spec(settings.transactions_topic, n, rf),
            ],
            max_records=settings.scorer_max_batch,
        )
        self.scorer_settings = settings
        self.rules = default_rules(settings.block_score, settings.review_score,
                                   settings.large_amount)

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Decide every valid record, dead-letter the rest; return once all are acked."""
        scoring_started = datetime.now(UTC)
        valid: list[tuple[Record, Transaction]] = []
        pending: list[asyncio.Future[object]] = []
        for record in records:
            try:
                valid.append((record, decode(Transaction, record.value)))
            except PoisonMessageError as error:
                pending.append(await self.dead_letters.send(record, error))
        clock = Clock(scoring_started, datetime.now(UTC))
        topic = self.scorer_settings.decisions_topic
        for _record, tx in valid:
            decision = decide(tx, self.rules, clock)
            pending.append(await self.producer.send(
                topic, value=encode(decision), key=encode_key(tx.entity_id)))
        # Offsets are committed by the loop only after every decision and
        # dead letter is acknowledged by the broker.
        await asyncio.gather(*pending)
        MESSAGES_PRODUCED.labels(self.service, topic).inc(len(valid))
        log_event(log, logging.DEBUG, "scorer.batch.decided", decided=len(valid),
                  dead_lettered=len(records) - len(valid))
