"""The scorer's loop: decode, compute features, score, apply rules, publish — exactly once.

With ``SCORER_EXACTLY_ONCE`` (the default) every poll batch is processed per
input partition inside one Kafka transaction that holds the decisions, the
dead letters, the feature-state changelog and the input offsets; downstream
readers use ``read_committed``. Without it, decisions are published with the
shared idempotent producer and offsets are committed after the broker acked
them (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, ProducerFenced

from fraudstream_shared.events import Transaction, TransactionLabel, decode, encode, encode_key
from fraudstream_shared.exceptions import PoisonMessageError
from fraudstream_shared.kafka import (
    KafkaWorker,
    Record,
    TopicSpec,
    compacted_topic,
    create_reader,
    dead_letter_spec,
    input_topic,
    send_batched,
)
from fraudstream_shared.kafka.transactions import PartitionProducers, rewind_to_committed
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_CONSUMED, MESSAGES_FAILED, MESSAGES_PRODUCED
from scorer.engine import Engine, ScoredBatch
from scorer.metrics import CHANGELOG_BYTES, CHANGELOG_RECORDS, STATE_ENTITIES
from scorer.model import Model
from scorer.partitions import (
    PartitionState,
    changelog_tally,
    changelog_topic,
    expire_idle,
    restore_partition,
)
from scorer.settings import ScorerSettings

log = logging.getLogger(__name__)

EXPIRY_EVERY_S = 60.0
"""How often (wall clock) each partition's store drops idle entities."""


def state_problem(assigned: Iterable[TopicPartition],
                  restored: Iterable[TopicPartition]) -> str | None:
    """Readiness of the feature state: ``None``, or the assigned partitions not restored yet.

    Judged against the consumer's assignment itself, which aiokafka updates
    before the rebalance callback that queues the restores has run.
    """
    waiting = sorted(tp.partition for tp in set(assigned) - set(restored))
    if not waiting:
        return None
    return f"restoring the feature state of partitions {', '.join(map(str, waiting))}"


def warn_partition_mismatch(topic: str, topic_partitions: int, model: Model) -> bool:
    """Log ``scorer.model.partitions_mismatch`` if the topic is not split as in training.

    Merchant and IP aggregates are per input partition, so a model trained for
    N partitions is served other values from a topic with M != N partitions.
    Returns whether it warned.
    """
    if topic_partitions == model.partitions:
        return False
    log_event(log, logging.WARNING, "scorer.model.partitions_mismatch", topic=topic,
              topic_partitions=topic_partitions, model_partitions=model.partitions,
              model_version=model.version,
              hint="merchant and IP features differ from those the model was trained on; "
                   f"retrain with make train PARTITIONS={topic_partitions}")
    return True



LABEL_TOPIC_POLL_S = 1.0
"""How often the label follower asks again for a labels topic that is not there yet."""


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> set[int]:
    """The partitions of ``topic``, asked of the broker, waiting until it exists.

    Not the reader's ``partitions_for_topic``: a consumer that subscribed to
    nothing has no metadata for the topic and answers ``None``, so the follower
    would assign itself nothing and never see a label.
    """
    while True:
        described = await admin.describe_topics([topic])
        if described and not described[0].get("error_code") and described[0]["partitions"]:
            return {int(p["partition"]) for p in described[0]["partitions"]}
        log_event(log, logging.INFO, "scorer.labels.topic_missing", topic=topic)
        await asyncio.sleep(LABEL_TOPIC_POLL_S)


Scored = tuple[ScoredBatch, list[tuple[Record, PoisonMessageError]]]
"""One partition batch's decisions and its dead letters (each record with its error)."""


class ScorerWorker(KafkaWorker):
    """Scores each batch of ``transactions`` and publishes ``processed_transactions``."""

    def __init__(self, settings: ScorerSettings) -> None:
        n, rf = settings.kafka_topic_partitions, settings.kafka_replication_factor
        self.scorer_settings = settings
        self.changelog = changelog_topic(settings.consumer_group)
        super().__init__(
            settings,
            input_topics=[settings.transactions_topic],
            topics=[
                input_topic(settings.transactions_topic, n, rf),
                TopicSpec(settings.decisions_topic, n, rf),
                dead_letter_spec(settings.transactions_topic, n, rf),
                TopicSpec(settings.labels_topic, n, rf),
                compacted_topic(self.changelog, n, rf),
            ],
            max_records=settings.scorer_max_batch,
            poll_timeout_ms=settings.scorer_commit_interval_ms,
            commit_offsets=not settings.scorer_exactly_once,
        )
        self.engine = Engine.from_settings(settings)
        log_event(log, logging.INFO, "scorer.features.store", kind=self.engine.store_kind)
        self.partitions: dict[TopicPartition, PartitionState] = {}
        self._unrestored: set[TopicPartition] = set()
        """Assigned (and fenced) partitions whose state is not restored yet."""
        self._restore_task: asyncio.Task[None] | None = None
        self.txn_producers = PartitionProducers(
            settings, app_id=settings.consumer_group,
            transaction_timeout_ms=settings.scorer_transaction_timeout_ms,
        )
        self._labels_task: asyncio.Task[None] | None = None
        self._labels_seen = 0

    # -- lifecycle --------------------------------------------------------

    async def on_start(self) -> None:
        """Hook partition ownership and start following the labels topic."""
        self.loop.on_assigned.append(self._on_assigned)
        self.loop.on_revoked.append(self._on_revoked)
        await self.engine.start()
        self._labels_task = asyncio.create_task(self._follow_labels(), name="scorer-labels")

    async def on_close(self) -> None:
        """Stop following labels and restoring, and release the transactional producers."""
        for task in (self._labels_task, self._restore_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.txn_producers.close()
        await self.engine.close()

    async def extra_readiness(self) -> dict[str, str | None]:
        """The model and rules are loaded; the label follower is alive; the state is restored.

        A partition's decisions read its feature state, so a scorer is not ready
        until the state of every partition it was assigned has been read back.
        """
        checks = {"backend": await self.engine.problem()}
        task = self._labels_task
        checks["labels"] = (None if task is not None and not task.done()
                            else "the labels follower is not running")
        checks["state"] = state_problem(self.loop.assigned, self.partitions)
        return checks

    # -- partition ownership ---------------------------------------------

    async def _on_assigned(self, assigned: list[TopicPartition]) -> None:
        self._check_partition_count()
        new = [tp for tp in assigned if tp not in self.partitions and tp not in self._unrestored]
        if not new:
            return
        async with self.loop.batch_lock:
            if self.scorer_settings.scorer_exactly_once:
                # Fence any previous owner first, so what we restore and where we
                # resume is exactly what was committed.
                await self.txn_producers.acquire(new)
            # The state is restored after this callback, not in it: aiokafka sends
            # no heartbeats while it runs, so a restore longer than the session
            # timeout (10 s) got the member expelled, and every rejoin restored
            # again (a rebalance loop under load).
            self._unrestored.update(new)
        # Now rather than by the first batch, so that an idle partition's state is
        # read too and readiness can wait for it. The task takes the batch lock
        # once this callback has let go of it; a batch that gets there first
        # restores the same partitions itself and leaves the task nothing to do.
        if self._restore_task is None or self._restore_task.done():
            self._restore_task = asyncio.create_task(self._restore_assigned(),
                                                     name="scorer-restore")

    async def _restore_assigned(self) -> None:
        """Restore every pending partition under the batch lock, outside any batch.

        A failure leaves the partitions pending: the next batch restores them
        (and applies the service's error policy if that fails too), and readiness
        says which are missing meanwhile.
        """
        try:
            async with self.loop.batch_lock:
                await self._restore_pending()
        except Exception as exc:  # the next batch retries, under the usual policy
            log_event(log, logging.WARNING, "scorer.state.restore_deferred",
                      partitions=sorted(tp.partition for tp in self._unrestored),
                      error=f"{type(exc).__name__}: {exc}")

    async def _restore_pending(self) -> None:
        """Restore the state of every partition that is assigned but not restored yet.

        All at once, whichever partitions the batch at hand holds: restored one
        batch at a time, each partition's restore stalled every partition behind it.
        """
        pending = set(self._unrestored)
        if not pending:
            return
        await asyncio.gather(*(self._restore(tp) for tp in pending))
        self._unrestored -= pending

    def _check_partition_count(self) -> None:
        topic = self.scorer_settings.transactions_topic
        found = self.consumer.partitions_for_topic(topic)
        if found:
            warn_partition_mismatch(topic, len(found), self.engine.model)

    async def _restore(self, tp: TopicPartition) -> None:
        state = PartitionState(tp, self.engine.new_store())
        state.restored_records = await restore_partition(
            self.settings, self.changelog, tp.partition, state.store)
        committed = await rewind_to_committed(self.consumer, tp)
        state.next_offset = committed
        self.partitions[tp] = state

    async def _on_revoked(self, revoked: list[TopicPartition]) -> None:
        for tp in revoked:
            self.partitions.pop(tp, None)
            self._unrestored.discard(tp)
            with contextlib.suppress(KeyError):  # no batch of it was ever written
                STATE_ENTITIES.remove(self.service, str(tp.partition))
        await self.txn_producers.release(revoked)

    # -- labels -----------------------------------------------------------

    async def _follow_labels(self) -> None:
        """Count every label (from the beginning of the topic) in the shared merchant risk.

        Merchant risk may only use labels that have arrived: a label counts from
        its ``labelled_at`` on, never before.
        """
        reader = create_reader(self.settings)
        await reader.start()
        try:
            topic = self.scorer_settings.labels_topic
            partitions = await topic_partitions(self.admin, topic)
            reader.assign([TopicPartition(topic, p) for p in partitions])
            while True:
                batches = await reader.getmany(timeout_ms=1000, max_records=5000)
                for batch in batches.values():
                    for record in batch:
                        try:
                            label = decode(TransactionLabel, record.value)
                        except PoisonMessageError as error:
                            log_event(log, logging.WARNING, "scorer.label.invalid",
                                      partition=record.partition, offset=record.offset,
                                      reason=error.reason)
                            continue
                        self.engine.remember_label(label)
                        self._labels_seen += 1
                        MESSAGES_CONSUMED.labels(self.service, topic).inc()
        finally:
            await reader.stop()

    # -- the batch --------------------------------------------------------

    async def handle_batch(self, records: Sequence[Record]) -> None:
        """Decide every record of the batch (or dead-letter it) and make it durable."""
        by_partition: dict[TopicPartition, list[Record]] = {}
        for record in records:
            by_partition.setdefault(TopicPartition(record.topic, record.partition), []).append(
                record)
        # Under the batch lock, with heartbeats running: the fetcher may hold
        # records of a partition fetched before its state and position are restored.
        await self._restore_pending()
        work = {}
        for tp, batch in by_partition.items():
            if tp not in self.partitions:
                # Revoked while this batch was in flight: the new owner has it.
                continue
            fresh = self.partitions[tp].fresh(batch)
            if fresh:
                work[tp] = fresh
        # Every partition's batch is decided in one engine call (one model call),
        # then each partition's results are made durable on their own.
        scored = await self._score(work)
        step = (self._transaction if self.scorer_settings.scorer_exactly_once
                else self._at_least_once)
        await asyncio.gather(*(step(tp, batch, *scored[tp]) for tp, batch in work.items()))

    def _state(self, tp: TopicPartition) -> PartitionState:
        state = self.partitions.get(tp)
        if state is None:
            # Records are only handed out for assigned partitions, and assignment
            # restores state under the batch lock: this would be a bug.
            raise RuntimeError(f"no state for {tp.topic}:{tp.partition}")
        return state

    async def _score(self, work: Mapping[TopicPartition, Sequence[Record]]
                     ) -> dict[TopicPartition, Scored]:
        """Decode each partition's records and decide the valid ones, all partitions at once."""
        started = datetime.now(UTC)
        states, valid, poison = [], [], []
        for tp, records in work.items():
            states.append(self._state(tp))
            ok: list[Transaction] = []
            bad: list[tuple[Record, PoisonMessageError]] = []
            for record in records:
                try:
                    ok.append(decode(self.engine.transaction_model, record.value))
                except PoisonMessageError as error:
                    bad.append((record, error))
            valid.append(ok)
            poison.append(bad)
        decided = await self.engine.decide_batches(
            [(txs, state.store) for txs, state in zip(valid, states, strict=True)], started)
        for state in states:
            self._maybe_expire(state)
        return {tp: (batch, bad)
                for tp, batch, bad in zip(work, decided, poison, strict=True)}

    def _maybe_expire(self, state: PartitionState) -> None:
        expired = expire_idle(state, time.monotonic(), EXPIRY_EVERY_S)
        if expired:
            log_event(log, logging.INFO, "scorer.state.expired", partition=state.tp.partition,
                      entities=expired, remaining=len(state.store))

    async def _send_all(self, producer: AIOKafkaProducer, tp: TopicPartition,
                        scored: ScoredBatch, poison: list[tuple[Record, PoisonMessageError]],
                        changelog: bool) -> list[asyncio.Future[object]]:
        # One record batch per output partition rather than a send() per record:
        # a third of the CPU, the same partitions, and inside the transaction alike.
        futures = await send_batched(
            producer, self.scorer_settings.decisions_topic,
            [(encode_key(d.entity_id), encode(d)) for d in scored.decisions])
        for record, error in poison:
            futures.append(await self.dead_letters.send(record, error, producer=producer))
        if changelog:
            state = self._state(tp)
            records = state.changelog_records()
            futures += await send_batched(producer, self.changelog, records,
                                          partition=tp.partition)
            self._count_changelog(records)
            STATE_ENTITIES.labels(self.service, str(tp.partition)).set(len(state.store))
        return futures

    def _count_changelog(self, records: Sequence[tuple[bytes, bytes | None]]) -> None:
        """Changelog records by kind and their bytes (the state's write amplification)."""
        tally = changelog_tally(records)
        for kind, count in (("head", tally.heads), ("history", tally.histories),
                            ("tombstone", tally.tombstones)):
            if count:
                CHANGELOG_RECORDS.labels(self.service, kind).inc(count)
        CHANGELOG_BYTES.labels(self.service).inc(tally.value_bytes)

    async def _transaction(self, tp: TopicPartition, records: Sequence[Record],
                           scored: ScoredBatch,
                           poison: list[tuple[Record, PoisonMessageError]]) -> None:
        producer = self.txn_producers.get(tp)
        try:
            async with producer.transaction():
                futures = await self._send_all(producer, tp, scored, poison, changelog=True)
                await asyncio.gather(*futures)
                await producer.send_offsets_to_transaction(
                    {tp: records[-1].offset + 1}, self.settings.consumer_group)
        except ProducerFenced:
            # Another instance owns this partition now; it resumes from the
            # last commit. Drop ours and let the rebalance catch up with us.
            log_event(log, logging.WARNING, "scorer.partition.fenced",
                      topic=tp.topic, partition=tp.partition)
            self.partitions.pop(tp, None)
            await self.txn_producers.release([tp])
            raise
        except KafkaError as exc:
            # The transaction was aborted: nothing of it is visible. Re-read the
            # records and rebuild the state from what was committed.
            MESSAGES_FAILED.labels(self.service, "transaction").inc()
            log_event(log, logging.WARNING, "scorer.transaction.aborted", topic=tp.topic,
                      partition=tp.partition, offset=records[0].offset, error=str(exc))
            await self._recover(tp)
            return
        self._state(tp).next_offset = records[-1].offset + 1
        self._account(scored, poison)

    async def _recover(self, tp: TopicPartition) -> None:
        self.partitions.pop(tp, None)
        await self.txn_producers.release([tp])
        await self.txn_producers.acquire([tp])
        await self._restore(tp)

    async def _at_least_once(self, tp: TopicPartition, records: Sequence[Record],
                             scored: ScoredBatch,
                             poison: list[tuple[Record, PoisonMessageError]]) -> None:
        futures = await self._send_all(self.producer, tp, scored, poison, changelog=True)
        await asyncio.gather(*futures)
        self._state(tp).next_offset = records[-1].offset + 1
        self._account(scored, poison)

    def _account(self, scored: ScoredBatch,
                 poison: list[tuple[Record, PoisonMessageError]]) -> None:
        MESSAGES_PRODUCED.labels(self.service, self.scorer_settings.decisions_topic).inc(
            len(scored.decisions))
        log_event(log, logging.DEBUG, "scorer.batch.decided", decided=len(scored.decisions),
                  dead_lettered=len(poison))
