"""The scorer's partitions: a warning when the input topic is not split as in training; restores."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from scorer.model import Model
from scorer.worker import warn_partition_mismatch


def mismatch_events(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [getattr(r, "fields", {}) for r in caplog.records
            if r.getMessage() == "scorer.model.partitions_mismatch"]


def test_a_topic_with_the_models_partition_count_is_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    model = Model.load()
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        assert warn_partition_mismatch("transactions", model.partitions, model) is False
    assert mismatch_events(caplog) == []


def test_another_partition_count_is_a_warning_naming_both(
        caplog: pytest.LogCaptureFixture) -> None:
    model = Model.load()
    other = model.partitions + 2
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        assert warn_partition_mismatch("transactions", other, model) is True
    [fields] = mismatch_events(caplog)
    assert fields["topic_partitions"] == other
    assert fields["model_partitions"] == model.partitions
    assert fields["model_version"] == model.version
    assert f"PARTITIONS={other}" in str(fields["hint"])


async def test_the_first_batch_restores_every_assigned_partition_at_once() -> None:
    """Not only the batch's: restored one batch at a time, each restore stalled the rest."""
    from aiokafka import TopicPartition

    from scorer.settings import ScorerSettings
    from scorer.worker import ScorerWorker

    worker = ScorerWorker(ScorerSettings())
    pending = {TopicPartition("transactions", p) for p in range(3)}
    worker._unrestored = set(pending)
    running: list[int] = []
    overlapped: list[int] = []

    async def restore(tp: TopicPartition) -> None:
        running.append(tp.partition)
        await asyncio.sleep(0)  # the others start before this one ends
        overlapped.append(len(running))

    worker._restore = restore
    await worker._restore_pending()
    assert sorted(running) == [0, 1, 2]
    assert overlapped == [3, 3, 3]  # all three were under way together
    assert worker._unrestored == set()
    await worker._restore_pending()  # nothing left: nothing restored again
    assert len(running) == 3


def test_the_state_is_ready_when_every_assigned_partition_is_restored() -> None:
    from aiokafka import TopicPartition

    from scorer.worker import state_problem

    tps = [TopicPartition("transactions", p) for p in range(4)]
    assert state_problem(tps, tps) is None
    assert state_problem([], []) is None
    assert state_problem(tps, tps[1:3]) == "restoring the feature state of partitions 0, 3"
    # Restored but no longer assigned (revoked meanwhile) is no reason to wait.
    assert state_problem(tps[:1], tps) is None


def idle_worker() -> Any:
    """A scorer worker with its batch loop but no Kafka client.

    Exactly-once off (no fencing) and no partition-count check (it asks the consumer).
    """
    from fraudstream_shared.kafka.consumer import BatchConsumerLoop
    from scorer.settings import ScorerSettings
    from scorer.worker import ScorerWorker

    worker = ScorerWorker(ScorerSettings(scorer_exactly_once=False))
    worker.loop = BatchConsumerLoop(None, [], worker.handle_batch, service=worker.service)
    worker._check_partition_count = lambda: None
    return worker


async def test_assignment_restores_every_new_partition_without_waiting_for_a_batch() -> None:
    """An idle partition is restored too: no record has to arrive first."""
    from aiokafka import TopicPartition

    worker = idle_worker()
    restored: list[int] = []

    async def restore(tp: TopicPartition) -> None:
        assert worker.loop.batch_lock.locked()  # never beside a batch
        restored.append(tp.partition)
        worker.partitions[tp] = object()

    worker._restore = restore
    tps = [TopicPartition("transactions", p) for p in range(3)]
    await worker._on_assigned(tps)
    assert restored == []  # not inside the rebalance callback
    await worker._restore_task
    assert sorted(restored) == [0, 1, 2]
    assert worker._unrestored == set()
    await worker._on_assigned(tps)  # the same partitions again: nothing restored twice
    await worker._restore_task
    assert sorted(restored) == [0, 1, 2]


async def test_a_failed_restore_leaves_the_partitions_to_the_next_batch(
        caplog: pytest.LogCaptureFixture) -> None:
    from aiokafka import TopicPartition
    from aiokafka.errors import KafkaConnectionError

    worker = idle_worker()

    async def restore(tp: TopicPartition) -> None:
        raise KafkaConnectionError("broker away")

    worker._restore = restore
    tps = {TopicPartition("transactions", p) for p in (1, 2)}
    with caplog.at_level(logging.WARNING, logger="scorer.worker"):
        await worker._on_assigned(sorted(tps))
        await worker._restore_task
    assert worker._unrestored == tps
    [record] = [r for r in caplog.records if r.getMessage() == "scorer.state.restore_deferred"]
    assert getattr(record, "fields", {})["partitions"] == [1, 2]
    assert "KafkaConnectionError" in getattr(record, "fields", {})["error"]


async def test_closing_cancels_and_awaits_a_restore_under_way() -> None:
    from aiokafka import TopicPartition

    worker = idle_worker()
    started = asyncio.Event()

    async def restore(tp: TopicPartition) -> None:
        started.set()
        await asyncio.sleep(3600)

    worker._restore = restore
    await worker._on_assigned([TopicPartition("transactions", 0)])
    await started.wait()
    await worker.on_close()
    assert worker._restore_task is not None
    assert worker._restore_task.cancelled()


class Assignment:
    """What the batch loop asks of its consumer for readiness: the current assignment."""

    def __init__(self, tps: list[Any]) -> None:
        self.tps = tps

    def assignment(self) -> set[Any]:
        return set(self.tps)


async def test_readiness_names_the_assigned_partitions_whose_state_is_not_back() -> None:
    from aiokafka import TopicPartition

    worker = idle_worker()
    tps = [TopicPartition("transactions", p) for p in range(3)]
    worker.loop.consumer = Assignment(tps)  # assigned, the callback not run yet

    assert (await worker.extra_readiness())["state"] == (
        "restoring the feature state of partitions 0, 1, 2")
    worker.partitions[tps[1]] = object()
    assert (await worker.extra_readiness())["state"] == (
        "restoring the feature state of partitions 0, 2")
    for tp in tps:
        worker.partitions[tp] = object()
    assert (await worker.extra_readiness())["state"] is None
