"""The notifier's loop: screen, decode, skip what was sent, send, record — then commit.

Each decision's outcome is read first, cheaply (:func:`notifier.screen.screen`);
only a decision whose outcome is in ``ALERT_OUTCOMES`` (about 1 % of them) is
decoded into the full contract. A value whose outcome cannot be read is
dead-lettered with the codec's reason (``invalid_json``, ``schema_violation``,
…), and so is an alerting decision that fails the full contract. The
consequence: a *non-alerting* decision that is malformed elsewhere is counted
but not dead-lettered by the notifier. It is not lost: the indexer decodes
every decision of the same topic into the full contract and dead-letters the
ones that fail it (to the same ``<topic>.dlq``, with its own service name).

Per alerting decision the order is: already sent? skip → send (bounded retries)
→ write the sent record to the compacted sent topic and await its ack. Up to
``NOTIFIER_CONCURRENCY`` alerts of a batch go through these steps at once: a
serial alert spent most of its time waiting for the mail server and then for
Kafka, and a burst of blocks (a fraud wave) fell behind. Only after the whole
batch is through does the loop commit the offsets. A crash between a send and
its record can therefore duplicate the alerts in flight at that moment, at most
``NOTIFIER_CONCURRENCY``, and nothing else.

While the channel is down the batch waits (see :mod:`notifier.delivery`):
nothing is committed, nothing more is consumed, ``/readyz`` names the channel
and ``/healthz`` stays green because waiting is progress. On SIGTERM during an
outage the batch is abandoned uncommitted and redelivered to whoever comes next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition

from fraudstream_shared.events import Outcome, ProcessedTransaction, encode, encode_key
from fraudstream_shared.exceptions import ConfigError, PoisonMessageError, RetryableError
from fraudstream_shared.kafka import (
    KafkaWorker,
    Record,
    compacted_topic,
    create_reader,
    dead_letter_spec,
    ensure_topics,
    input_topic,
    send_batched,
)
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_PRODUCED
from fraudstream_shared.retry import retry_until
from notifier.alerts import format_alert
from notifier.channels import AlertChannel, build_channel
from notifier.delivery import DeliveryAborted, DeliveryFailed, deliver
from notifier.metrics import ALERTS, DECISIONS_SEEN
from notifier.screen import screen
from notifier.sent import SentLedger, SentRecord, read_sent_ids
from notifier.settings import NotifierSettings

log = logging.getLogger(__name__)

NOTIFICATION_FAILED = "notification_failed"
TOPIC_WAIT_S = 30.0
"""How long start-up waits for a topic to appear in the cluster metadata."""


class NotifierWorker(KafkaWorker):
    """Sends one alert per alerting decision on ``DECISIONS_TOPIC``, at most once per event id."""

    def __init__(self, settings: NotifierSettings, channel: AlertChannel | None = None) -> None:
        n, rf = settings.kafka_topic_partitions, settings.kafka_replication_factor
        super().__init__(
            settings,
            input_topics=[settings.decisions_topic],
            topics=[
                input_topic(settings.decisions_topic, n, rf),
                dead_letter_spec(settings.decisions_topic, n, rf),
            ],
            max_records=settings.notifier_max_batch,
        )
        self.notifier_settings = settings
        self._alert_outcomes = frozenset(settings.alert_outcomes)
        # One counter child per outcome, made once (every outcome shows from the start).
        self._decisions_seen = {
            outcome: DECISIONS_SEEN.labels(self.service, outcome.value) for outcome in Outcome
        }
        self.channel = channel if channel is not None else build_channel(settings)
        self.ledger = SentLedger()
        self._restore_lock = asyncio.Lock()
        self._restore_consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self.channel_down: str | None = None
        """The error of the last failed send while the channel is down; ``None`` once it works."""

    # ------------------------------------------------------------------ lifecycle

    async def on_start(self) -> None:
        """Create the sent topic like the decisions topic, start the channel, hook assignment."""
        s = self.notifier_settings
        partitions = await self._partition_count(s.decisions_topic)
        if s.kafka_create_topics:
            await retry_until(
                lambda: ensure_topics(self.admin, [compacted_topic(
                    s.notifier_sent_topic, partitions, s.kafka_replication_factor)]),
                what="kafka.topics.sent", deadline_s=TOPIC_WAIT_S,
            )
        sent_partitions = await self._partition_count(s.notifier_sent_topic)
        if sent_partitions < partitions:
            raise ConfigError(
                f"NOTIFIER_SENT_TOPIC {s.notifier_sent_topic} has {sent_partitions} partitions, "
                f"fewer than DECISIONS_TOPIC {s.decisions_topic} ({partitions}); "
                "add partitions to it so that partition numbers match"
            )
        self._restore_consumer = self._create_restore_consumer()
        await retry_until(self._restore_consumer.start, what="kafka.restore_consumer",
                          deadline_s=30.0)
        await retry_until(self.channel.start, what=f"notifier.{self.channel.name}",
                          deadline_s=30.0)
        self.loop.on_assigned.append(self._on_assigned)

    async def on_close(self) -> None:
        """Close the channel and the restore consumer."""
        with contextlib.suppress(Exception):
            await self.channel.close()
        if self._restore_consumer is not None:
            with contextlib.suppress(Exception):
                await self._restore_consumer.stop()

    async def run(self) -> None:
        """The consume loop; a batch abandoned on shutdown is left uncommitted, not crashed."""
        try:
            await super().run()
        except DeliveryAborted as exc:
            log_event(log, logging.WARNING, "notifier.batch.abandoned", reason=str(exc))

    def stop(self) -> None:
        """Finish the batch and commit; if it is waiting for a down channel, abandon it."""
        self._stopping.set()
        super().stop()

    async def extra_readiness(self) -> dict[str, str | None]:
        """The channel can deliver: no send is failing, and SMTP answers a NOOP / SNS client exists.

        The key is the channel's name, so a 503 says which channel is down.
        """
        if self.channel_down is not None:
            return {self.channel.name: f"{self.channel.name} down: {self.channel_down}"[:500]}
        return {self.channel.name: await self.channel.check()}

    def _on_channel_down(self, error: str) -> None:
        if self.channel_down is None:
            log_event(log, logging.WARNING, "notifier.channel.down", channel=self.channel.name,
                      error=error[:300])
        self.channel_down = error
        # Waiting out an outage is progress, not a stuck loop: keep liveness green
        # so the orchestrator does not restart us into the same outage.
        self.loop.heartbeat = time.monotonic()

    def _channel_answered(self) -> None:
        if self.channel_down is not None:
            log_event(log, logging.INFO, "notifier.channel.up", channel=self.channel.name)
            self.channel_down = None

    async def _wait_or_abort(self, delay: float) -> None:
        """Sleep ``delay`` between attempts, or raise DeliveryAborted as soon as we stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay)
        if self._stopping.is_set():
            raise DeliveryAborted(f"stopping while {self.channel.name} is down: "
                                  f"{self.channel_down}")

    def _create_restore_consumer(self) -> AIOKafkaConsumer:
        # In no group: it only reads assigned partitions from the beginning.
        return create_reader(self.settings)

    async def _partition_count(self, topic: str) -> int:
        async def describe() -> int:
            described = await self.admin.describe_topics([topic])
            partitions = described[0].get("partitions", []) if described else []
            if not partitions:
                # A topic created a moment ago may not be in the metadata yet.
                raise RetryableError(
                    f"topic {topic} does not exist (is KAFKA_CREATE_TOPICS off?)")
            return len(partitions)

        return await retry_until(describe, what=f"kafka.describe.{topic}",
                                 deadline_s=TOPIC_WAIT_S, retry_on=(RetryableError,))

    # ------------------------------------------------------------------ dedupe state

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        """Reload the sent history of the newly assigned decisions partitions."""
        topic = self.notifier_settings.decisions_topic
        mine = [tp.partition for tp in assigned if tp.topic == topic]
        self.ledger.keep_only(mine)
        try:
            await self._restore(mine)
        except Exception as exc:
            # aiokafka swallows listener errors; handle_batch restores again
            # (and crashes if it still fails), so nothing is sent unrestored.
            log_event(log, logging.WARNING, "notifier.sent.restore_failed", error=str(exc))

    async def _restore(self, partitions: Sequence[int]) -> None:
        async with self._restore_lock:
            missing = [p for p in partitions if not self.ledger.is_restored(p)]
            if not missing:
                return
            if self._restore_consumer is None:
                raise RuntimeError("restore consumer not started")
            started = time.perf_counter()
            ids = await read_sent_ids(
                self._restore_consumer, self.notifier_settings.notifier_sent_topic, missing
            )
            for partition, event_ids in ids.items():
                self.ledger.restored(partition, event_ids)
            log_event(log, logging.INFO, "notifier.sent.restored", partitions=missing,
                      event_ids=sum(len(v) for v in ids.values()),
                      seconds=round(time.perf_counter() - started, 3))

    # ------------------------------------------------------------------ the batch

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Alert on each alerting decision once; dead-letter poison and undeliverable alerts."""
        await self._restore(sorted({record.partition for record in records}))
        pending: list[asyncio.Future[object]] = []
        seen: Counter[Outcome] = Counter()
        alerts: list[tuple[Record, ProcessedTransaction]] = []
        for record in records:
            try:
                outcome, decision = screen(record.value, self._alert_outcomes)
            except PoisonMessageError as error:
                pending.append(await self.dead_letters.send(record, error))
                continue
            seen[outcome] += 1
            if decision is not None:
                alerts.append((record, decision))
        for outcome, count in seen.items():
            self._decisions_seen[outcome].inc(count)
        for record, failure in await self._notify_all(alerts):
            pending.append(await self.dead_letters.send(record, failure))
        await asyncio.gather(*pending)

    async def _notify_all(self, alerts: Sequence[tuple[Record, ProcessedTransaction]]
                          ) -> list[tuple[Record, PoisonMessageError]]:
        """Notify each alert's event once, ``NOTIFIER_CONCURRENCY`` at a time.

        Returns the records to dead-letter, in the batch's order. Further copies
        of an event within the batch wait for the first: they are skipped as
        duplicates once it is sent, and dead-lettered with its error if it
        failed. If one alert raises (the service is stopping while the channel
        is down, or a bug), the others are cancelled and awaited, and the error
        propagates: the batch is not committed.
        """
        first: dict[str, tuple[Record, ProcessedTransaction]] = {}
        copies: dict[str, list[Record]] = {}
        for record, decision in alerts:
            if self.ledger.contains(decision.event_id):
                self._skip_duplicate(record, decision.event_id)
            elif decision.event_id in first:
                copies.setdefault(decision.event_id, []).append(record)
            else:
                first[decision.event_id] = (record, decision)
        slots = asyncio.Semaphore(self.notifier_settings.notifier_concurrency)

        async def notify(record: Record, decision: ProcessedTransaction
                         ) -> PoisonMessageError | None:
            async with slots:
                failure = await self._notify_once(record, decision)
            # Sending mail is slow compared to polling: count progress as liveness.
            self.loop.heartbeat = time.monotonic()
            return failure

        tasks = {event_id: asyncio.create_task(notify(*alert)) for event_id, alert in first.items()}
        try:
            await asyncio.gather(*tasks.values())
        except BaseException:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            raise
        failed: list[tuple[Record, PoisonMessageError]] = []
        for event_id, task in tasks.items():
            failure = task.result()
            if failure is not None:
                failed.append((first[event_id][0], failure))
            for record in copies.get(event_id, []):
                if failure is not None:
                    failed.append((record, failure))
                else:
                    self._skip_duplicate(record, event_id)
        failed.sort(key=lambda item: (item[0].partition, item[0].offset))
        return failed

    def _skip_duplicate(self, record: Record, event_id: str) -> None:
        """Count and log an alert already sent (earlier, or for a copy in this batch)."""
        ALERTS.labels(self.service, self.channel.name, "duplicate").inc()
        log_event(log, logging.INFO, "notifier.alert.duplicate_skipped", event_id=event_id,
                  partition=record.partition, offset=record.offset)

    async def _notify_once(
        self, record: Record, decision: ProcessedTransaction
    ) -> PoisonMessageError | None:
        """Send and record one alert; the error to dead-letter, if any."""
        s = self.notifier_settings
        channel = self.channel.name
        try:
            attempts = await deliver(
                self.channel, format_alert(decision), max_attempts=s.notifier_max_attempts,
                base_s=s.notifier_backoff_base_s, cap_s=s.notifier_backoff_cap_s,
                service=self.service, sleep=self._wait_or_abort, on_down=self._on_channel_down,
            )
        except DeliveryFailed as exc:
            self._channel_answered()  # a rejection is an answer: the channel is up
            ALERTS.labels(self.service, channel, "failed").inc()
            log_event(log, logging.ERROR, "notifier.alert.failed", event_id=decision.event_id,
                      attempts=exc.attempts, error=exc.detail[:300])
            return PoisonMessageError(NOTIFICATION_FAILED, exc.detail)
        self._channel_answered()
        sent = SentRecord.now(decision.event_id, channel, record.topic, record.partition,
                              record.offset)
        # Same partition number as the decision: whoever owns that decisions
        # partition reads exactly this sent partition to restore. A closed
        # batch of one goes out at once; ``send_and_wait`` would linger 5 ms
        # first, with this alert holding its slot meanwhile.
        await asyncio.gather(*await send_batched(
            self.producer, s.notifier_sent_topic,
            [(encode_key(decision.event_id), encode(sent))], partition=record.partition))
        MESSAGES_PRODUCED.labels(self.service, s.notifier_sent_topic).inc()
        self.ledger.add(record.partition, decision.event_id)
        ALERTS.labels(self.service, channel, "sent").inc()
        log_event(log, logging.INFO, "notifier.alert.sent", event_id=decision.event_id,
                  channel=channel, attempts=attempts, partition=record.partition,
                  offset=record.offset)
        return None
