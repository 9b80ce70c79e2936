"""The central fault scenario: kill -9 three times, a clean stop, a second scorer in and out.

Real processes on the real Kafka, ``FAULT_EVENTS`` simulated transactions
(20,000 in ``make test``, 100,000 in ``make soak``), four fifths published up
front and the rest after the clean stop (so no fault can come after the end,
however fast the machine). While they are being scored:

1. kill -9 of the only scorer, mid-stream;
2. kill -9 of its successor right after it restored its state from the
   changelog (its first batches);
3. a second scorer joins (rebalance), then kill -9 of the first one while both
   are in the group (the survivor takes its partitions over and fences its
   open transactions);
4. the first scorer comes back (rebalance), the second one is stopped with
   SIGTERM (it leaves: rebalance), then the first one is stopped with SIGTERM
   too (the clean stop), and a last one finishes the stream.

A separate ``read_committed`` consumer then sees every event id exactly once,
in input order per key, and every decision's features equal an offline replay
of the same partition through the same feature code — so whatever state each
instance restored was exactly the committed state.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import (
    NEVER_EXPIRE_S,
    committed_count,
    decided_once,
    fault_events,
    feature_mismatches,
    in_key_order,
    log_events,
    publish_transactions,
    read_committed,
    run_timeout,
    scaled_timeout,
    simulated_transactions,
)
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

EVENTS = fault_events()
PARTITIONS = 4
WAIT_S = scaled_timeout(EVENTS)
STOP_TIMEOUT_S = 30  # ECS's default stop timeout

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S, 300))]


async def test_three_kills_a_clean_stop_and_a_second_scorer_every_event_decided_once(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    source = await topic_factory("recovery-tx", partitions=PARTITIONS)
    decisions = await topic_factory("recovery-decisions", partitions=PARTITIONS)
    run = unique_token()
    # A small population, so customers recur and their aggregates matter.
    events = simulated_transactions(EVENTS, seed=7)
    # The last fifth is published only after the clean stop, so every fault below
    # lands mid-stream however fast the scorers drain what is there.
    held_back = EVENTS * 80 // 100
    await publish_transactions(kafka_bootstrap, source, events[:held_back])
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"recovery-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-recovery-{run}", "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        # Batches of ~1/400 of the run: every fault below lands mid-stream.
        "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": str(max(20, EVENTS // 400)),
        "SCORER_STATE_TTL_S": NEVER_EXPIRE_S,
    }

    def scorer() -> ServiceProcess:
        return ServiceProcess("scorer", env, tmp_path)

    async def decided(at_least: int) -> int:
        """Wait until ``at_least`` decisions are committed; how many there are now."""
        await read_committed(kafka_bootstrap, decisions, at_least, WAIT_S, settle_ms=0)
        return await committed_count(kafka_bootstrap, decisions)

    started: list[ServiceProcess] = []
    points: dict[str, int] = {}
    stops: dict[str, tuple[int, float]] = {}
    try:
        # 1. kill -9 of the only scorer, mid-stream.
        first = scorer().start()
        started.append(first)
        first.wait_ready()
        points["kill 1 (alone, mid-stream)"] = await decided(EVENTS * 15 // 100)
        first.kill()

        # 2. kill -9 right after the successor restored its state from the changelog.
        second = scorer().start()
        started.append(second)

        async def restored() -> bool:
            return bool(log_events(second.log_path, "scorer.state.restored"))
        await poll_until(restored, "the restarted scorer to restore its state", WAIT_S,
                         interval=0.05)
        second.kill()
        points["kill 2 (just after restore)"] = await decided(1)

        # 3. a second scorer joins; kill -9 of the first while both are in the group.
        third = scorer().start()
        started.append(third)
        third.wait_ready()
        points["second scorer joins"] = await decided(EVENTS * 30 // 100)
        joiner = scorer().start()
        started.append(joiner)
        joiner.wait_ready()  # ready = partitions assigned: the group rebalanced
        points["kill 3 (two in the group)"] = await decided(EVENTS * 45 // 100)
        third.kill()

        # 4. the first comes back; the second leaves (SIGTERM); the first stops cleanly.
        fourth = scorer().start()
        started.append(fourth)
        fourth.wait_ready()
        points["second scorer leaves"] = await decided(EVENTS * 60 // 100)
        stops["second scorer"] = await asyncio.to_thread(joiner.terminate, STOP_TIMEOUT_S)
        points["clean stop"] = await decided(EVENTS * 75 // 100)
        stops["scorer"] = await asyncio.to_thread(fourth.terminate, STOP_TIMEOUT_S)
        await publish_transactions(kafka_bootstrap, source, events[held_back:])

        last = scorer().start()
        started.append(last)
        last.wait_ready()
        outputs = await read_committed(kafka_bootstrap, decisions, EVENTS, WAIT_S)
        inputs = await read_committed(kafka_bootstrap, source, EVENTS, WAIT_S, settle_ms=0)
        stops["last scorer"] = await asyncio.to_thread(last.terminate, STOP_TIMEOUT_S)
    finally:
        for service in started:
            service.kill()

    for who, (code, _seconds) in stops.items():
        assert code == 0, f"the {who} exited {code}"
    for what, count in points.items():
        assert count < EVENTS, f"{what} landed mid-stream ({count} of {EVENTS} decided)"
    assert log_events(joiner.log_path, "kafka.transactions.acquired"), \
        "the second scorer owned partitions:\n" + joiner.log_tail()
    assert log_events(fourth.log_path, "kafka.transactions.acquired"), \
        "the returning scorer took partitions back:\n" + fourth.log_tail()

    found = decided_once(outputs, {tx["event_id"] for tx in events})
    assert len(outputs) == EVENTS
    out_of_order = in_key_order(outputs, inputs)
    assert not out_of_order, f"{len(out_of_order)} keys decided out of order: {out_of_order[:3]}"
    mismatched = feature_mismatches(found, inputs)
    assert not mismatched, f"{len(mismatched)} decisions with other features, e.g. {mismatched[:2]}"
    # Customers recur: the restored aggregates were really used.
    assert sum(1 for d in found if (d.fd.features or {}).get("cust_cnt_30d")) > EVENTS // 3
    print(f"{EVENTS} events; decided at each fault: {points}; "
          f"stop seconds: { {k: round(v[1], 1) for k, v in stops.items()} }")
