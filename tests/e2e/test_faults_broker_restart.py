"""The Kafka broker restarts mid-run: the exactly-once scorer rides it out.

Runs on a *private* Kafka (stack.py on free ports, its own ``FS_LOCAL_DIR``):
the shared broker is never touched. 3,000 simulated transactions are published
up front; while the scorer works through them the broker is stopped and started
again with its data kept. The scorer process is expected to *survive* the
outage (no restart by the test); afterwards a ``read_committed`` reader sees
every event decided exactly once, with features equal to an offline replay.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from tests.e2e.faults import (
    PrivateStack,
    create_topics,
    decided_once,
    feature_mismatches,
    log_events,
    private_stack,  # noqa: F401  (fixture)
    publish_transactions,
    read_committed,
    simulated_transactions,
)
from tests.e2e.processes import ServiceProcess

pytestmark = pytest.mark.e2e

EVENTS = 3000
PARTITIONS = 3


@pytest.fixture(scope="module")
def private_kafka(private_stack: PrivateStack) -> PrivateStack:  # noqa: F811
    """The private stack with its Kafka up."""
    private_stack.up("kafka")
    return private_stack


async def test_broker_restart_mid_run_every_event_decided_exactly_once(
    private_kafka: PrivateStack, tmp_path: Path,
) -> None:
    stack = private_kafka
    bootstrap = stack.kafka_bootstrap
    run = uuid.uuid4().hex[:8]
    source, decisions = f"restart-tx-{run}", f"restart-decisions-{run}"
    await create_topics(bootstrap, [source, decisions], PARTITIONS)
    events = simulated_transactions(EVENTS)
    await publish_transactions(bootstrap, source, events)

    scorer = ServiceProcess("scorer", {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"restart-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-restart-{run}",
        "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        # Small batches, so that the outage lands mid-stream.
        "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": "20",
    }, tmp_path).start()
    try:
        scorer.wait_ready()
        before = await read_committed(bootstrap, decisions, EVENTS // 5, 120, settle_ms=0)
        stack.down("kafka")
        await asyncio.sleep(5)  # an outage of seconds, with the scorer retrying
        assert scorer.proc is not None
        survived_outage = scorer.proc.poll() is None
        stack.up("kafka")
        outputs = await read_committed(bootstrap, decisions, EVENTS, 180)
        inputs = await read_committed(bootstrap, source, EVENTS, 60, settle_ms=0)
        alive_at_end = scorer.proc.poll() is None
    finally:
        code = None
        if scorer.proc is not None and scorer.proc.poll() is None:
            code, _ = scorer.terminate()

    # The scorer is never restarted by this test: it must ride out the outage.
    assert survived_outage, "the scorer exited during the outage:\n" + scorer.log_tail()
    assert alive_at_end, "the scorer exited after the outage:\n" + scorer.log_tail()
    assert code == 0, scorer.log_tail()
    assert len(before) < EVENTS, "the outage landed mid-stream"
    lost_broker = [line for line in scorer.log_path.read_text(errors="replace").splitlines()
                   if "Unable connect to node" in line]
    assert lost_broker, "the scorer saw the broker go away"
    found = decided_once(outputs, {tx["event_id"] for tx in events})
    assert len(outputs) == EVENTS
    mismatched = feature_mismatches(found, inputs)
    assert not mismatched, f"{len(mismatched)} decisions with other features: {mismatched[:2]}"
    aborted = log_events(scorer.log_path, "scorer.transaction.aborted")
    print(f"decided before the outage {len(before)}, aborted transactions {len(aborted)}, "
          f"'Unable connect' log lines {len(lost_broker)}")
