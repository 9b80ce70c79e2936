"""The batch loop's commits: after the handler, off the poll path, in order, never lost.

A scripted stand-in for the consumer (batches to return, commits that finish
only when the test lets them) shows the order of events; the real broker
round trip is covered by tests/integration/test_shared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from prometheus_client import REGISTRY

from fraudstream_shared.kafka import BatchConsumerLoop
from fraudstream_shared.kafka.consumer import MAX_UNSETTLED, Record

TP0, TP1 = TopicPartition("t", 0), TopicPartition("t", 1)


def _record(tp: TopicPartition, offset: int) -> Record:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, None, b"v", None, 0, 1, ())


class ScriptedConsumer:
    """Returns the given batches one poll at a time; each commit waits for ``release``."""

    def __init__(self, batches: list[list[Record]]) -> None:
        self.batches = batches
        self.events: list[str] = []
        self.committed: list[dict[TopicPartition, int]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.fail_commits = False
        self.drained = asyncio.Event()

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[TopicPartition, Any]:
        await asyncio.sleep(0)  # a poll is a suspension point, as the real one
        if not self.batches:
            self.drained.set()
            await asyncio.sleep(0.001)
            return {}
        batch = self.batches.pop(0)
        self.events.append(f"poll {[r.offset for r in batch]}")
        by_tp: dict[TopicPartition, list[Record]] = {}
        for record in batch:
            by_tp.setdefault(TopicPartition(record.topic, record.partition), []).append(record)
        return by_tp

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        plain = {tp: meta.offset for tp, meta in offsets.items()}
        self.events.append(f"commit start {sorted(plain.values())}")
        await self.release.wait()
        if self.fail_commits:
            raise KafkaConnectionError("broker gone")
        self.committed.append(plain)
        self.events.append(f"commit done {sorted(plain.values())}")

    def assignment(self) -> set[TopicPartition]:
        return set()


def _loop(consumer: ScriptedConsumer, handled: list[list[int]]) -> BatchConsumerLoop:
    async def handler(records: Sequence[Record]) -> None:
        consumer.events.append(f"handled {[r.offset for r in records]}")
        handled.append([r.offset for r in records])

    return BatchConsumerLoop(consumer, ["t"], handler, service="unit")


async def test_a_batch_is_committed_after_its_handler_and_before_run_returns() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0), _record(TP0, 1)]])
    handled: list[list[int]] = []
    loop = _loop(consumer, handled)
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    loop.stop()
    await task
    assert consumer.events == ["poll [0, 1]", "handled [0, 1]", "commit start [2]",
                               "commit done [2]"]
    assert consumer.committed == [{TP0: 2}]


async def test_the_next_batch_is_handled_while_a_commit_is_in_flight() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)], [_record(TP1, 5)], [_record(TP0, 1)]])
    consumer.release.clear()  # the first commit hangs until released
    handled: list[list[int]] = []
    loop = _loop(consumer, handled)
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    # Every batch was handled although the first commit has not finished.
    assert handled == [[0], [5], [1]]
    assert consumer.events.index("commit start [1]") < consumer.events.index("handled [5]")
    assert consumer.committed == []
    loop.stop()
    consumer.release.set()
    await task
    # One commit at a time: the first batch's, then the others' merged (newest per partition).
    assert consumer.committed == [{TP0: 1}, {TP1: 6, TP0: 2}]


async def test_a_rebalance_waits_for_queued_offsets_to_be_committed() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)], [_record(TP0, 1)]])
    consumer.release.clear()
    loop = _loop(consumer, [])
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    waiting = asyncio.create_task(loop.commit_finished())
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the commits are still held back
    consumer.release.set()
    await waiting
    assert consumer.committed == [{TP0: 1}, {TP0: 2}]
    loop.stop()
    await task


async def test_a_failed_commit_stops_the_loop() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)]])
    consumer.fail_commits = True
    loop = _loop(consumer, [])
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(loop.run(), timeout=10)


# -- handed-off batches (the handler returns a settlement) -------------------


class HandOff:
    """A handler that hands every batch off; the test settles each (by its first offset)."""

    def __init__(self, consumer: ScriptedConsumer, done_at_once: set[int] = frozenset()) -> None:
        self.consumer = consumer
        self.done_at_once = done_at_once
        self.settlements: dict[int, asyncio.Future[None]] = {}
        self.handled = asyncio.Event()

    async def wait_handed_off(self, count: int) -> None:
        """Until ``count`` batches were handed off."""
        async with asyncio.timeout(5):
            while len(self.settlements) < count:
                self.handled.clear()
                await self.handled.wait()

    async def __call__(self, records: Sequence[Record]) -> asyncio.Future[None] | None:
        first = records[0].offset
        self.consumer.events.append(f"handled {[r.offset for r in records]}")
        self.handled.set()
        if first in self.done_at_once:
            return None  # finished in the handler, like a handler without hand-off
        settlement = self.settlements[first] = asyncio.get_running_loop().create_future()
        return settlement

    def settle(self, first: int) -> None:
        self.settlements[first].set_result(None)


def _hand_off_loop(consumer: ScriptedConsumer, handler: HandOff) -> BatchConsumerLoop:
    return BatchConsumerLoop(consumer, ["t"], handler, service="unit")


async def test_a_handed_off_batch_is_committed_once_settled_and_in_batch_order() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)], [_record(TP0, 1)]])
    handler = HandOff(consumer)
    loop = _hand_off_loop(consumer, handler)
    task = asyncio.create_task(loop.run())
    # The second batch is handled while the first is not settled.
    await handler.wait_handed_off(2)
    assert consumer.committed == []
    handler.settle(1)  # the later batch settles first: nothing may be committed yet
    await asyncio.sleep(0.01)
    assert consumer.committed == []
    handler.settle(0)
    await asyncio.wait_for(loop.commit_finished(), timeout=5)
    loop.stop()
    await asyncio.wait_for(task, timeout=5)
    # In order: the first batch's offset, then the second's (or both merged into one).
    assert [c[TP0] for c in consumer.committed] in ([1, 2], [2])
    assert consumer.committed[-1] == {TP0: 2}


async def test_a_batch_finished_by_its_handler_waits_for_an_earlier_handed_off_one() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)], [_record(TP0, 1)]])
    handler = HandOff(consumer, done_at_once={1})
    loop = _hand_off_loop(consumer, handler)
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    await asyncio.sleep(0.01)
    assert consumer.committed == []  # offset 2 would skip the unsettled offset 0
    handler.settle(0)
    loop.stop()
    await asyncio.wait_for(task, timeout=5)
    assert consumer.committed[-1] == {TP0: 2}


async def test_no_more_than_max_unsettled_batches_are_handed_off() -> None:
    consumer = ScriptedConsumer([[_record(TP0, i)] for i in range(MAX_UNSETTLED + 1)])
    handler = HandOff(consumer)
    loop = _hand_off_loop(consumer, handler)
    task = asyncio.create_task(loop.run())
    await handler.wait_handed_off(MAX_UNSETTLED)
    await asyncio.sleep(0.01)
    # The next batch is polled but not handed to the handler until one settles.
    assert len(handler.settlements) == MAX_UNSETTLED
    handler.settle(0)
    await handler.wait_handed_off(MAX_UNSETTLED + 1)
    for first in range(1, MAX_UNSETTLED + 1):
        handler.settle(first)
    loop.stop()
    await asyncio.wait_for(task, timeout=5)
    assert consumer.committed[-1] == {TP0: MAX_UNSETTLED + 1}


async def test_stop_and_a_rebalance_wait_for_handed_off_batches() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)]])
    handler = HandOff(consumer)
    loop = _hand_off_loop(consumer, handler)
    task = asyncio.create_task(loop.run())
    await consumer.drained.wait()
    waiting = asyncio.create_task(loop.commit_finished())
    loop.stop()
    await asyncio.sleep(0.01)
    assert not waiting.done()
    assert not task.done()
    handler.settle(0)
    await asyncio.wait_for(waiting, timeout=5)
    await asyncio.wait_for(task, timeout=5)
    assert consumer.committed == [{TP0: 1}]


@pytest.mark.parametrize("how", ["fails", "is cancelled"])
async def test_a_failed_settlement_stops_the_loop_and_abandons_the_later_ones(how: str) -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)], [_record(TP0, 1)]])
    handler = HandOff(consumer)
    loop = _hand_off_loop(consumer, handler)
    task = asyncio.create_task(loop.run())
    await handler.wait_handed_off(2)
    if how == "fails":
        handler.settlements[0].set_exception(ValueError("a bug in the sink"))
    else:
        handler.settlements[0].cancel()
    expected = ValueError if how == "fails" else RuntimeError
    with pytest.raises(expected):
        await asyncio.wait_for(task, timeout=5)
    # The later batch's work was cancelled and awaited; nothing was committed.
    assert handler.settlements[1].cancelled()
    assert consumer.committed == []


async def test_a_handed_off_batch_is_timed_from_its_poll_to_its_settlement() -> None:
    consumer = ScriptedConsumer([[_record(TP0, 0)]])
    handler = HandOff(consumer)
    loop = BatchConsumerLoop(consumer, ["t"], handler, service="unit-timed")

    def observed() -> tuple[float, float]:
        labels = {"service": "unit-timed"}
        count = REGISTRY.get_sample_value("fraudstream_batch_processing_seconds_count", labels)
        total = REGISTRY.get_sample_value("fraudstream_batch_processing_seconds_sum", labels)
        return count or 0.0, total or 0.0

    task = asyncio.create_task(loop.run())
    await handler.wait_handed_off(1)
    await asyncio.sleep(0.05)
    assert observed() == (0.0, 0.0)  # not durable yet, so not timed yet
    handler.settle(0)
    loop.stop()
    await asyncio.wait_for(task, timeout=5)
    count, total = observed()
    assert count == 1
    assert total >= 0.05
