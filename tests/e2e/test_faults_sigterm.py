"""SIGTERM under load: every service exits 0 within 30 s and a restart loses nothing.

Real processes on the shared Kafka/OpenSearch (unique topics, groups, index).
Each consuming service is stopped with SIGTERM while a few thousand inputs
(``FAULT_EVENTS`` in a soak) are flowing, then started again: the scorer's
decisions are exactly once (``read_committed``), the index holds exactly N documents, every blocked
decision has its e-mail (duplicates ≤ 1, for the one stop). The producer,
stopped under load, publishes every label still pending before it exits.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from opensearchpy import AsyncOpenSearch

from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import (
    alert_event_ids,
    blocked_every,
    decided_once,
    doc_count,
    fault_events,
    indexed_ids,
    log_events,
    mails,
    make_decisions,
    produce_json,
    publish_transactions,
    read_committed,
    run_timeout,
    scaled_timeout,
    simulated_transactions,
    sink_environments,
    start_mailcatcher,
)
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

PARTITIONS = 3
STOP_TIMEOUT_S = 30  # ECS's default stop timeout
EVENTS = fault_events(3000)
PRODUCED = fault_events(2000)
WAIT_S = scaled_timeout(EVENTS)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S, WAIT_S))]


def _stop(service: ServiceProcess) -> float:
    code, seconds = service.terminate(timeout=STOP_TIMEOUT_S)
    assert code == 0, f"{service.name} exited {code}:\n{service.log_tail()}"
    return seconds


async def test_scorer_sigterm_under_load_then_restart_decides_everything_once(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    events_n = EVENTS
    source = await topic_factory("sigterm-tx", partitions=PARTITIONS)
    decisions = await topic_factory("sigterm-decisions", partitions=PARTITIONS)
    run = unique_token()
    events = simulated_transactions(events_n, seed=11)
    await publish_transactions(kafka_bootstrap, source, events)
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
           "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"sigterm-labels-{run}",
           "KAFKA_CONSUMER_GROUP": f"scorer-sigterm-{run}",
           "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS), "SCORER_MAX_BATCH": "20"}
    first = ServiceProcess("scorer", env, tmp_path).start()
    first.wait_ready()
    before = await read_committed(kafka_bootstrap, decisions, events_n // 4, WAIT_S,
                                  settle_ms=0)
    seconds = _stop(first)
    second = ServiceProcess("scorer", env, tmp_path).start()
    try:
        second.wait_ready()
        outputs = await read_committed(kafka_bootstrap, decisions, events_n, WAIT_S)
    finally:
        _stop(second)
    assert len(before) < events_n, "the stop landed mid-stream"
    decided_once(outputs, {tx["event_id"] for tx in events})
    assert len(outputs) == events_n
    print(f"scorer stopped in {seconds:.1f}s")


async def test_indexer_and_notifier_sigterm_under_load_then_restart_lose_nothing(
    kafka_bootstrap: str, opensearch_url: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    events_n = EVENTS
    run = unique_token()
    decisions = await topic_factory("sigterm-sink-decisions", partitions=PARTITIONS)
    index = f"sigterm-{run}"
    payloads = make_decisions(events_n, blocked_every=blocked_every(events_n), marker=run)
    blocked = {p["event_id"] for p in payloads if p["fd"]["outcome"] == "block"}
    catcher, smtp_port, mail_url = start_mailcatcher(tmp_path / "mail")
    indexer_env, notifier_env = sink_environments(
        bootstrap=kafka_bootstrap, opensearch_url=opensearch_url, decisions=decisions,
        partitions=PARTITIONS, run=run, index=index,
        sent_topic=f"sigterm-notified-{run}", smtp_port=smtp_port)
    client = AsyncOpenSearch(hosts=[opensearch_url])
    services = [ServiceProcess("indexer", indexer_env, tmp_path).start(),
                ServiceProcess("notifier", notifier_env, tmp_path).start()]
    stop_seconds: dict[str, float] = {}
    try:
        for service in services:
            service.wait_ready()
        # Paced: ~10 s of traffic at 3,000, ~60 s at 100,000.
        producing = asyncio.create_task(produce_json(
            kafka_bootstrap, decisions, payloads, pause_every=100,
            pause_s=(9 + events_n / 2000) * 100 / events_n))

        async def docs_at_least(n: int) -> bool:
            return await doc_count(client, index) >= n

        async def mails_at_least(n: int) -> bool:
            return len(await asyncio.to_thread(mails, mail_url)) >= n

        await poll_until(lambda: docs_at_least(events_n // 4), "a quarter of the docs", WAIT_S)
        stop_seconds["indexer"] = await asyncio.to_thread(_stop, services[0])
        docs_at_stop = await doc_count(client, index)
        services.append(ServiceProcess("indexer", indexer_env, tmp_path).start())
        await poll_until(lambda: mails_at_least(len(blocked) // 3), "a third of the mails", WAIT_S)
        stop_seconds["notifier"] = await asyncio.to_thread(_stop, services[1])
        services.append(ServiceProcess("notifier", notifier_env, tmp_path).start())
        await producing

        await poll_until(lambda: docs_at_least(events_n), f"{events_n} documents", WAIT_S)

        async def all_alerts() -> bool:
            return blocked <= set(alert_event_ids(await asyncio.to_thread(mails, mail_url)))
        await poll_until(all_alerts, f"{len(blocked)} alerts", WAIT_S)
        await asyncio.sleep(2)  # would a late duplicate arrive?
        ids = await indexed_ids(client, index)
        alerts = alert_event_ids(await asyncio.to_thread(mails, mail_url))
    finally:
        for service in services:
            if service.proc is not None and service.proc.poll() is None:
                _stop(service)
        await client.close()
        catcher.terminate()
        catcher.wait(timeout=10)

    assert docs_at_stop < events_n, "the indexer was stopped mid-stream"
    assert len(ids) == events_n, "exactly N documents"
    assert set(ids) == {p["event_id"] for p in payloads}
    counts = Counter(alerts)
    assert set(counts) == blocked, "an alert for every blocked decision, and only those"
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates <= 1, f"{duplicates} duplicate alerts after one SIGTERM"
    print(f"stopped in {stop_seconds}; duplicate alerts {duplicates}")


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str) -> int:
    """Records on ``topic`` (sum of the partitions' end offsets; 0 before it exists)."""
    await consumer._client.force_metadata_update()  # no public refresh in aiokafka 0.14
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or set()]
    if not partitions:
        return 0
    return sum((await consumer.end_offsets(partitions)).values())


async def test_producer_sigterm_under_load_flushes_every_pending_label(
    kafka_bootstrap: str, tmp_path: Path,
) -> None:
    run = unique_token()
    transactions, labels = f"sigterm-prod-tx-{run}", f"sigterm-prod-labels-{run}"
    producer = ServiceProcess("producer", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": transactions,
        "LABELS_TOPIC": labels, "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
        "PRODUCER_RATE_PER_S": str(min(10_000, max(400, PRODUCED // 5))),
        "PRODUCER_MAX_BATCH": "100",
        # Every label is still pending when the stop comes.
        "LABEL_DELAY_S": "3600", "PRODUCER_CUSTOMERS": "200", "PRODUCER_MERCHANTS": "200",
    }, tmp_path).start()
    offsets = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await offsets.start()
    try:
        producer.wait_ready()

        async def produced_at_least(n: int) -> bool:
            return await _end_offsets(offsets, transactions) >= n
        await poll_until(lambda: produced_at_least(PRODUCED), f"{PRODUCED} transactions",
                         WAIT_S)
        seconds = await asyncio.to_thread(_stop, producer)
        sent = await _end_offsets(offsets, transactions)
        labelled = await _end_offsets(offsets, labels)
    finally:
        await offsets.stop()
        if producer.proc is not None and producer.proc.poll() is None:
            producer.kill()
    flushed = log_events(producer.log_path, "producer.labels.flushed_at_shutdown")
    assert flushed, producer.log_tail()
    assert flushed[0]["count"] == sent, "every label was still pending at the stop"
    assert labelled == sent, f"{sent} transactions but {labelled} labels"
    print(f"producer stopped in {seconds:.1f}s after {sent} transactions")
