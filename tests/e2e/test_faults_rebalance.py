"""A second scorer joins and leaves mid-run: decisions stay exactly once, features continuous.

Real processes on the shared Kafka (unique topics and group). One scorer
starts on pre-published events (3,000 in ``make test``, ``FAULT_EVENTS`` in a
soak); a second joins mid-run (partitions move to it, their state restored
from the changelog) and is stopped with SIGTERM mid-run (the partitions move
back). A ``read_committed`` reader then
sees every event decided exactly once, and every decision's features equal an
offline per-partition replay (merchant risk aside).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import (
    NEVER_EXPIRE_S,
    decided_once,
    fault_events,
    feature_mismatches,
    log_events,
    publish_transactions,
    read_committed,
    run_timeout,
    scaled_timeout,
    simulated_transactions,
)
from tests.e2e.processes import ServiceProcess

EVENTS = fault_events(3000)
PARTITIONS = 4
WAIT_S = scaled_timeout(EVENTS)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S, WAIT_S))]


async def test_second_scorer_joins_and_leaves_mid_run_every_event_decided_once(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    source = await topic_factory("rebalance-tx", partitions=PARTITIONS)
    decisions = await topic_factory("rebalance-decisions", partitions=PARTITIONS)
    run = unique_token()
    events = simulated_transactions(EVENTS, seed=13)
    await publish_transactions(kafka_bootstrap, source, events)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
           "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"rebalance-labels-{run}",
           "KAFKA_CONSUMER_GROUP": f"scorer-rebalance-{run}",
           "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
           # Small batches keep the run long enough for both rebalances to land mid-stream.
           "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": str(max(10, EVENTS // 300)),
           "SCORER_STATE_TTL_S": NEVER_EXPIRE_S}

    first = ServiceProcess("scorer", env, tmp_path).start()
    second = ServiceProcess("scorer", env, tmp_path)
    try:
        first.wait_ready()
        at_join = await read_committed(kafka_bootstrap, decisions, EVENTS // 5, WAIT_S,
                                        settle_ms=0)
        second.start().wait_ready()  # ready = partitions assigned: the group rebalanced
        at_leave = await read_committed(kafka_bootstrap, decisions, EVENTS // 2, WAIT_S,
                                        settle_ms=0)
        code_second, seconds = second.terminate(timeout=30)
        outputs = await read_committed(kafka_bootstrap, decisions, EVENTS, WAIT_S)
        inputs = await read_committed(kafka_bootstrap, source, EVENTS, WAIT_S, settle_ms=0)
    finally:
        for service in (first, second):
            if service.proc is not None and service.proc.poll() is None:
                code, _ = service.terminate()
                assert code == 0, service.log_tail()
    assert code_second == 0, second.log_tail()

    assert len(at_join) < EVENTS, "the second scorer joined mid-stream"
    assert len(at_leave) < EVENTS, "the second scorer left mid-stream"
    taken = log_events(second.log_path, "kafka.transactions.acquired")
    assert taken, "the second scorer owned partitions:\n" + second.log_tail()
    moved_back = log_events(first.log_path, "scorer.partitions.assigned")
    assert len(moved_back) >= 2, "the first scorer's assignment changed"

    found = decided_once(outputs, {tx["event_id"] for tx in events})
    assert len(outputs) == EVENTS
    mismatched = feature_mismatches(found, inputs)
    assert not mismatched, f"{len(mismatched)} decisions with other features: {mismatched[:2]}"
    assert sum(1 for d in found if (d.fd.features or {}).get("cust_cnt_30d")) > EVENTS // 3
    print(f"joined at {len(at_join)}, left at {len(at_leave)} decided; "
          f"second scorer stopped in {seconds:.1f}s")
