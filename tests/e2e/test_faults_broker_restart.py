"""The Kafka broker restarts mid-run: every service rides it out, nothing is lost.

Runs on a *private* Kafka (stack.py on free ports, its own ``FS_LOCAL_DIR``):
the shared broker is never touched. Simulated transactions (3,000 in ``make
test``, ``FAULT_EVENTS`` in a soak) are published up front; while the scorer
works through them the broker is stopped and started again with its data kept.
The scorer process is expected to *survive* the outage (no restart by the
test); afterwards a ``read_committed`` reader sees every event decided exactly
once, with features equal to an offline replay. A second run does the same to
the producer, the indexer and the notifier together (see its docstring).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from tests.conftest import unique_token
from tests.e2e.faults import (
    NEVER_EXPIRE_S,
    PrivateStack,
    alert_event_ids,
    blocked_every,
    create_topics,
    decided_once,
    doc_count,
    fault_events,
    feature_mismatches,
    in_key_order,
    indexed_ids,
    log_events,
    mails,
    make_decisions,
    private_stack,  # noqa: F401  (fixture)
    produce_json,
    publish_transactions,
    read_committed,
    run_timeout,
    scaled_timeout,
    simulated_labelled,
    simulated_transactions,
    sink_environments,
    start_mailcatcher,
)
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

EVENTS = fault_events(3000)
PARTITIONS = 3
WAIT_S = scaled_timeout(EVENTS)
# The sinks' test publishes over ~30 s (3,000) to ~80 s (100,000): the restart lands mid-flow.
SINK_PUBLISH_S = 30 + EVENTS / 2000

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S))]


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
    run = unique_token()
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
        "SCORER_EMIT_FEATURES": "true", "SCORER_MAX_BATCH": str(max(20, EVENTS // 150)),
        "SCORER_STATE_TTL_S": NEVER_EXPIRE_S,
    }, tmp_path).start()
    try:
        scorer.wait_ready()
        before = await read_committed(bootstrap, decisions, EVENTS // 5, WAIT_S, settle_ms=0)
        stack.down("kafka")
        await asyncio.sleep(5)  # an outage of seconds, with the scorer retrying
        assert scorer.proc is not None
        survived_outage = scorer.proc.poll() is None
        stack.up("kafka")
        outputs = await read_committed(bootstrap, decisions, EVENTS, WAIT_S)
        inputs = await read_committed(bootstrap, source, EVENTS, WAIT_S, settle_ms=0)
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


async def test_broker_restart_mid_run_producer_indexer_and_notifier_lose_nothing(
    private_kafka: PrivateStack, opensearch_url: str, tmp_path: Path,
) -> None:
    """The producer, the indexer and the notifier all ride out one broker restart.

    The producer replays a file of ``EVENTS`` labelled transactions; the test
    publishes as many decisions (1 in 10 blocked, see ``blocked_every``) for the indexer (shared
    OpenSearch, unique index) and the notifier (its own mail catcher). Both
    streams are paced, and the broker goes down once every service is
    mid-stream. Afterwards the transactions topic holds exactly the file, in
    file order per key, with a label for each; OpenSearch holds exactly N
    documents with unique ids; every blocked decision has exactly one e-mail.
    """
    stack = private_kafka
    bootstrap = stack.kafka_bootstrap
    run = unique_token()
    transactions, labels = f"restart-p-tx-{run}", f"restart-p-labels-{run}"
    decisions, index = f"restart-s-decisions-{run}", f"restart-sinks-{run}"
    await create_topics(bootstrap, [decisions], PARTITIONS)
    labelled = simulated_labelled(EVENTS, seed=17)
    replay = tmp_path / "replay.jsonl"
    replay.write_text("".join(json.dumps({**tx, "label": label}) + "\n"
                              for tx, label in labelled))
    payloads = make_decisions(EVENTS, blocked_every=blocked_every(EVENTS), marker=run)
    blocked = {p["event_id"] for p in payloads if p["fd"]["outcome"] == "block"}
    catcher, smtp_port, mail_url = start_mailcatcher(tmp_path / "mail")
    common = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS)}
    producer = ServiceProcess("producer", {
        **common, "TRANSACTIONS_TOPIC": transactions, "LABELS_TOPIC": labels,
        "PRODUCER_MODE": "replay", "PRODUCER_REPLAY_FILE": str(replay),
        "PRODUCER_RATE_PER_S": str(round(EVENTS / SINK_PUBLISH_S, 1)),
        "PRODUCER_MAX_BATCH": "50", "LABEL_DELAY_S": "1",
    }, tmp_path)
    indexer_env, notifier_env = sink_environments(
        bootstrap=bootstrap, opensearch_url=opensearch_url, decisions=decisions,
        partitions=PARTITIONS, run=run, index=index, sent_topic=f"restart-notified-{run}",
        smtp_port=smtp_port)
    indexer = ServiceProcess("indexer", indexer_env, tmp_path)
    notifier = ServiceProcess("notifier", notifier_env, tmp_path)
    services = [producer, indexer, notifier]
    client = AsyncOpenSearch(hosts=[opensearch_url])
    at_restart: dict[str, int] = {}
    not_ready: dict[str, int] = {}
    try:
        for service in (indexer, notifier):
            service.start().wait_ready()
        producer.start().wait_ready()
        # The test's own publisher waits out the outage instead of expiring its records.
        publishing = asyncio.create_task(produce_json(
            bootstrap, decisions, payloads, pause_every=100,
            pause_s=SINK_PUBLISH_S * 100 / EVENTS, request_timeout_ms=300_000))

        async def progress() -> dict[str, int]:
            status = (await asyncio.to_thread(producer.get, "/status")).json()
            return {"produced": int(status["produced"]),
                    "indexed": await doc_count(client, index),
                    "alerted": len(await asyncio.to_thread(mails, mail_url))}

        async def all_mid_stream() -> dict[str, int] | None:
            now = await progress()
            wanted = {"produced": EVENTS // 5, "indexed": EVENTS // 5,
                      "alerted": len(blocked) // 5}
            return now if all(now[k] >= wanted[k] for k in wanted) else None
        at_restart = await poll_until(all_mid_stream, "every service 20 % through", WAIT_S)

        stack.down("kafka")
        # During the outage every service stays alive and says it is not ready.
        for service in services:
            async def unready(service: ServiceProcess = service) -> int | None:
                code = (await asyncio.to_thread(service.get, "/readyz")).status_code
                return code if code != 200 else None
            not_ready[service.name] = await poll_until(
                unready, f"{service.name} /readyz to report the broker", 30)
        await asyncio.sleep(5)
        alive_in_outage = {s.name: s.proc is not None and s.proc.poll() is None
                           for s in services}
        stack.up("kafka")
        await publishing

        async def caught_up() -> bool:
            now = await progress()
            alerted = set(alert_event_ids(await asyncio.to_thread(mails, mail_url)))
            return now["produced"] == EVENTS and now["indexed"] >= EVENTS and blocked <= alerted
        await poll_until(caught_up, "every service caught up", WAIT_S)
        status = (await asyncio.to_thread(producer.get, "/status")).json()

        async def labels_out() -> bool:
            return (await asyncio.to_thread(producer.get, "/status")).json()[
                "labels_published"] >= EVENTS
        await poll_until(labels_out, "every label published", WAIT_S)
        await asyncio.sleep(2)  # would a late duplicate arrive?
        ready_after = {s.name: (await asyncio.to_thread(s.get, "/readyz")).status_code
                       for s in services}
        alive_at_end = {s.name: s.proc is not None and s.proc.poll() is None for s in services}
        ids = await indexed_ids(client, index)
        alerts = alert_event_ids(await asyncio.to_thread(mails, mail_url))
        published = await read_committed(bootstrap, transactions, EVENTS, WAIT_S)
        label_records = await read_committed(bootstrap, labels, EVENTS, WAIT_S)
    finally:
        codes = {}
        for service in services:
            if service.proc is not None and service.proc.poll() is None:
                codes[service.name], _ = service.terminate()
        await client.close()
        catcher.terminate()
        catcher.wait(timeout=10)

    # Nobody was restarted by the test: each service rode out the outage in-process.
    assert all(alive_in_outage.values()), alive_in_outage
    assert all(alive_at_end.values()), alive_at_end
    assert codes == {"producer": 0, "indexer": 0, "notifier": 0}, codes
    assert all(code == 503 for code in not_ready.values()), not_ready
    assert ready_after == {"producer": 200, "indexer": 200, "notifier": 200}, ready_after
    mid_stream = {"produced": EVENTS, "indexed": EVENTS, "alerted": len(blocked)}
    for what, total in mid_stream.items():
        assert at_restart[what] < total, f"the restart landed mid-stream: {at_restart}"
    # Producer: its count is what landed, every line of the file exactly once, in order per key.
    assert status["finished"]
    assert status["produced"] == EVENTS == len(published)
    file_order = [(0, json.dumps(tx).encode()) for tx, _label in labelled]
    assert Counter(json.loads(v)["event_id"] for _p, v in published) == \
        Counter(tx["event_id"] for tx, _label in labelled), "the file, each line once"
    out_of_order = in_key_order(published, file_order)
    assert not out_of_order, f"{len(out_of_order)} keys out of file order: {out_of_order[:3]}"
    assert sorted(json.loads(v)["event_id"] for _p, v in label_records) == \
        sorted(tx["event_id"] for tx, _label in labelled), "one label per transaction"
    # Indexer: exactly N documents, their ids the event ids.
    assert len(ids) == EVENTS
    assert set(ids) == {p["event_id"] for p in payloads}
    # Notifier: an alert for every blocked decision, none twice (nothing was killed).
    counts = Counter(alerts)
    assert set(counts) == blocked, "an alert for every blocked decision, and only those"
    assert max(counts.values()) == 1, "no alert sent twice"
    print(f"{EVENTS} events; progress at the restart {at_restart}; /readyz in the outage "
          f"{not_ready}")
