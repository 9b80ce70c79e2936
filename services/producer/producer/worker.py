"""The producer's work loop: paced publishing of transactions and their delayed labels."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import logging
import secrets
import time
from typing import Any, Literal, NamedTuple

from fraudstream_shared.events import TransactionLabel, encode, encode_key
from fraudstream_shared.kafka import KafkaWorker, input_topic
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_PRODUCED
from producer.control import ProducerControl
from producer.pacing import TokenBucket, seconds_until_token, take, with_rate
from producer.settings import ProducerSettings
from producer.simulation import SimulationConfig, Simulator
from producer.sources import Outgoing, ReplaySource, SimulatedSource, Source, utc_now

log = logging.getLogger(__name__)

IDLE_WAKEUP_S = 1.0
"""Longest sleep of the loop, so the liveness heartbeat stays fresh."""

FLUSH_CHUNK = 5000
"""Labels flushed at shutdown are sent in chunks of this many, each awaited."""


class PendingLabel(NamedTuple):
    """A label waiting for its publication time (a heap entry: ordered by ``due``)."""

    due: float
    seq: int
    entity_id: str
    event_id: str
    label: Literal["fraud", "legit"]
    merchant_id: str | None
    scenario: str | None


class ProducerWorker(KafkaWorker):
    """Publishes transactions keyed by ``entity_id`` at a paced rate, then their labels.

    It consumes nothing: :meth:`run` replaces the consume loop. Every transaction
    with a label gets a :class:`TransactionLabel` on the labels topic
    ``LABEL_DELAY_S`` later; labels still pending at shutdown are published
    straight away.
    """

    def __init__(self, settings: ProducerSettings) -> None:
        partitions, replicas = settings.kafka_topic_partitions, settings.kafka_replication_factor
        super().__init__(
            settings,
            input_topics=[],
            topics=[input_topic(settings.transactions_topic, partitions, replicas),
                    input_topic(settings.labels_topic, partitions, replicas)],
        )
        self.config = settings
        self.control = ProducerControl(mode=settings.producer_mode,
                                       rate_per_s=settings.producer_rate_per_s,
                                       running=settings.producer_autostart)
        self.source: Source | None = None
        self._pending: list[PendingLabel] = []
        self._seq = 0
        self._stopping = asyncio.Event()
        self.drained = asyncio.Event()
        """Set once a replay is finished and every one of its labels is published."""

    async def start(self) -> None:
        """Check the replay file before connecting, so a typo fails fast and leaks nothing."""
        path = self.config.producer_replay_file
        if self.config.producer_mode == "replay" and (path is None or not path.is_file()):
            raise FileNotFoundError(f"replay file not found: {path}")
        await super().start()

    async def on_start(self) -> None:
        """Build the source (the population build takes seconds: off the event loop)."""
        settings = self.config
        if settings.producer_mode == "replay":
            assert settings.producer_replay_file is not None  # checked in start()
            self.source = ReplaySource(settings.producer_replay_file,
                                       keep_event_time=settings.producer_replay_keep_event_time)
        else:
            config = SimulationConfig(n_customers=settings.producer_customers,
                                      n_merchants=settings.producer_merchants)
            simulator = await asyncio.to_thread(Simulator, config, settings.producer_seed)
            # A fresh stream per run unless pinned: event ids must never repeat.
            stream_seed = settings.producer_stream_seed
            if stream_seed is None:
                stream_seed = secrets.randbits(63)
            self.source = SimulatedSource(simulator, stream_seed)
        log_event(log, logging.INFO, "producer.source.ready", mode=settings.producer_mode,
                  running=self.control.running, rate_per_s=self.control.rate_per_s)

    def stop(self) -> None:
        """Ask :meth:`run` to finish the current batch, flush pending labels and return."""
        self._stopping.set()
        self.control.wake.set()

    async def run(self) -> None:
        """Publish until stopped; pending labels are flushed on the way out."""
        control = self.control
        max_batch = self.config.producer_max_batch
        bucket = TokenBucket.start(control.rate_per_s, time.monotonic(), max_batch)
        try:
            while not self._stopping.is_set():
                self.loop.heartbeat = time.monotonic()
                now = time.monotonic()
                if bucket.rate_per_s != control.rate_per_s:
                    bucket = with_rate(bucket, control.rate_per_s, now, max_batch)
                batch: list[Outgoing] = []
                if control.running and not control.finished and self.source is not None:
                    granted, bucket = take(bucket, now, max_batch)
                    batch = self.source.take(granted)
                    self._sync_source_state()
                labels = self._due_labels(now)
                if batch or labels:
                    await self._publish(batch, labels)
                    continue
                if control.finished and not self._pending:
                    self.drained.set()
                await self._sleep(self._next_wakeup(bucket, now))
        finally:
            await self._flush_pending_labels()

    def _sync_source_state(self) -> None:
        source = self.source
        if isinstance(source, ReplaySource):
            self.control.rows_read = source.rows_read
            self.control.rows_invalid = source.rows_invalid
        if source is not None and source.finished:
            self.control.finished = True

    def _next_wakeup(self, bucket: TokenBucket, now: float) -> float:
        delay = IDLE_WAKEUP_S
        if self.control.running and not self.control.finished:
            delay = min(delay, seconds_until_token(bucket, now))
        if self._pending:
            delay = min(delay, max(0.0, self._pending[0].due - now))
        return delay

    async def _sleep(self, seconds: float) -> None:
        # Woken early by the control API (start/stop/rate) and by stop().
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.control.wake.wait(), timeout=seconds)
        self.control.wake.clear()

    def _due_labels(self, now: float) -> list[PendingLabel]:
        due = []
        while self._pending and self._pending[0].due <= now:
            due.append(heapq.heappop(self._pending))
        return due

    async def _publish(self, batch: list[Outgoing], labels: list[PendingLabel]) -> None:
        """Send the batch and the due labels, and return once the broker acknowledged all."""
        settings = self.config
        futures: list[asyncio.Future[Any]] = []
        for message in batch:
            value = json.dumps(message.payload, separators=(",", ":")).encode("utf-8")
            futures.append(await self.producer.send(
                settings.transactions_topic, value=value, key=encode_key(message.entity_id)))
        futures.extend([await self._send_label(label) for label in labels])
        await asyncio.gather(*futures)
        sent_at = time.monotonic()
        for message in batch:
            if message.label is not None:
                self._seq += 1
                heapq.heappush(self._pending, PendingLabel(
                    sent_at + settings.label_delay_s, self._seq, message.entity_id,
                    message.event_id, message.label, message.merchant_id, message.scenario))
        self.control.produced += len(batch)
        self.control.labels_published += len(labels)
        self.control.labels_pending = len(self._pending)
        if batch:
            MESSAGES_PRODUCED.labels(self.service, settings.transactions_topic).inc(len(batch))
        if labels:
            MESSAGES_PRODUCED.labels(self.service, settings.labels_topic).inc(len(labels))

    async def _send_label(self, pending: PendingLabel) -> asyncio.Future[Any]:
        label = TransactionLabel(
            event_id=pending.event_id, entity_id=pending.entity_id,
            label=pending.label,
            labelled_at=utc_now(), merchant_id=pending.merchant_id, scenario=pending.scenario,
        )
        future: asyncio.Future[Any] = await self.producer.send(
            self.config.labels_topic, value=encode(label), key=encode_key(pending.entity_id))
        return future

    async def _flush_pending_labels(self) -> None:
        """Publish every label still waiting, now, rather than lose it."""
        if not self._pending or not hasattr(self, "producer"):
            return
        count = len(self._pending)
        log_event(log, logging.INFO, "producer.labels.flushed_at_shutdown", count=count,
                  delay_s=self.config.label_delay_s)
        try:
            while self._pending:
                chunk = [heapq.heappop(self._pending)
                         for _ in range(min(FLUSH_CHUNK, len(self._pending)))]
                await self._publish([], chunk)
        except Exception as exc:
            log_event(log, logging.ERROR, "producer.labels.lost", count=len(self._pending),
                      error=f"{type(exc).__name__}: {exc}")
            raise
