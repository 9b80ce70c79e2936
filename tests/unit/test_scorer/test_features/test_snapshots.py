"""Feature-state snapshots: the binary form is exact, and the older JSON form still restores."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
from pydantic_core import to_json

from scorer.features import FeatureStore, customer_key, merchant_key
from scorer.features.state import SNAPSHOT_VERSION, FeatureState
from scorer.features.store import card_key, ip_key
from tests.unit.test_scorer.test_features.test_store import label, tx


def json_snapshot(state: FeatureState) -> bytes:
    """A version-1 snapshot, as scorers wrote them to the changelog before the binary form."""
    def never(value: float) -> float | None:
        return None if math.isinf(value) else value

    doc: dict[str, Any] = {"v": SNAPSHOT_VERSION, "t": never(state.last_time),
                           "a": never(state.last_activity), "m": state.minute.to_json(),
                           "h": state.hour.to_json()}
    if state.distinct is not None:
        doc["d"] = {kind: [[h, seen] for h, seen in values.items()]
                    for kind, values in state.distinct.items()}
    if state.billing is not None:
        doc["b"] = list(state.billing)
    if state.labels is not None:
        doc["l"] = state.labels.to_json()
        doc["s"] = state.fraud_streak
        doc["f"] = never(state.last_fraud_label)
    return to_json(doc)


def fields(state: FeatureState) -> dict[str, Any]:
    """Everything a state holds, comparable with ``==`` (floats compared by value)."""
    def ring(r: Any) -> Any:
        return None if r is None else (r.head, list(r.lo), list(r.totals), r.keys.tolist(),
                                       r.counts.tolist(), r.sums.tolist(), r.squares.tolist())
    return {"t": state.last_time, "a": state.last_activity, "m": ring(state.minute),
            "h": ring(state.hour), "l": ring(state.labels), "d": state.distinct,
            "b": state.billing, "s": state.fraud_streak, "f": state.last_fraud_label}


def busy_store(seed: int = 3, events: int = 200) -> tuple[FeatureStore, list[Any], list[Any]]:
    """A store fed a first half of shared traffic (customers, cards, merchants, IPs, labels)."""
    rng = random.Random(seed)
    stream = [tx(i * 53.0 + rng.uniform(0, 5), round(rng.uniform(1, 500), 2),
                 entity=f"c{i % 4}", merchant=f"m{i % 3}", ip=f"10.0.0.{i % 6}",
                 ua=f"ua{i % 3}", lat=40 + (i % 3) * 0.5, lon=-74.0, event_id=f"e{i}")
              for i in range(events)]
    labels = [label(e, i * 53.0 + 900, fraud=i % 5 == 0) for i, e in enumerate(stream)]
    store = FeatureStore()
    for i in range(events // 2):
        store.score_features(stream[i])
        store.apply_label(labels[i])
    return store, stream, labels


def test_every_kind_of_entity_round_trips_bit_for_bit() -> None:
    store, _, _ = busy_store()
    kinds = {customer_key("c1"), merchant_key("m1"), ip_key("10.0.0.1"), card_key("411111", "c1")}
    assert kinds <= set(store.states)
    for state in store.states.values():
        data = state.encode()
        assert data[:1] == b"\x02"
        again = FeatureState.decode(data)
        assert fields(again) == fields(state)
        assert again.encode() == data
    merchant = store.states[merchant_key("m1")]
    assert merchant.labels is not None
    assert merchant.distinct is None
    customer = store.states[customer_key("c1")]
    assert customer.distinct
    assert customer.billing is not None
    assert customer.labels is None


def test_never_and_empty_rings_survive() -> None:
    empty = FeatureState()
    again = FeatureState.decode(empty.encode())
    assert again.last_time == -math.inf
    assert again.last_activity == -math.inf
    assert fields(again) == fields(empty)


@pytest.mark.parametrize("form", ["binary", "json"])
def test_a_restored_store_continues_exactly_from_either_form(form: str) -> None:
    reference, stream, labels = busy_store(seed=9)
    changelog = {key: (state.encode() if form == "binary" else json_snapshot(state))
                 for key, state in reference.states.items()}
    restarted = FeatureStore()
    for key, data in changelog.items():
        restarted.restore(key, data)
    half = len(stream) // 2
    for i in range(half, len(stream)):
        assert restarted.score_features(stream[i]) == pytest.approx(
            reference.score_features(stream[i]), nan_ok=True, rel=0, abs=0)
        restarted.apply_label(labels[i])
        reference.apply_label(labels[i])
    for key, state in reference.states.items():
        assert restarted.states[key].encode() == state.encode()


def test_a_full_thirty_day_ring_round_trips() -> None:
    state = FeatureState()
    start = 1_700_000_000.0
    for hour in range(24 * 30):
        state.hour.add(start + hour * 3600, 12.34 * (1 + hour % 7) / 3)
    assert len(state.hour) == 720
    # 8 bytes a number: 720 buckets of key, count, sum, sum of squares, plus the head.
    assert len(state.encode()) == 18 + 2 * 12 + 8 * (1 + 3) + 8 * (3 + 9) + 32 * 720
    assert fields(FeatureState.decode(state.encode())) == fields(state)


@pytest.mark.parametrize("cut", [1, 2, 10, 18, 30, -1])
def test_a_truncated_snapshot_is_refused(cut: int) -> None:
    store, _, _ = busy_store()
    data = store.states[customer_key("c1")].encode()
    with pytest.raises(ValueError, match="snapshot"):
        FeatureState.decode(data[:cut])


def test_trailing_bytes_and_unknown_versions_are_refused() -> None:
    data = FeatureState().encode()
    with pytest.raises(ValueError, match="trailing"):
        FeatureState.decode(data + b"\x00")
    for foreign in (b"\x03" + data[1:], b"", b"[1, 2]", b'{"v": 99}'):
        with pytest.raises(ValueError, match="snapshot"):
            FeatureState.decode(foreign)


def test_small_rings_and_sets_are_written_byte_for_byte_as_the_general_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import scorer.features.state as state_module
    import scorer.features.windows as windows_module

    rng = random.Random(17)
    states = []
    for buckets in range(0, 22):
        state = FeatureState()
        for i in range(buckets):
            t = 1_767_225_600.0 + i * 3600 + rng.uniform(0, 59)
            state.minute.add(t, rng.uniform(1, 500))
            state.hour.add(t, rng.uniform(1, 500))
        state.distinct = {kind: {rng.randrange(1 << 32): rng.uniform(0, 1e9)
                                 for _ in range(rng.choice([0, 1, 3, buckets * 3, 64, 70]))}
                          for kind in ("ip", "ua", "merchant")}
        state.history_cut = state.hour.keys[len(state.hour.keys) // 2] if buckets > 2 else None
        states.append(state)
    fast = [(s.encode(), s.encode_head()) for s in states]
    monkeypatch.setattr(windows_module, "SMALL_RING", -1)
    monkeypatch.setattr(state_module, "SMALL_SET", -1)
    general = [(s.encode(), s.encode_head()) for s in states]
    assert fast == general
    assert all(FeatureState.decode(whole).encode() == whole for whole, _ in fast)
