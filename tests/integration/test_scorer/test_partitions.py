"""Restoring a partition's feature state from the real broker's changelog."""

from __future__ import annotations

import time

import pytest

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka import create_producer
from fraudstream_shared.kafka.batches import send_batched
from scorer.features.native import native_available, new_feature_store
from scorer.features.store import TxEvent
from scorer.partitions import restore_partition
from tests.conftest import TopicFactory, unique_name

pytestmark = pytest.mark.integration


def _settings(bootstrap: str) -> ServiceSettings:
    return ServiceSettings(service_name="itest", kafka_bootstrap_servers=bootstrap)


def _events(count: int, customers: int) -> list[TxEvent]:
    start = time.time() - 3600
    return [TxEvent(start + i, f"customer-{i % customers}", 10.0 + i, "usd", f"10.0.0.{i % 7}",
                    merchant_id=f"m-{i % 3}") for i in range(count)]


def _rows(store: object, events: list[TxEvent]) -> list[list[float | None]]:
    """The store's feature rows for ``events``, NaN (unknown) as ``None`` to compare equal."""
    return [[None if v != v else v for v in store.row(e)]  # type: ignore[attr-defined]
            for e in events]


async def test_an_empty_changelog_restores_nothing(
        kafka_bootstrap: str, topic_factory: TopicFactory) -> None:
    topic = await topic_factory("changelog", partitions=2)
    store = new_feature_store("python", lateness_s=3600.0)
    assert await restore_partition(_settings(kafka_bootstrap), topic, 1, store) == 0
    assert len(store) == 0
    assert store.changelog_records() == []  # nothing dirty to write back


@pytest.mark.parametrize("kind", ["python", "native"])
async def test_the_committed_changelog_restores_the_state_and_an_aborted_one_does_not(
        kafka_bootstrap: str, topic_factory: TopicFactory, kind: str) -> None:
    if kind == "native" and not native_available():
        pytest.skip("the compiled feature store is not built (no Rust toolchain)")
    original = new_feature_store(kind, lateness_s=3600.0)
    settings = _settings(kafka_bootstrap)
    topic = await topic_factory("changelog", partitions=2)
    events = _events(300, customers=25)
    for event in events:
        original.update(event)
    committed = [(key.encode(), value) for key, value in original.changelog_records()]
    producer = create_producer(settings, transactional_id=unique_name("restore"))
    await producer.start()
    try:
        async with producer.transaction():
            await send_batched(producer, topic, committed, partition=1)
        # A later transaction that aborts: its records must never be restored.
        await producer.begin_transaction()
        await send_batched(producer, topic, [(b"c|customer-0", b"not a state record")],
                           partition=1)
        await producer.abort_transaction()
    finally:
        await producer.stop()
    restored = new_feature_store(kind, lateness_s=3600.0)
    count = await restore_partition(settings, topic, 1, restored)
    assert count == len(committed)
    assert len(restored) == len(original)
    probe = _events(330, customers=25)[300:]
    assert _rows(restored, probe) == _rows(original, probe)
    # The other partition of the topic holds nothing of it.
    assert await restore_partition(settings, topic, 0, new_feature_store(kind)) == 0
