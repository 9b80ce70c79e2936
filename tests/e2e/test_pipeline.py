"""The whole pipeline as real processes on the real Kafka, OpenSearch and SMTP server.

producer → transactions → scorer → processed_transactions → notifier (SMTP) and
indexer (OpenSearch). Checks the three promises of the pipeline: every input is
decided or dead-lettered (never lost, never twice), the original sample's
messages are understood, and junk is dead-lettered with a reason while the
pipeline goes on.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from opensearchpy import AsyncOpenSearch

from fraudstream_shared.events import DeadLetter, ProcessedTransaction, Transaction
from fraudstream_shared.events.topics import dead_letter_topic
from tests.conftest import unique_name, unique_token
from tests.e2e.processes import ServiceProcess
from tests.support.factories import original_sample_transaction
from tests.support.polling import poll_until

pytestmark = pytest.mark.e2e

ALERT_SUBJECT = "FRAUD ALERT: Transaction has been flagged!"


@dataclass
class Pipeline:
    """Names and endpoints of one running pipeline."""

    transactions: str
    decisions: str
    labels: str
    index: str
    producer: ServiceProcess
    mail_url: str
    bootstrap: str

    @property
    def dead_letters(self) -> str:
        return dead_letter_topic(self.transactions)


@pytest.fixture(scope="module")
def pipeline(
    kafka_bootstrap: str, opensearch_url: str, mailcatcher: tuple[int, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pipeline]:
    """Start scorer, notifier, indexer and producer on unique topics and index."""
    run = unique_token()
    smtp_port, mail_url = mailcatcher
    logs = tmp_path_factory.mktemp("logs")
    topics = {
        "TRANSACTIONS_TOPIC": f"e2e-tx-{run}",
        "DECISIONS_TOPIC": f"e2e-decisions-{run}",
        "LABELS_TOPIC": f"e2e-labels-{run}",
    }
    common = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "KAFKA_TOPIC_PARTITIONS": "3",
              "LOG_LEVEL": "INFO", **topics}
    index = f"e2e-decisions-{run}"
    services = [
        ServiceProcess("scorer", {**common, "KAFKA_CONSUMER_GROUP": f"scorer-{run}"}, logs),
        ServiceProcess("notifier", {
            **common, "KAFKA_CONSUMER_GROUP": f"notifier-{run}",
            "NOTIFIER_SENT_TOPIC": f"e2e-notified-{run}",
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port),
        }, logs),
        ServiceProcess("indexer", {
            **common, "KAFKA_CONSUMER_GROUP": f"indexer-{run}",
            "OPENSEARCH_URL": opensearch_url, "OPENSEARCH_INDEX": index,
            "INDEXER_BULK_MAX_INTERVAL_MS": "200",
        }, logs),
        ServiceProcess("producer", {
            **common, "PRODUCER_AUTOSTART": "false", "PRODUCER_RATE_PER_S": "400",
            "LABEL_DELAY_S": "1",
        }, logs),
    ]
    try:
        for service in services:
            service.start()
        for service in services:
            service.wait_ready()
        yield Pipeline(topics["TRANSACTIONS_TOPIC"], topics["DECISIONS_TOPIC"],
                       topics["LABELS_TOPIC"], index, services[-1], mail_url, kafka_bootstrap)
    finally:
        for service in reversed(services):
            if service.proc is not None and service.proc.poll() is None:
                code, _ = service.terminate()
                assert code == 0, f"{service.name} exited {code}:\n{service.log_tail()}"


@pytest.fixture
async def raw_producer(pipeline: Pipeline) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer, like the original sample's (no key unless given)."""
    producer = AIOKafkaProducer(bootstrap_servers=pipeline.bootstrap,
                                max_request_size=8 * 1024 * 1024, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


class TopicReader:
    """Reads a whole topic (read_committed) and keeps what it has seen."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.values: list[bytes] = []
        self._consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, group_id=unique_name("e2e-reader"),
            auto_offset_reset="earliest", isolation_level="read_committed",
            enable_auto_commit=False, max_partition_fetch_bytes=32 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
        )

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def read(self) -> list[bytes]:
        batches = await self._consumer.getmany(timeout_ms=300, max_records=5000)
        for batch in batches.values():
            self.values.extend(record.value for record in batch if record.value is not None)
        return self.values


def decisions_by_event(values: list[bytes]) -> dict[str, list[ProcessedTransaction]]:
    out: dict[str, list[ProcessedTransaction]] = {}
    for value in values:
        decision = ProcessedTransaction.model_validate_json(value)
        out.setdefault(decision.event_id, []).append(decision)
    return out


async def mails(pipeline: Pipeline) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(pipeline.mail_url + "/api/messages", timeout=5)
        result: list[dict[str, Any]] = response.json()
        return result


def blocked_event(**overrides: Any) -> dict[str, Any]:
    """An event the default rule set always blocks: its e-mail is on the block list."""
    return original_sample_transaction(
        event_id=str(uuid.uuid4()), transaction_amt=9500, transaction_currency="egp",
        product_category="shopping_net", email_address="chargeback.ring@example.invalid",
        **overrides)


async def test_simulated_transactions_are_each_decided_indexed_and_alerted_once(
    pipeline: Pipeline, raw_producer: AIOKafkaProducer, opensearch_url: str,
) -> None:
    # Known blocks so that the alert path is exercised whatever the simulation draws.
    crafted = [blocked_event() for _ in range(5)]
    for event in crafted:
        await raw_producer.send_and_wait(pipeline.transactions, json.dumps(event).encode(),
                                         key=event["entity_id"].encode())
    async with httpx.AsyncClient(base_url=pipeline.producer.url) as api:
        assert (await api.post("/start")).status_code == 200
        await poll_until(
            lambda: _produced_at_least(api, 1500), "the producer to publish 1,500 events", 60)
        assert (await api.post("/stop")).status_code == 200
        await asyncio.sleep(1)
        simulated = (await api.get("/status")).json()["produced"]
    expected = simulated + len(crafted)

    async with TopicReader(pipeline.bootstrap, pipeline.transactions) as inputs:
        await poll_until(lambda: _has(inputs, expected), f"{expected} inputs", 30)
        assert len(inputs.values) == expected
        input_ids = {json.loads(v)["event_id"] for v in inputs.values}

    async with TopicReader(pipeline.bootstrap, pipeline.decisions) as decisions:
        await poll_until(lambda: _has(decisions, expected), f"{expected} decisions", 60)
        await asyncio.sleep(1)
        await decisions.read()
    by_event = decisions_by_event(decisions.values)
    assert set(by_event) == input_ids, "every input decided"
    assert all(len(d) == 1 for d in by_event.values()), "no input decided twice"
    for event in crafted:
        assert by_event[event["event_id"]][0].fd.outcome == "block"
    blocked = {eid for eid, (d,) in by_event.items() if d.fd.outcome == "block"}

    client = AsyncOpenSearch(hosts=[opensearch_url])
    try:
        async def indexed() -> int:
            await client.indices.refresh(index=pipeline.index)
            return int((await client.count(index=pipeline.index))["count"]) == expected
        await poll_until(indexed, f"{expected} documents in {pipeline.index}", 60)
        some = await client.get(index=pipeline.index, id=crafted[0]["event_id"])
        assert some["_source"]["fd"]["outcome"] == "block"
    finally:
        await client.close()

    async def all_alerts() -> bool:
        return len([m for m in await mails(pipeline) if m["subject"] == ALERT_SUBJECT]) \
            >= len(blocked)
    await poll_until(all_alerts, f"{len(blocked)} alert emails", 60)
    await asyncio.sleep(2)  # would a duplicate arrive late?
    alerts = [m for m in await mails(pipeline) if m["subject"] == ALERT_SUBJECT]
    alerted_ids = [eid for m in alerts for eid in blocked if eid in m["body"]]
    assert sorted(alerted_ids) == sorted(blocked), "exactly one email per blocked decision"
    body = next(m["body"] for m in alerts if crafted[0]["event_id"] in m["body"])
    assert "9500" in body
    assert "egp" in body.lower()
    assert "Please review transaction" in body


async def test_messages_in_the_original_sample_format_are_scored(
    pipeline: Pipeline, raw_producer: AIOKafkaProducer,
) -> None:
    originals = [
        original_sample_transaction(event_id=str(uuid.uuid4())),
        # The original's timestamps lose the fraction when microseconds are 0.
        original_sample_transaction(event_id=str(uuid.uuid4()),
                                    event_time=datetime.now(UTC).replace(
                                        microsecond=0, tzinfo=None).isoformat("T")),
        original_sample_transaction(event_id=str(uuid.uuid4()), transaction_currency="GBP"),
    ]
    for event in originals:
        # No key, exactly like the original producer.
        await raw_producer.send_and_wait(pipeline.transactions, json.dumps(event).encode())
    wanted = {e["event_id"] for e in originals}
    async with TopicReader(pipeline.bootstrap, pipeline.decisions) as reader:
        async def decided() -> bool:
            return wanted <= set(decisions_by_event(await reader.read()))
        await poll_until(decided, "decisions for the original-format events", 60)
        by_event = decisions_by_event(reader.values)
    for event in originals:
        decision = by_event[event["event_id"]][0]
        assert decision.fd.outcome in ("approve", "review", "block")
        assert decision.transaction_amt == event["transaction_amt"]
        assert decision.fd.ttdf >= decision.fd.proc_time >= 0
        assert decision.fd.rule_results, "every rule's result is kept"


async def test_malformed_input_is_dead_lettered_and_counts_reconcile(
    pipeline: Pipeline, raw_producer: AIOKafkaProducer,
) -> None:
    marker = uuid.uuid4().hex
    def valid() -> dict[str, Any]:
        return original_sample_transaction(event_id=f"{marker}-{uuid.uuid4().hex[:6]}")
    missing = valid()
    del missing["email_address"]
    junk: dict[str, bytes] = {
        "invalid_json": b'{"event_id": "' + marker.encode() + b'", ',
        "invalid_utf8": b'{"event_id": "\xff\xfe' + marker.encode() + b'"}',
        "missing_field": json.dumps(missing).encode(),
        "wrong_type": json.dumps({**valid(), "transaction_amt": "a lot"}).encode(),
        "negative": json.dumps({**valid(), "transaction_amt": -5}).encode(),
        "nan": json.dumps({**valid(), "transaction_amt": math.nan}).encode(),
        "infinite": json.dumps({**valid(), "transaction_amt": math.inf}).encode(),
        "five_mb": b'{"event_id": "' + marker.encode() + b'", "pad": "'
                   + b"x" * (5 * 1024 * 1024) + b'"}',
    }
    good = [valid() for _ in range(5)]
    for value in junk.values():
        await raw_producer.send_and_wait(pipeline.transactions, value, key=marker.encode())
    for event in good:
        await raw_producer.send_and_wait(pipeline.transactions, json.dumps(event).encode(),
                                         key=marker.encode())

    async with TopicReader(pipeline.bootstrap, pipeline.dead_letters) as dlq:
        async def dead_lettered() -> list[DeadLetter]:
            return [d for d in map(DeadLetter.model_validate_json, await dlq.read())
                    if d.key == marker]
        letters = await poll_until(
            lambda: _at_least(dead_lettered, len(junk)), "every junk message dead-lettered", 60)
    assert len(letters) == len(junk)
    reasons = sorted(letter.reason for letter in letters)
    assert reasons.count("schema_violation") == 5
    assert {"invalid_json", "invalid_utf8", "oversized"} <= set(reasons)
    for letter in letters:
        assert letter.source_topic == pipeline.transactions
        assert letter.service == "scorer"
        assert letter.error
        assert letter.original_value() in junk.values(), "the original bytes are kept"

    async with TopicReader(pipeline.bootstrap, pipeline.decisions) as reader:
        async def decided() -> bool:
            ids = set(decisions_by_event(await reader.read()))
            return {e["event_id"] for e in good} <= ids
        await poll_until(decided, "the valid events after the junk to be decided", 60)
        mine = [eid for eid in decisions_by_event(reader.values) if eid.startswith(marker)]
    # in = decided + dead-lettered, exactly.
    assert len(junk) + len(good) == len(mine) + len(letters)
    Transaction.model_validate(good[0])  # the good ones really are valid


async def _produced_at_least(api: httpx.AsyncClient, n: int) -> bool:
    return int((await api.get("/status")).json()["produced"]) >= n


async def _has(reader: TopicReader, n: int) -> bool:
    return len(await reader.read()) >= n


async def _at_least(fetch: Any, n: int) -> Any:
    found = await fetch()
    return found if len(found) >= n else None
