"""A batch consume loop with manual commits after the work is durable.

The loop polls a batch, hands it to the service's handler, and commits the
next offsets only after the handler returned (the handler returns once its
output is acknowledged). The commit runs while the next batch is polled and
handled: an offset commit waits on the group coordinator (about 5 ms on a
Kafka 4 broker, which lingers that long before writing ``__consumer_offsets``),
and waiting for it before the next poll made every record queue behind it.
One commit is in flight at a time; offsets of batches handled meanwhile are
merged (the newest per partition) into the next one, so commits stay in order
and never hold the loop up. A failed commit still stops the loop. A rebalance
waits for the in-flight batch and the commits: the revocation callback takes
the same lock as batch processing and then waits until every queued offset is
committed, so a partition is never handed over between "work done" and
"offset committed".

A handler may also hand a batch off instead of finishing it: it returns a
future (a task) that completes once the batch's output is durable, and the
loop polls and hands over the next batch meanwhile. Offsets are committed in
batch order, each batch's once its future and every earlier batch's have
completed; at most :data:`MAX_UNSETTLED` batches are out at once, and a
rebalance, a stop and :meth:`BatchConsumerLoop.commit_finished` wait for them
all. A future that fails stops the loop with its error, like a handler that
raises. This keeps a sink busy across batch boundaries (the indexer decodes
the next poll while the last bulk requests of the previous one are indexed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import (
    BATCH_SIZE,
    CONSUMER_LAG,
    MESSAGES_CONSUMED,
    PROCESSING_SECONDS,
)

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Settlement: TypeAlias = "asyncio.Future[Any]"
"""Completes (its result ignored) once a handed-off batch's output is durable."""
BatchHandler = Callable[[Sequence[Record]], Awaitable["Settlement | None"]]
"""Handles a batch: returns ``None`` once it is done, or a :data:`Settlement`."""

MAX_UNSETTLED = 2
"""Batches handed off (the handler returned a settlement) and not yet settled."""


def next_offsets(records: Sequence[Record]) -> dict[TopicPartition, OffsetAndMetadata]:
    """The offsets to commit after ``records``: one past the last record per partition."""
    offsets: dict[TopicPartition, OffsetAndMetadata] = {}
    for record in records:
        tp = TopicPartition(record.topic, record.partition)
        current = offsets.get(tp)
        if current is None or record.offset + 1 > current.offset:
            offsets[tp] = OffsetAndMetadata(record.offset + 1, "")
    return offsets


def _retrieve(task: asyncio.Task[None]) -> None:
    # Marks a left task's error as seen (asyncio would otherwise log it at exit).
    if not task.cancelled():
        task.exception()


class _CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: BatchConsumerLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        # Wait for the in-flight batch (processing + commit) to finish before
        # the partitions go to another member.
        async with self._loop.batch_lock:
            await self._loop.commit_finished()
            log_event(log, logging.INFO, f"{self._loop.service}.partitions.revoked",
                      partitions=[f"{tp.topic}:{tp.partition}" for tp in revoked])
        for tp in revoked:
            with contextlib.suppress(KeyError):
                CONSUMER_LAG.remove(self._loop.service, tp.topic, str(tp.partition))
        for callback in self._loop.on_revoked:
            await callback(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        log_event(log, logging.INFO, f"{self._loop.service}.partitions.assigned",
                  partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned])
        for callback in self._loop.on_assigned:
            await callback(assigned)


class BatchConsumerLoop:
    """Runs ``handler`` over polled batches until :meth:`stop` is called.

    ``heartbeat`` is the monotonic time of the last completed poll, for liveness.
    """

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: Sequence[str],
        handler: BatchHandler,
        *,
        service: str,
        max_records: int = 500,
        poll_timeout_ms: int = 500,
        commit_offsets: bool = True,
    ) -> None:
        self.consumer = consumer
        self.service = service
        self.batch_lock = asyncio.Lock()
        self.heartbeat = time.monotonic()
        # Services hook partition-local state in here (restore on assignment,
        # drop on revocation); revocation hooks run after the in-flight batch.
        self.on_assigned: list[Callable[[list[TopicPartition]], Awaitable[None]]] = []
        self.on_revoked: list[Callable[[list[TopicPartition]], Awaitable[None]]] = []
        self._topics = list(topics)
        self._handler = handler
        self._max_records = max_records
        self._poll_timeout_ms = poll_timeout_ms
        # False when the handler commits offsets itself (inside a Kafka
        # transaction, together with its output).
        self._commit_offsets = commit_offsets
        self._stopping = asyncio.Event()
        # Offsets of handled batches not yet committed, and the task committing
        # them (one request at a time, the newest offset per partition).
        self._queued_offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        self._committer: asyncio.Task[None] | None = None
        # Handed-off batches in poll order (settlement, offsets after it, when the
        # handler started), and the task moving their offsets to the commit queue
        # as they settle.
        self._unsettled: deque[tuple[Settlement, dict[TopicPartition, OffsetAndMetadata],
                                     float]] = deque()
        self._settler: asyncio.Task[None] | None = None

    def subscribe(self) -> None:
        """Subscribe with the commit-on-revoke listener (call before :meth:`run`)."""
        if self._topics:
            self.consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))

    @property
    def topics(self) -> list[str]:
        """The subscribed topics."""
        return list(self._topics)

    @property
    def assigned(self) -> set[TopicPartition]:
        """Partitions currently assigned to this member."""
        return set(self.consumer.assignment())

    def stop(self) -> None:
        """Ask the loop to finish its current batch, commit and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Poll, handle, commit — until stopped. Handler exceptions propagate (bugs crash).

        Returns once the last batch's offsets are committed.
        """
        if not self._topics:
            await self._idle()
            return
        try:
            await self._poll_until_stopped()
            await self.commit_finished()
            self._raise_failed_settlement()
            self._raise_failed_commit()
        except BaseException:
            await self._abandon_unsettled()
            self._leave_commit()
            raise

    async def _poll_until_stopped(self) -> None:
        while not self._stopping.is_set():
            batches = await self.consumer.getmany(
                timeout_ms=self._poll_timeout_ms, max_records=self._max_records
            )
            self.heartbeat = time.monotonic()
            self._raise_failed_settlement()
            self._raise_failed_commit()
            records = [record for batch in batches.values() for record in batch]
            if not records:
                continue
            await self._room_for_a_batch()
            async with self.batch_lock:
                started = time.perf_counter()
                settlement = await self._handler(records)
                if settlement is not None or self._unsettled:
                    # Handed off (or queued behind a batch that was): committed in
                    # order once settled, and timed then.
                    self._hand_off(records, settlement, started)
                else:
                    if self._commit_offsets:
                        # Only now, with the batch's output acknowledged.
                        self._queue_commit(next_offsets(records))
                    PROCESSING_SECONDS.labels(self.service).observe(
                        time.perf_counter() - started)
            BATCH_SIZE.labels(self.service).observe(len(records))
            for tp, batch in batches.items():
                MESSAGES_CONSUMED.labels(self.service, tp.topic).inc(len(batch))
            await self._update_lag()
            self.heartbeat = time.monotonic()

    async def commit_finished(self) -> None:
        """Wait until every handed-off batch settled and every queued offset is committed.

        A failure (of a settlement or a commit) is not raised here (the
        rebalance listener calls this, and aiokafka only logs what a listener
        raises): the loop raises it.
        """
        settler = self._settler
        if settler is not None and not settler.done():
            await asyncio.wait([settler])
        committer = self._committer
        if committer is not None and not committer.done():
            await asyncio.wait([committer])

    def _raise_failed_commit(self) -> None:
        # Forget a finished committer; raise its error (the loop stops, as it
        # did when it awaited each commit itself).
        committer = self._committer
        if committer is not None and committer.done():
            self._committer = None
            committer.result()

    async def _room_for_a_batch(self) -> None:
        # Bounds the batches held (records and output) while sinks catch up.
        while len(self._unsettled) >= MAX_UNSETTLED:
            self._raise_failed_settlement()
            oldest = self._unsettled[0][0]
            if oldest.done():
                await asyncio.sleep(0)  # the settler takes it on its next turn
            else:
                await asyncio.wait([oldest])

    def _hand_off(self, records: Sequence[Record], settlement: Settlement | None,
                  started: float) -> None:
        if settlement is None:
            settlement = asyncio.get_running_loop().create_future()
            settlement.set_result(None)
        self._unsettled.append((settlement, next_offsets(records), started))
        if self._settler is None:
            self._settler = asyncio.create_task(self._settle_in_order())

    async def _settle_in_order(self) -> None:
        while self._unsettled:
            settlement, offsets, started = self._unsettled[0]
            await asyncio.wait([settlement])
            # A failure ends this task; the loop raises it (and abandons the rest).
            if settlement.cancelled():
                raise RuntimeError("a handed-off batch was cancelled before it settled")
            settlement.result()
            self._unsettled.popleft()
            PROCESSING_SECONDS.labels(self.service).observe(time.perf_counter() - started)
            if self._commit_offsets:
                self._queue_commit(offsets)
        self._settler = None

    def _raise_failed_settlement(self) -> None:
        settler = self._settler
        if settler is not None and settler.done():
            self._settler = None
            settler.result()

    async def _abandon_unsettled(self) -> None:
        # The loop is failing or cancelled: work handed off but not settled is
        # cancelled (its records are re-read from the last commit) and awaited.
        pending = [settlement for settlement, _, _ in self._unsettled]
        self._unsettled.clear()
        settler, self._settler = self._settler, None
        if settler is not None:
            pending.append(settler)
        for future in pending:
            future.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _leave_commit(self) -> None:
        # The loop is failing or cancelled: the commit in flight (of acknowledged
        # work) may still finish, but nobody will wait for it or raise its error.
        committer, self._committer = self._committer, None
        if committer is not None:
            committer.add_done_callback(_retrieve)

    def _queue_commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        # Later batches come later in each partition: their offsets replace
        # the queued ones. (A failed commit is raised here: by the loop, or by
        # the settler, whose failure the loop then raises.)
        self._raise_failed_commit()
        self._queued_offsets.update(offsets)
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_queued())

    async def _commit_queued(self) -> None:
        while self._queued_offsets:
            offsets, self._queued_offsets = self._queued_offsets, {}
            await self._commit(offsets)

    async def _idle(self) -> None:
        # A worker without input topics (e.g. the producer) only keeps the
        # heartbeat fresh until it is stopped.
        while not self._stopping.is_set():
            self.heartbeat = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=1.0)

    async def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced while we worked; another member will
            # re-process from the last commit. Handlers are idempotent.
            log_event(log, logging.WARNING, f"{self.service}.commit.failed_rebalance",
                      partitions=[f"{tp.topic}:{tp.partition}" for tp in offsets])
        except KafkaError as exc:
            log_event(log, logging.WARNING, f"{self.service}.commit.failed", error=str(exc))
            raise

    async def measure_lag(self) -> int:
        """Messages not yet committed on this member's partitions, asked of the broker.

        Unlike the per-batch gauge this also moves while a batch is stuck (a sink
        outage), because it compares the partitions' end offsets (the last stable
        offset for a ``read_committed`` consumer) with the committed offsets.
        Raises ``KafkaError`` when the broker cannot answer.
        """
        assigned = list(self.consumer.assignment())
        if not assigned:
            return 0
        ends = await self.consumer.end_offsets(assigned)
        committed = {tp: await self.consumer.committed(tp) for tp in assigned}
        never = [tp for tp, offset in committed.items() if offset is None]
        # A partition with no commit yet would be re-read from its beginning.
        starts = await self.consumer.beginning_offsets(never) if never else {}
        return sum(max(0, ends[tp] - (offset if offset is not None else starts[tp]))
                   for tp, offset in committed.items())

    async def _update_lag(self) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            # position() is local once the partition has been fetched from.
            position = await self.consumer.position(tp)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
