"""The scorer survives kill -9: decisions are exactly-once and the feature state continues.

Real processes on the real Kafka: events are published up front, the scorer is
killed with SIGKILL twice mid-stream and restarted, then a ``read_committed``
reader checks that every event was decided exactly once and that every
decision's features equal an offline replay of the same partition through the
same feature code — so the restored state is exactly the committed state.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.conftest import TopicFactory
from tests.e2e.faults import (
    decided_once,
    feature_mismatches,
    publish_transactions,
    read_committed,
    simulated_transactions,
)
from tests.e2e.processes import ServiceProcess

pytestmark = pytest.mark.e2e

EVENTS = 3000
PARTITIONS = 3


async def test_kill_9_twice_then_every_event_decided_once_with_continuous_features(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    source = await topic_factory("recovery-tx", partitions=PARTITIONS)
    decisions = await topic_factory("recovery-decisions", partitions=PARTITIONS)
    run = uuid.uuid4().hex[:8]
    # A small population, so customers recur and their aggregates matter.
    events = simulated_transactions(EVENTS, seed=7)
    await publish_transactions(kafka_bootstrap, source, events)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"recovery-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-recovery-{run}", "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": "50",
    }

    for fraction in (0.25, 0.6):
        scorer = ServiceProcess("scorer", env, tmp_path).start()
        scorer.wait_ready()
        await read_committed(kafka_bootstrap, decisions, int(EVENTS * fraction), 120,
                             settle_ms=0)
        scorer.kill()  # SIGKILL: no drain, no commit, an open transaction left behind
    final = ServiceProcess("scorer", env, tmp_path).start()
    final.wait_ready()
    try:
        outputs = await read_committed(kafka_bootstrap, decisions, EVENTS, 180)
    finally:
        code, _ = final.terminate()
    assert code == 0, final.log_tail()

    decided = decided_once(outputs, {tx["event_id"] for tx in events})
    assert len(outputs) == EVENTS
    inputs = await read_committed(kafka_bootstrap, source, EVENTS, 30, settle_ms=0)
    mismatched = feature_mismatches(decided, inputs)
    assert not mismatched, f"{len(mismatched)} decisions with other features, e.g. {mismatched[:2]}"
    # Customers recur: the restored aggregates were really used.
    assert sum(1 for d in decided if (d.fd.features or {}).get("cust_cnt_30d")) > 1000
