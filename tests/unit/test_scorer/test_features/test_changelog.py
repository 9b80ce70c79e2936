"""The feature-state changelog: small head records per batch, history records now and then.

A restore joins each entity's newest head and history records; these tests
check that the joined state is the live one exactly (every float, every window
index) wherever a scorer stops, with late events, expiry and old whole-state
snapshots in the changelog.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from scorer.features import FeatureStore, customer_key, merchant_key
from scorer.features.state import NO_HISTORY, FeatureState
from scorer.features.store import HISTORY_PREFIX, RECENT_HOURS, TxEvent
from scorer.partitions import apply_changelog
from tests.unit.test_scorer.test_features.test_snapshots import fields

HOUR = 3600.0
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def event(t: float, *, customer: str = "c1", merchant: str = "m1", amount: float = 12.5,
          ip: str = "10.0.0.1") -> TxEvent:
    """A transaction at epoch second ``t``."""
    return TxEvent(t, customer, amount, "usd", ip, "ua", "411111", merchant, 40.0, -74.0)


def keys_of(records: list[tuple[str, bytes | None]]) -> list[str]:
    return [key for key, _ in records]


def compact(records: list[tuple[str, bytes | None]]) -> dict[str, bytes | None]:
    """What log compaction keeps: the newest value of each key."""
    return dict(records)


def restored(records: list[tuple[str, bytes | None]]) -> FeatureStore:
    store = FeatureStore()
    store.restore_changelog(compact(records))
    return store


def assert_same(live: FeatureStore, again: FeatureStore) -> None:
    assert set(again.states) == set(live.states)
    for key, state in live.states.items():
        assert fields(again.states[key]) == fields(state), key
    assert again.watermark == live.watermark


def busy_merchant(days: int = 30) -> tuple[FeatureStore, list[tuple[str, bytes | None]]]:
    """A merchant paid every hour for ``days`` days, a batch per hour; the changelog written."""
    store = FeatureStore(ttl_s=90 * 86_400.0)
    log: list[tuple[str, bytes | None]] = []
    for hour in range(24 * days):
        store.update(event(START + hour * HOUR + 7, customer=f"c{hour % 50}",
                           amount=1.0 + hour % 13))
        log += store.changelog_records()
    return store, log


def test_a_busy_entity_writes_its_history_about_once_a_day() -> None:
    store, log = busy_merchant()
    merchant = merchant_key("m1")
    heads = [value for key, value in log if key == merchant]
    histories = [value for key, value in log if key == HISTORY_PREFIX + merchant]
    assert len(heads) == 24 * 30
    # A history record whenever the head would carry more than RECENT_HOURS buckets.
    assert len(histories) == pytest.approx(24 * 30 / RECENT_HOURS, abs=1)
    state = store.states[merchant]
    whole = len(state.encode())
    assert len(state.hour) == 720
    assert whole > 23_000
    # Every head stays small: at most RECENT_HOURS + 1 hour buckets of 32 bytes.
    assert max(len(h) for h in heads if h) < 100 + 32 * (RECENT_HOURS + 1) + 32 * 2
    assert_same(store, restored(log))


def test_restoring_at_any_point_continues_exactly() -> None:
    rng = random.Random(11)
    live = FeatureStore(lateness_s=6 * HOUR)
    log: list[tuple[str, bytes | None]] = []
    t = START
    for batch in range(300):
        for _ in range(rng.randint(1, 6)):
            t += rng.uniform(60, 3 * HOUR)
            # Now and then an event hours late: it lands in an older hour bucket.
            when = t - rng.uniform(0, 5 * HOUR) if rng.random() < 0.2 else t
            live.update(event(when, customer=f"c{rng.randint(0, 3)}",
                              merchant=f"m{rng.randint(0, 2)}", amount=rng.uniform(1, 900),
                              ip=f"10.0.0.{rng.randint(0, 4)}"))
        log += live.changelog_records()
        if batch % 37 == 0:
            again = restored(log)
            assert_same(live, again)
            # ... and the restored store goes on to write the same records.
            probe = event(t + 60, customer="c1", merchant="m1")
            live_copy, again_copy = restored(log), again
            live_copy.update(probe)
            again_copy.update(probe)
            assert live_copy.changelog_records() == again_copy.changelog_records()
    assert any(key.startswith(HISTORY_PREFIX) for key, _ in log)


def test_a_late_event_in_an_old_hour_rewrites_the_history() -> None:
    store, log = busy_merchant(days=3)
    merchant = merchant_key("m1")
    state = store.states[merchant]
    assert state.history_cut is not None
    # Beyond the lateness (1 h): scored but not applied, so nothing is written.
    store.update(event(START + 72 * HOUR - 3 * HOUR, amount=777.0))
    assert store.changelog_records() == []

    late_store = FeatureStore(lateness_s=2 * RECENT_HOURS * HOUR, ttl_s=90 * 86_400.0)
    late_store.restore_changelog(compact(log))
    cut = late_store.states[merchant].history_cut
    assert cut is not None
    late_event = event((cut - 2) * HOUR + 5, amount=777.0)
    assert late_event.time > late_store.watermark - late_store.lateness_s
    late_store.update(late_event)
    records = late_store.changelog_records()
    assert HISTORY_PREFIX + merchant in keys_of(records)
    assert_same(late_store, restored(log + records))


def test_expired_entities_get_tombstones_for_both_records() -> None:
    store, log = busy_merchant(days=2)
    merchant = merchant_key("m1")
    assert store.states[merchant].history_cut is not None
    store.ttl_s = HOUR
    store.update(event(START + 60 * 86_400.0, customer="late", merchant="m9"))
    assert store.expire(store.watermark) > 0
    records = store.changelog_records()
    assert (merchant, None) in records
    assert (HISTORY_PREFIX + merchant, None) in records
    again = restored(log + records)
    assert merchant not in again.states
    assert_same(store, again)


def test_an_entity_expired_and_back_in_one_batch_drops_its_old_history() -> None:
    store, log = busy_merchant(days=2)
    merchant = merchant_key("m1")
    store.ttl_s = HOUR
    later = START + 60 * 86_400.0
    store.watermark = later
    store.expire(later)
    store.update(event(later, merchant="m1"))  # the merchant is back, with no history
    records = store.changelog_records()
    assert (HISTORY_PREFIX + merchant, None) in records
    head = dict(records)[merchant]
    assert head is not None
    assert_same(store, restored(log + records))


def test_whole_snapshots_of_older_changelogs_restore_and_then_split() -> None:
    store, _ = busy_merchant(days=3)
    old_changelog: list[tuple[str, bytes | None]] = [
        (key, state.encode()) for key, state in store.states.items()]
    again = restored(old_changelog)
    assert_same(store, again)
    merchant = merchant_key("m1")
    assert again.states[merchant].history_cut is None
    again.update(event(START + 72 * HOUR + 10))
    records = again.changelog_records()
    # The first write after an upgrade moves the older hours into a history record.
    assert HISTORY_PREFIX + merchant in keys_of(records)
    assert_same(again, restored(old_changelog + records))


def test_a_new_entity_writes_one_record() -> None:
    store = FeatureStore()
    store.update(event(START))
    records = store.changelog_records()
    assert sorted(keys_of(records)) == sorted(store.states)
    assert not any(key.startswith(HISTORY_PREFIX) for key in keys_of(records))


def head_and_history(store: FeatureStore, log: list[tuple[str, bytes | None]], key: str
                     ) -> tuple[bytes, bytes]:
    latest = compact(log)
    head, history = latest[key], latest[HISTORY_PREFIX + key]
    assert head is not None
    assert history is not None
    return head, history


def test_a_head_without_its_history_is_refused() -> None:
    store, log = busy_merchant(days=2)
    head, _ = head_and_history(store, log, merchant_key("m1"))
    with pytest.raises(ValueError, match="missing"):
        FeatureState.decode_split(head, None)
    broken = compact(log)
    broken[HISTORY_PREFIX + merchant_key("m1")] = None
    with pytest.raises(ValueError, match="missing"):
        FeatureStore().restore_changelog(broken)


def test_a_history_from_another_cut_is_refused() -> None:
    store, log = busy_merchant(days=3)
    key = merchant_key("m1")
    histories = [value for k, value in log if k == HISTORY_PREFIX + key and value]
    head, newest = head_and_history(store, log, key)
    assert histories[0] != newest
    with pytest.raises(ValueError, match="cut"):
        FeatureState.decode_split(head, histories[0])


@pytest.mark.parametrize("cut", [1, 5, 9, 13, -8, -1])
def test_truncated_history_records_are_refused(cut: int) -> None:
    store, log = busy_merchant(days=2)
    head, history = head_and_history(store, log, merchant_key("m1"))
    with pytest.raises(ValueError, match="feature-state"):
        FeatureState.decode_split(head, history[:cut])
    with pytest.raises(ValueError, match="feature-state"):
        FeatureState.decode_split(head[:cut], history)
    with pytest.raises(ValueError, match="trailing"):
        FeatureState.decode_split(head, history + b"\x00" * 8)


def test_a_head_record_alone_restores_an_entity_without_history() -> None:
    state = FeatureState()
    state.hour.add(START, 3.0)
    data = state.encode_head()
    assert data[:1] == b"\x03"
    again = FeatureState.decode_split(data, None)
    assert fields(again) == fields(state)
    assert again.history_cut is None
    store = FeatureStore()
    store.restore(customer_key("c1"), data)
    assert fields(store.states[customer_key("c1")]) == fields(state)


def test_no_history_marker_is_outside_any_hour_key() -> None:
    state: Any = FeatureState()
    assert state.hour.recent_count(NO_HISTORY) == 0
    state.hour.add(-1e15, 1.0)  # a far-past instant is still after the marker
    assert state.hour.recent_count(NO_HISTORY) == 1


def test_apply_changelog_joins_records_from_a_whole_log() -> None:
    store, log = busy_merchant(days=2)
    again = FeatureStore()
    assert apply_changelog(again, [(k.encode(), v) for k, v in log]) == len(log)
    assert_same(store, again)
    assert again.dirty_keys() == set()


def test_a_crash_between_a_new_history_and_its_head_restores_the_previous_state() -> None:
    # Without transactions (SCORER_EXACTLY_ONCE=false) only a prefix of a batch's
    # records may have been written when the scorer died.
    store = FeatureStore(ttl_s=90 * 86_400.0)
    log: list[tuple[str, bytes | None]] = []
    merchant = merchant_key("m1")
    for hour in range(24 * 3):
        store.update(event(START + hour * HOUR + 7, customer=f"c{hour % 50}"))
        batch = store.changelog_records()
        keys = keys_of(batch)
        if HISTORY_PREFIX + merchant in keys and hour > 30:
            # The history was written, its head was not.
            torn = batch[:keys.index(merchant)]
            before = restored(log)
            after_crash = restored(log + torn)
            assert fields(after_crash.states[merchant]) == fields(before.states[merchant])
            assert after_crash.states[merchant].history_cut == before.states[merchant].history_cut
            break
        log += batch
    else:
        raise AssertionError("no history was written after the first one")


def test_every_prefix_of_a_changelog_restores() -> None:
    rng = random.Random(5)
    live = FeatureStore(lateness_s=6 * HOUR, ttl_s=3 * 86_400.0)
    log: list[tuple[str, bytes | None]] = []
    t = START
    for batch in range(400):
        for _ in range(rng.randint(1, 4)):
            t += rng.uniform(60, 2 * HOUR)
            late = rng.random() < 0.15
            # The "gone" entities build up a history, then fall idle and expire.
            gone = batch < 60 and rng.random() < 0.5
            live.update(event(t - rng.uniform(0, 5 * HOUR) if late else t,
                              customer="gone" if gone else f"c{rng.randint(0, 5)}",
                              merchant="gone" if gone else f"m{rng.randint(0, 3)}",
                              ip="10.9.9.9" if gone else f"10.0.0.{rng.randint(0, 6)}"))
        if batch % 50 == 49:
            live.expire(live.watermark)
        log += live.changelog_records()
    assert (HISTORY_PREFIX + merchant_key("gone"), None) in log
    assert (merchant_key("gone"), None) in log
    assert any(k.startswith(HISTORY_PREFIX) and v for k, v in log)
    for end in range(len(log) + 1):
        restored(log[:end])  # never refused, wherever a crash cut the log
    assert_same(live, restored(log))
