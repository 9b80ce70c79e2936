"""The compiled feature store against the Python one: the same floats, the same bytes.

Both stores are driven by the same random streams (entities that collide, late
and too-late events, jumps of days and weeks, missing fields, labels, expiry,
changelogs at batch boundaries, restores from the other store's changelog) and
must agree on every row (bit for bit, NaN with NaN), every changelog record and
snapshot byte, and the counters. Skipped where the compiled store is not built
(no Rust toolchain), unless ``FRAUDSTREAM_REQUIRE_NATIVE=1`` (set by ``make``
when it built it), where its absence fails.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from scorer.engine import Engine
from scorer.features import FEATURE_NAMES, FeatureStore, LabelEvent, TxEvent, native
from scorer.features.native import (
    AnyFeatureStore,
    NativeFeatureStore,
    native_available,
    new_feature_store,
    resolve_store_kind,
)
from scorer.model import Model
from scorer.ruleset import RuleSetLoader
from scorer.settings import PACKAGE_DATA
from tests.unit.test_scorer.test_engine.test_equivalence import simulated
from tests.unit.test_scorer.test_features.test_snapshots import json_snapshot

if not native_available():
    if os.environ.get("FRAUDSTREAM_REQUIRE_NATIVE") == "1":
        raise RuntimeError("FRAUDSTREAM_REQUIRE_NATIVE=1 but scorer_native is not installed")
    pytest.skip("the compiled feature store is not built (no Rust toolchain)",
                allow_module_level=True)

T0 = 1_767_225_600.25  # 2026-01-01, off the second: buckets split at odd places
DAY = 86_400.0
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def assert_same_rows(python: np.ndarray, native: np.ndarray) -> None:
    """Equal bit for bit, where NaN (unknown) matches any NaN."""
    assert python.shape == native.shape
    nan = np.isnan(python)
    assert (nan == np.isnan(native)).all(), np.argwhere(nan != np.isnan(native))[:5]
    diff = python.view("<i8")[~nan] != native.view("<i8")[~nan]
    assert not diff.any(), (python[~nan][diff][:5], native[~nan][diff][:5])


def random_events(rng: random.Random, count: int, start: float,
                  customers: int = 12) -> Iterator[TxEvent]:
    """Transactions of a small population, mostly in order, with every kind of disorder."""
    t = start
    for _ in range(count):
        roll = rng.random()
        if roll < 0.02:
            t += rng.uniform(1, 9) * DAY  # quiet days: windows empty out
        elif roll < 0.025:
            t += rng.uniform(25, 40) * DAY  # past the 30-day window and the TTL
        else:
            t += rng.expovariate(1 / 240)
        when = t
        lateness = rng.random()
        if lateness < 0.08:
            when = t - rng.uniform(0, 3_500)  # late, still applied
        elif lateness < 0.10:
            when = t - rng.uniform(4_000, 90_000)  # too late: scored, not applied
        cust = rng.randrange(customers)
        yield TxEvent(
            time=when,
            entity_id=f"cust-{cust}",
            amount=round(rng.lognormvariate(3.5, 1.2), 2) if rng.random() > 0.01 else 0.0,
            currency=rng.choice(["usd", "usd", "eur", "gbp"]),
            ip_address=rng.choice(["", f"10.0.0.{rng.randrange(9)}", f"10.1.{cust}.1"]),
            user_agent=rng.choice([None, "", "ua-a", "ua-b", f"ua-{rng.randrange(70)}"]),
            card_bin=rng.choice([None, "", "411111", "550000", f"4{cust:05d}"]),
            merchant_id=rng.choice([None, "", *[f"m-{i}" for i in range(7)]]),
            latitude=None if rng.random() < 0.2 else rng.uniform(-60, 60),
            longitude=None if rng.random() < 0.25 else rng.uniform(-170, 170),
        )


class Pair:
    """A Python and a compiled store (and label store) fed the same calls."""

    def __init__(self, lateness_s: float = 3600.0, ttl_s: float = 35 * DAY,
                 distinct_cap: int = 64) -> None:
        self.py = FeatureStore(lateness_s, ttl_s, distinct_cap)
        self.nat = NativeFeatureStore(lateness_s, ttl_s, distinct_cap)
        self.py_labels = FeatureStore(lateness_s, ttl_s, distinct_cap)
        self.nat_labels = NativeFeatureStore(lateness_s, ttl_s, distinct_cap)
        self.latest_py: dict[str, bytes | None] = {}
        self.latest_nat: dict[str, bytes | None] = {}
        self.records = 0

    def serve(self, events: list[TxEvent]) -> None:
        assert_same_rows(self.py.served_rows(events, self.py_labels),
                         self.nat.served_rows(events, self.nat_labels))

    def label(self, ev: LabelEvent) -> None:
        assert self.py_labels.apply_label(ev) == self.nat_labels.apply_label(ev)

    def expire(self, now: float) -> None:
        assert self.py.expire(now) == self.nat.expire(now)
        assert self.py_labels.expire(now) == self.nat_labels.expire(now)

    def changelog(self) -> None:
        py, nat = self.py.changelog_records(), self.nat.changelog_records()
        assert [k for k, _ in py] == [k for k, _ in nat]
        assert py == nat
        self.latest_py.update(py)
        self.latest_nat.update(nat)
        self.records += len(py)

    def restore_crosswise(self) -> None:
        """Each store is replaced by one of the other kind, restored from its changelog."""
        py = FeatureStore(self.py.lateness_s, self.py.ttl_s, self.py.distinct_cap)
        py.restore_changelog(self.latest_nat)
        py.clear_dirty()
        nat = NativeFeatureStore(self.py.lateness_s, self.py.ttl_s, self.py.distinct_cap)
        nat.restore_changelog(self.latest_py)
        nat.clear_dirty()
        self.py, self.nat = py, nat

    def check_state(self) -> None:
        for py, nat in ((self.py, self.nat), (self.py_labels, self.nat_labels)):
            assert len(py) == len(nat)
            assert sorted(py.states) == nat.keys()
            assert py.watermark == nat.watermark
            assert py.late_dropped == nat.late_dropped
            assert py.memory_report() == nat.memory_report()
            for key in py.states:
                assert py.snapshot(key) == nat.snapshot(key), key


def drive(pair: Pair, rng: random.Random, events: int, *, restores: bool) -> None:
    stream = list(random_events(rng, events, T0 + rng.uniform(0, DAY)))
    i = 0
    while i < len(stream):
        size = rng.choice([1, 1, 3, 17, 60])
        batch = stream[i:i + size]
        i += size
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            pair.label(LabelEvent(batch[0].time + rng.uniform(-600, 600),
                                  rng.choice([None, "m-1", "m-2", f"m-{rng.randrange(7)}"]),
                                  rng.random() < 0.4))
        pair.serve(batch)
        if rng.random() < 0.03:
            pair.expire(pair.py.watermark)
        if rng.random() < 0.6:
            pair.changelog()
            if restores and rng.random() < 0.05:
                pair.restore_crosswise()
        if rng.random() < 0.05:
            pair.check_state()
    pair.changelog()
    pair.check_state()


@pytest.mark.parametrize("seed", range(6))
def test_the_compiled_store_serves_and_writes_exactly_what_the_python_one_does(
        seed: int) -> None:
    pair = Pair()
    drive(pair, random.Random(seed), 3_000, restores=False)
    assert pair.records > 1_000


@pytest.mark.parametrize("seed", range(4))
def test_either_store_continues_exactly_from_the_other_ones_changelog(seed: int) -> None:
    pair = Pair()
    drive(pair, random.Random(100 + seed), 3_000, restores=True)
    assert any(k.startswith("h/") for k in pair.latest_py)


def test_settings_other_than_the_defaults_are_honoured() -> None:
    pair = Pair(lateness_s=60.0, ttl_s=3 * DAY, distinct_cap=2)
    drive(pair, random.Random(7), 2_000, restores=True)
    assert pair.py.late_dropped > 0


def test_a_busy_entity_writes_its_history_as_the_python_store_does() -> None:
    """A month of one customer paying every few minutes: history records, then expiry."""
    pair = Pair()
    rng = random.Random(11)
    events = [TxEvent(T0 + i * 290.0 + rng.uniform(0, 200), "cust-busy", 10.0 + i % 7, "usd",
                      "10.0.0.1", "ua", "411111", f"m-{i % 3}", 1.0, 2.0)
              for i in range(9_000)]
    for start in range(0, len(events), 250):
        pair.serve(events[start:start + 250])
        pair.changelog()
    # The customer, its card, its IP and the three merchants each have a history.
    assert sum(k.startswith("h/") for k in pair.latest_py) == 6
    pair.check_state()
    pair.expire(events[-1].time + 40 * DAY)
    pair.changelog()
    assert len(pair.nat) == 0
    assert all(v is None for v in pair.latest_nat.values())


def test_version_one_json_records_restore_into_the_compiled_store() -> None:
    py = FeatureStore()
    for ev in random_events(random.Random(5), 800, T0):
        py.update(ev)
    latest = {key: json_snapshot(state) for key, state in py.states.items()}
    nat = NativeFeatureStore()
    nat.restore_changelog(latest)
    assert nat.keys() == sorted(py.states)
    for key, state in py.states.items():
        assert nat.snapshot(key) == state.encode()


@pytest.mark.parametrize("seed", range(3))
def test_damaged_records_are_refused_by_both_stores_alike(seed: int) -> None:
    pair = Pair()
    drive(pair, random.Random(200 + seed), 1_500, restores=False)
    rng = random.Random(seed)
    heads = [(k, v) for k, v in pair.latest_py.items() if v and not k.startswith("h/")]
    for key, value in rng.sample(heads, 25):
        history = pair.latest_py.get("h/" + key)
        damaged = [{key: value[:cut], "h/" + key: history}
                   for cut in sorted(rng.sample(range(1, len(value)), 4))]
        damaged.append({key: value + b"\0", "h/" + key: history})
        if history is not None:
            damaged.append({key: value})  # its history is missing
            damaged.append({key: value, "h/" + key: history[:-8]})
        for latest in damaged:
            refused = []
            for store in (FeatureStore(), NativeFeatureStore()):
                try:
                    store.restore_changelog(latest)
                    refused.append(False)
                except ValueError:
                    refused.append(True)
            assert refused == [True, True], (key, len(value))


def test_merchant_risk_comes_from_a_compiled_label_store_only() -> None:
    nat = NativeFeatureStore()
    ev = next(random_events(random.Random(1), 1, T0))
    with pytest.raises(TypeError, match="compiled label store"):
        nat.served_rows([ev], FeatureStore())


def test_the_engine_decides_alike_on_either_store() -> None:
    """Whole decisions (features emitted, labels arriving) from an engine on each store."""
    txs, labels = simulated(1_500, seed=9)
    pending = sorted(labels, key=lambda lb: lb.labelled_at)
    decided: list[list[str]] = []
    for kind in ("python", "native"):
        engine = Engine(Model.load(), RuleSetLoader(PACKAGE_DATA / "rules" / "default.yaml"),
                        lateness_s=3600.0, ttl_s=35 * DAY, emit_features=True,
                        feature_store=kind, clock=lambda: NOW)
        assert engine.store_kind == kind
        store: AnyFeatureStore = engine.new_store()
        waiting = list(pending)
        out = []
        for start in range(0, len(txs), 100):
            batch = txs[start:start + 100]
            while waiting and waiting[0].labelled_at <= batch[0].event_time:
                engine.remember_label(waiting.pop(0))
            scored = asyncio.run(engine.decide_batch(batch, store, NOW))
            out += [d.model_dump_json() for d in scored.decisions]
        decided.append(out)
    assert len(decided[0]) == len(txs)
    assert decided[0] == decided[1]


def test_the_store_kind_resolves_and_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_store_kind("auto") == "native"
    assert resolve_store_kind("python") == "python"
    assert isinstance(new_feature_store("native"), NativeFeatureStore)
    assert isinstance(new_feature_store("python"), FeatureStore)
    assert len(FEATURE_NAMES) == NativeFeatureStore().row(
        next(random_events(random.Random(2), 1, T0))).__len__()
    monkeypatch.setattr(native, "scorer_native", None)
    assert resolve_store_kind("auto") == "python"
    with pytest.raises(RuntimeError, match="SCORER_FEATURE_STORE=python"):
        resolve_store_kind("native")
