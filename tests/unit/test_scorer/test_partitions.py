"""Per-partition state: replayed records are skipped, idle entities expire into tombstones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from fraudstream_shared.events import Transaction, decode
from scorer.features import FeatureStore
from scorer.partitions import PartitionState, apply_changelog, changelog_tally, expire_idle
from tests.support.factories import original_sample_transaction

DAY = 86400.0


def _tx(entity: str, when: datetime) -> Transaction:
    event = original_sample_transaction(entity_id=entity, event_time=when.isoformat())
    return decode(Transaction, json.dumps(event).encode())


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 0, offset, 0, 0, None, b"v", None, 0, 1, ())


def test_records_before_the_resume_offset_are_skipped() -> None:
    state = PartitionState(TopicPartition("t", 0), FeatureStore(), next_offset=5)
    assert [r.offset for r in state.fresh([_record(3), _record(5), _record(6)])] == [5, 6]


def test_idle_entities_expire_into_changelog_tombstones_and_restore_forgets_them() -> None:
    store = FeatureStore(ttl_s=2 * DAY)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    store.update(_tx("111-11-1111", start))
    store.update(_tx("222-22-2222", start + timedelta(days=5)))
    state = PartitionState(TopicPartition("t", 0), store)
    written = state.changelog_records()  # both entities' state, as first committed

    assert expire_idle(state, now=1000.0, every_s=60) > 0
    assert expire_idle(state, now=1010.0, every_s=60) == 0  # not again within the period
    later = state.changelog_records()
    tombstones = [key for key, value in later if value is None]
    assert any(b"111-11-1111" in key for key in tombstones)
    assert not any(b"222-22-2222" in key for key in tombstones)

    # Replaying the changelog in order restores only the live entity.
    restored = FeatureStore(ttl_s=2 * DAY)
    apply_changelog(restored, [*written, *later])
    assert set(restored.states) == set(store.states)
    assert any("222-22-2222" in key for key in restored.states)
    assert not any("111-11-1111" in key for key in restored.states)


def test_the_changelog_tally_counts_heads_histories_tombstones_and_bytes() -> None:
    store = FeatureStore(ttl_s=2 * DAY)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for hour in range(40):  # past RECENT_HOURS: the customer's history gets written
        store.update(_tx("111-11-1111", start + timedelta(hours=hour)))
    state = PartitionState(TopicPartition("t", 0), store)
    records = state.changelog_records()
    tally = changelog_tally(records)
    assert tally.histories >= 1
    assert tally.heads == len(store.states)
    assert tally.tombstones == 0
    assert tally.value_bytes == sum(len(value or b"") for _, value in records)

    store.update(_tx("222-22-2222", start + timedelta(days=9)))
    expire_idle(state, now=1000.0, every_s=60)
    later = state.changelog_records()
    gone = [key for key, value in later if value is None]
    # The idle customer's entities lose both their records.
    assert gone
    assert all(b"111-11-1111" in key for key in gone)
    assert sum(key.startswith(b"h/") for key in gone) == len(gone) // 2
    assert changelog_tally(later).tombstones == len(gone)
