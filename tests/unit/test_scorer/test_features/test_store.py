"""The feature store: aggregates, label arrival, expiry, lateness, snapshots, offline == online."""

from __future__ import annotations

import asyncio
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from aiokafka.partitioner import DefaultPartitioner

from fraudstream_shared.events import Transaction, TransactionLabel, encode_key
from scorer.engine import Engine
from scorer.features import (
    FEATURE_NAMES,
    FeatureStore,
    compute_offline,
    customer_key,
    merchant_key,
    vectorize,
)
from scorer.features.store import MERCHANT_RISK_NAMES
from scorer.model import Model
from scorer.ruleset import RuleSetLoader
from scorer.settings import PACKAGE_DATA

DEFAULT_RULES = PACKAGE_DATA / "rules" / "default.yaml"

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday


def tx(minutes: float, amount: float = 10.0, *, entity: str = "c1", merchant: str = "m1",
       ip: str = "1.1.1.1", ua: str = "ua-1", lat: float = 40.0, lon: float = -74.0,
       event_id: str | None = None, card_bin: str | None = "411111",
       currency: str = "usd") -> Transaction:
    """A transaction ``minutes`` after T0."""
    return Transaction(
        event_id=event_id or f"e-{entity}-{minutes}", event_time=T0 + timedelta(minutes=minutes),
        entity_id=entity, transaction_amt=amount, transaction_currency=currency,
        email_address="a@example.com", ip_address=ip, user_agent=ua, card_bin=card_bin,
        merchant_id=merchant, billing_latitude=lat, billing_longitude=lon,
    )


def label(event: Transaction, arrived_minutes: float, fraud: bool = True) -> TransactionLabel:
    """A label of ``event`` arriving ``arrived_minutes`` after T0."""
    return TransactionLabel(event_id=event.event_id, entity_id=event.entity_id,
                            label="fraud" if fraud else "legit",
                            labelled_at=T0 + timedelta(minutes=arrived_minutes),
                            merchant_id=event.merchant_id)


def test_names_are_unique_and_vectorize_fills_nan() -> None:
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES))
    vector = vectorize({"tx_amount": 3.0})
    assert vector[FEATURE_NAMES.index("tx_amount")] == 3.0
    assert math.isnan(vector[FEATURE_NAMES.index("cust_cnt_1h")])


def test_first_transaction_sees_empty_history() -> None:
    features = FeatureStore().score_features(tx(0, 25.0))
    assert features["tx_amount"] == 25.0
    assert features["cust_cnt_30d"] == 0.0
    assert math.isnan(features["cust_mean_30d"])
    assert math.isnan(features["cust_secs_since_prev"])
    assert math.isnan(features["merch_fraud_rate_7d"])


def test_window_counts_sums_and_means() -> None:
    store = FeatureStore()
    history = [tx(-40 * 24 * 60, 1000.0), tx(-3 * 24 * 60, 30.0), tx(-5 * 60, 20.0),
               tx(-30, 10.0), tx(-10, 40.0)]
    for event in history:
        store.score_features(event)
    f = store.features_for(tx(0, 50.0))
    assert (f["cust_cnt_1h"], f["cust_sum_1h"], f["cust_mean_1h"]) == (2.0, 50.0, 25.0)
    assert (f["cust_cnt_24h"], f["cust_sum_24h"]) == (3.0, 70.0)
    assert (f["cust_cnt_7d"], f["cust_sum_7d"]) == (4.0, 100.0)
    # 40 days ago is outside the 30-day window.
    assert (f["cust_cnt_30d"], f["cust_mean_30d"]) == (4.0, 25.0)
    assert f["cust_secs_since_prev"] == 600.0
    assert f["cust_amt_ratio_30d"] == pytest.approx(2.0)
    std = float(np.std([30.0, 20.0, 10.0, 40.0]))
    assert f["cust_amt_z_30d"] == pytest.approx((50.0 - 25.0) / std)
    # Every entity kind aggregates the same events here.
    for prefix in ("card", "merch", "ip"):
        assert f[f"{prefix}_cnt_7d"] == 4.0


def test_window_edges_are_within_one_bucket() -> None:
    store = FeatureStore()
    store.update(tx(0, 5.0))
    assert store.features_for(tx(59))["cust_cnt_1h"] == 1.0
    assert store.features_for(tx(61))["cust_cnt_1h"] == 0.0
    assert store.features_for(tx(23 * 60))["cust_cnt_24h"] == 1.0
    assert store.features_for(tx(25 * 60))["cust_cnt_24h"] == 0.0


def test_distinct_values_and_billing_change() -> None:
    store = FeatureStore()
    store.update(tx(0, ip="1.1.1.1", ua="a", merchant="m1"))
    store.update(tx(10, ip="2.2.2.2", ua="a", merchant="m2"))
    store.update(tx(-26 * 60 + 30, ip="3.3.3.3"))  # late and older than 24 h before now
    f = store.features_for(tx(20, lat=41.0, lon=-74.0))
    assert f["cust_distinct_ip_24h"] == 2.0
    assert f["cust_distinct_ua_24h"] == 1.0
    assert f["cust_distinct_merchant_24h"] == 2.0
    assert f["cust_billing_km"] == pytest.approx(111.2, abs=0.5)
    assert f["cust_billing_changed"] == 1.0
    assert store.features_for(tx(20))["cust_billing_changed"] == 0.0


def test_distinct_values_older_than_a_day_before_the_event_are_not_counted() -> None:
    store = FeatureStore()
    store.update(tx(0, ip="1.1.1.1", ua="a", merchant="m1"))
    store.update(tx(10, ip="2.2.2.2", ua="b", merchant="m1"))
    # A day and five minutes after the first: only what was seen at minute 10 counts.
    f = store.features_for(tx(24 * 60 + 5))
    assert f["cust_distinct_ip_24h"] == 1.0
    assert f["cust_distinct_ua_24h"] == 1.0
    assert f["cust_distinct_merchant_24h"] == 1.0
    assert store.features_for(tx(24 * 60 + 11))["cust_distinct_ip_24h"] == 0.0


def test_merchant_risk_counts_only_arrived_labels() -> None:
    week = 7 * 24 * 60
    store = FeatureStore()
    bad = tx(0, 99.0, entity="victim", merchant="m9")
    other = tx(5, entity="other", merchant="m9")
    store.score_features(bad)
    store.score_features(other)
    before = store.features_for(tx(week - 1, entity="x", merchant="m9"))
    assert (before["merch_fraud_cnt_30d"], before["merch_labels_30d"]) == (0.0, 0.0)
    store.apply_label(label(bad, arrived_minutes=week))
    after = store.features_for(tx(week + 1, entity="x", merchant="m9"))
    assert (after["merch_fraud_cnt_24h"], after["merch_fraud_rate_7d"]) == (1.0, 1.0)
    assert (after["merch_fraud_streak"], after["merch_secs_since_fraud_label"]) == (1.0, 60.0)
    store.apply_label(label(other, week, fraud=False))
    later = store.features_for(tx(week + 2, entity="x", merchant="m9"))
    assert (later["merch_fraud_cnt_7d"], later["merch_fraud_rate_7d"]) == (1.0, 0.5)
    assert later["merch_labels_30d"] == 2.0
    assert later["merch_fraud_streak"] == 0.0  # a legitimate label broke the streak
    gone = store.features_for(tx(week + 25 * 60, entity="x", merchant="m9"))
    assert (gone["merch_fraud_cnt_24h"], gone["merch_fraud_cnt_7d"]) == (0.0, 1.0)


def test_offline_replay_applies_labels_at_arrival() -> None:
    week = 7 * 24 * 60
    bad = tx(0, 99.0, entity="victim", merchant="m9")
    events = [bad, tx(week - 1, entity="x", merchant="m9"), tx(week, entity="y", merchant="m9")]
    matrix, names = compute_offline(events, [label(bad, arrived_minutes=week)])
    risk = matrix[:, names.index("merch_fraud_cnt_30d")]
    assert risk.tolist() == [0.0, 0.0, 1.0]  # arrived at the same instant: counted


def test_label_without_merchant_is_ignored() -> None:
    store = FeatureStore()
    unlabelled = TransactionLabel(event_id="e", entity_id="c", label="fraud", labelled_at=T0)
    assert store.apply_label(unlabelled) is False
    assert len(store) == 0


def test_late_event_within_lateness_goes_to_its_bucket() -> None:
    store = FeatureStore(lateness_s=4 * 3600)
    store.update(tx(0, 10.0))
    store.update(tx(120, 20.0))
    assert store.update(tx(-90, 5.0))  # 3.5 h behind the newest: within lateness…
    f = store.features_for(tx(121))
    assert f["cust_cnt_24h"] == 3.0
    assert f["cust_sum_24h"] == 35.0
    assert f["cust_cnt_1h"] == 1.0  # …but not within the last hour
    # The late event's bucket leaves the 24 h window before the others do.
    g = store.features_for(tx(-90 + 24 * 60 + 61))
    assert (g["cust_cnt_24h"], g["cust_sum_24h"]) == (2.0, 30.0)


def test_event_beyond_lateness_is_scored_but_not_applied() -> None:
    store = FeatureStore(lateness_s=600)
    store.update(tx(0, 10.0))
    store.update(tx(60, 10.0))
    features = store.score_features(tx(30, 99.0, entity="c1"))  # 30 min late
    assert features["cust_cnt_24h"] == 2.0
    assert store.late_dropped == 1
    assert store.features_for(tx(61))["cust_cnt_24h"] == 2.0


def test_expire_forgets_idle_entities_and_marks_them_dirty() -> None:
    store = FeatureStore(ttl_s=3600)
    store.update(tx(0, entity="old", merchant="m-old", ip="9.9.9.9"))
    store.update(tx(90, entity="new", merchant="m-new", ip="8.8.8.8"))
    store.dirty_keys()
    expired = store.expire(T0 + timedelta(minutes=100))
    assert expired == 4  # customer, card, merchant and IP of "old"
    assert customer_key("old") in store.dirty_keys()
    assert store.snapshot(customer_key("old")) is None
    assert store.snapshot(customer_key("new")) is not None
    assert store.dirty_keys() == set()


def test_snapshot_restore_continues_exactly() -> None:
    rng = random.Random(7)
    events = [tx(i * 37.0, round(rng.uniform(1, 300), 2), entity=f"c{i % 3}",
                 merchant=f"m{i % 4}", ip=f"10.0.0.{i % 5}", ua=f"ua{i % 2}",
                 lat=40 + (i % 2), lon=-74.0, event_id=f"e{i}") for i in range(120)]
    labels = [label(e, float(i * 37 + 600), fraud=i % 7 == 0) for i, e in enumerate(events)]
    first, second = events[:60], events[60:]

    reference = FeatureStore()
    restored_from = FeatureStore()
    for store in (reference, restored_from):
        for i, event in enumerate(first):
            store.score_features(event)
            store.apply_label(labels[i])
    changelog = {key: restored_from.snapshot(key) for key in restored_from.dirty_keys()}
    restarted = FeatureStore()
    for key, data in changelog.items():
        restarted.restore(key, data)
    assert restarted.dirty_keys() == set()
    for i, event in enumerate(second, start=60):
        assert restarted.score_features(event) == pytest.approx(
            reference.score_features(event), nan_ok=True, rel=0, abs=0)
        restarted.apply_label(labels[i])
        reference.apply_label(labels[i])
    for key in reference.states:
        assert restarted.snapshot(key) == reference.snapshot(key)


def test_restore_rejects_foreign_payload() -> None:
    with pytest.raises(ValueError, match="snapshot"):
        FeatureStore().restore(merchant_key("m"), b'{"v": 99}')


def shared_traffic(seed: int, count: int = 400) -> tuple[list[Transaction],
                                                       list[TransactionLabel]]:
    """20 days of 12 customers paying at 5 merchants from 8 IPs (all shared across customers)."""
    rng = random.Random(seed)
    events = sorted(
        (tx(rng.uniform(0, 60 * 24 * 20), round(rng.lognormvariate(3, 1), 2),
            entity=f"c{rng.randrange(12)}", merchant=f"m{rng.randrange(5)}",
            ip=f"10.0.0.{rng.randrange(8)}", ua=f"ua{rng.randrange(3)}",
            lat=40 + rng.randrange(2), lon=-74.0, event_id=f"e{i}",
            card_bin=rng.choice(["411111", "522222", None]))
         for i in range(count)), key=lambda e: e.event_time)
    labels = [label(e, (e.event_time - T0).total_seconds() / 60 + rng.uniform(60, 60 * 24 * 9),
                    fraud=rng.random() < 0.2) for e in events]
    return events, labels


async def served_online(events: list[Transaction], labels: list[TransactionLabel],
                        partitions: int) -> tuple[list[list[float]], list[int]]:
    """The features the scorer serves, as its worker runs it: the producer's client picks
    each event's partition from its key, every partition has its own store from the
    engine, and every label reaches the engine's shared label store when it arrives."""
    engine = Engine(Model.load(), RuleSetLoader(DEFAULT_RULES), lateness_s=3600.0,
                    ttl_s=35 * 86_400.0, emit_features=True)
    stores = [engine.new_store() for _ in range(partitions)]
    client = DefaultPartitioner()
    every = list(range(partitions))
    pending = sorted(labels, key=lambda lb: lb.labelled_at)
    rows, chosen = [], []
    for event in events:
        while pending and pending[0].labelled_at <= event.event_time:
            engine.remember_label(pending.pop(0))
        p = client(encode_key(event.entity_id), every, every)
        batch = await engine.decide_batch([event], stores[p], datetime.now(UTC))
        served = batch.decisions[0].fd.features or {}
        values = [served[n] for n in FEATURE_NAMES]
        rows.append([math.nan if v is None else float(v) for v in values])
        chosen.append(p)
    return rows, chosen


@pytest.mark.parametrize("partitions", [1, 3, 6])
def test_offline_equals_online(partitions: int) -> None:
    events, labels = shared_traffic(3)
    offline, names = compute_offline(events, labels, partitions=partitions)
    assert names == FEATURE_NAMES

    online, chosen = asyncio.run(served_online(events, labels, partitions))
    np.testing.assert_array_equal(offline, np.array(online))
    risk = offline[:, FEATURE_NAMES.index("merch_fraud_cnt_30d")]
    assert np.nanmax(risk) > 0  # labels did reach the features
    assert len(set(chosen)) >= min(partitions, 3)
    # Merchants and IPs are shared by customers of different partitions.
    merchant_partitions: dict[str | None, set[int]] = {}
    for event, p in zip(events, chosen, strict=True):
        merchant_partitions.setdefault(event.merchant_id, set()).add(p)
    assert min(len(ps) for ps in merchant_partitions.values()) >= min(partitions, 3)


def test_partitions_split_merchant_and_ip_aggregates_but_not_risk() -> None:
    events, labels = shared_traffic(5)
    whole, _ = compute_offline(events, labels, partitions=1)
    split, _ = compute_offline(events, labels, partitions=6)

    def column(matrix: np.ndarray, name: str) -> np.ndarray:
        return matrix[:, FEATURE_NAMES.index(name)]

    for name in ("merch_cnt_30d", "ip_cnt_30d"):
        # Each partition counts its own customers' share of the traffic.
        assert (column(split, name) <= column(whole, name)).all()
        assert (column(split, name) < column(whole, name)).any()
    for name in ("cust_cnt_30d", "card_cnt_30d", "cust_distinct_merchant_24h",
                 *MERCHANT_RISK_NAMES):
        np.testing.assert_array_equal(column(split, name), column(whole, name))


def test_memory_report_is_bounded() -> None:
    store = FeatureStore()
    for i in range(2000):  # one busy customer for 40 days
        store.update(tx(i * 29.0, entity="busy", merchant=f"m{i % 50}", ip=f"10.0.{i % 200}.1"))
    state = store.states[customer_key("busy")]
    assert len(state.hour) <= 24 * 30
    assert len(state.minute) <= 60
    assert state.distinct is not None
    assert len(state.distinct["ip"]) <= store.distinct_cap
    assert store.memory_report()["snapshot_bytes_per_entity"] > 0


def test_customer_history_compares_the_amount_with_older_spending() -> None:
    store = FeatureStore()
    day = 24 * 60
    for d in range(19, 9, -1):  # ten days of 10.0, 19 to 10 days ago, in time order
        store.update(tx(-d * day, 10.0))
    store.update(tx(-2 * day, 40.0))  # recent spending: 2 days ago
    store.update(tx(-60, 30.0))  # and an hour ago
    f = store.features_for(tx(0, 50.0))
    assert f["cust_cnt_7_30d"] == 10.0
    assert f["cust_amt_ratio_7_30d"] == pytest.approx(5.0)
    assert f["cust_amt_ratio_1_30d"] == pytest.approx(50.0 / (140.0 / 11))
    assert f["cust_mean_24h_vs_7_30d"] == pytest.approx(3.0)
    assert f["cust_mean_7d_vs_7_30d"] == pytest.approx(3.5)


def test_customer_history_is_nan_without_older_history() -> None:
    store = FeatureStore()
    store.update(tx(-60, 30.0))
    f = store.features_for(tx(0, 50.0))
    assert f["cust_cnt_7_30d"] == 0.0
    assert math.isnan(f["cust_amt_ratio_7_30d"])
    assert f["cust_amt_ratio_1_30d"] != f["cust_amt_ratio_1_30d"]  # NaN: nothing before 24 h
