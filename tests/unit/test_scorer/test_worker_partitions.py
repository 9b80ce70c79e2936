"""The scorer's partitions: a warning when the input topic is not split as in training; restores."""

from __future__ import annotations

import asyncio
import logging

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
