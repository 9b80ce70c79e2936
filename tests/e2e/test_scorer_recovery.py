"""The scorer survives kill -9: decisions are exactly-once and the feature state continues.

Real processes on the real Kafka: events are published up front, the scorer is
killed with SIGKILL twice mid-stream and restarted, then a ``read_committed``
reader checks that every event was decided exactly once and that every
decision's features equal an offline replay of the same partition through the
same feature code — so the restored state is exactly the committed state.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fraudstream_shared.events import ProcessedTransaction, Transaction
from producer.simulation import SimulationConfig, Simulator
from scorer.features import FeatureStore
from scorer.features.store import MERCHANT_RISK_NAMES, TxEvent
from tests.conftest import TopicFactory, unique_name
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

pytestmark = pytest.mark.e2e

EVENTS = 3000
PARTITIONS = 3


async def _read_all(bootstrap: str, topic: str, expected: int, timeout: float
                    ) -> list[tuple[int, bytes]]:
    """(partition, value) of every committed record, in offset order per partition."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=unique_name("reader"),
        auto_offset_reset="earliest", isolation_level="read_committed",
        enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[int, bytes]] = []
    try:
        async def enough() -> bool:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for batch in batches.values():
                seen.extend((r.partition, r.value) for r in batch if r.value is not None)
            return len(seen) >= expected
        await poll_until(enough, f"{expected} records on {topic}", timeout)
        # Anything beyond ``expected`` would be a duplicate: give it a chance to show.
        await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()
    return seen


def _offline_features(inputs: list[tuple[int, bytes]]) -> dict[str, dict[str, float | None]]:
    """Replay each input partition, in offset order, through a fresh store."""
    stores: dict[int, FeatureStore] = defaultdict(FeatureStore)
    expected: dict[str, dict[str, float | None]] = {}
    from scorer.features import FEATURE_NAMES

    for partition, value in inputs:
        tx = Transaction.model_validate_json(value)
        event = TxEvent.of(tx)
        row = stores[partition].row(event)
        stores[partition].update(event)
        expected[tx.event_id] = {
            name: (None if math.isnan(v) else v) for name, v in zip(FEATURE_NAMES, row,
                                                                    strict=True)
            if name not in MERCHANT_RISK_NAMES}
    return expected


async def test_kill_9_twice_then_every_event_decided_once_with_continuous_features(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    source = await topic_factory("recovery-tx", partitions=PARTITIONS)
    decisions = await topic_factory("recovery-decisions", partitions=PARTITIONS)
    run = uuid.uuid4().hex[:8]
    # A small population, so customers recur and their aggregates matter.
    simulator = Simulator(SimulationConfig(n_customers=60, n_merchants=40), seed=7)
    start = datetime.now(UTC) - timedelta(days=10)
    events = [tx for tx, _label in simulator.events(start, count=EVENTS)]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        for tx in events:
            await producer.send(source, json.dumps(tx).encode(), key=tx["entity_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()

    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"recovery-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-recovery-{run}", "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": "50",
    }

    async def decided_so_far(at_least: int) -> None:
        await _read_all(kafka_bootstrap, decisions, at_least, 120)

    kills = 0
    for fraction in (0.25, 0.6):
        scorer = ServiceProcess("scorer", env, tmp_path).start()
        scorer.wait_ready()
        await decided_so_far(int(EVENTS * fraction))
        scorer.kill()  # SIGKILL: no drain, no commit, an open transaction left behind
        kills += 1
    final = ServiceProcess("scorer", env, tmp_path).start()
    final.wait_ready()
    try:
        outputs = await _read_all(kafka_bootstrap, decisions, EVENTS, 180)
    finally:
        code, _ = final.terminate()
    assert code == 0, final.log_tail()
    assert kills == 2

    by_event: dict[str, list[ProcessedTransaction]] = defaultdict(list)
    for _partition, value in outputs:
        decision = ProcessedTransaction.model_validate_json(value)
        by_event[decision.event_id].append(decision)
    duplicated = {eid: len(found) for eid, found in by_event.items() if len(found) > 1}
    assert not duplicated, f"{len(duplicated)} events decided more than once"
    assert set(by_event) == {tx["event_id"] for tx in events}, "every event decided"
    assert len(outputs) == EVENTS

    inputs = await _read_all(kafka_bootstrap, source, EVENTS, 30)
    expected = _offline_features(inputs)
    mismatched: list[tuple[str, dict[str, Any]]] = []
    for event_id, (decision,) in by_event.items():
        online = {k: v for k, v in (decision.fd.features or {}).items()
                  if k not in MERCHANT_RISK_NAMES}
        if online != expected[event_id]:
            diff = {k: (online.get(k), v) for k, v in expected[event_id].items()
                    if online.get(k) != v}
            mismatched.append((event_id, diff))
    assert not mismatched, f"{len(mismatched)} decisions with other features, e.g. {mismatched[:2]}"
    # Customers recur: the restored aggregates were really used.
    assert sum(1 for (d,) in by_event.values() if (d.fd.features or {}).get("cust_cnt_30d")) > 1000
