"""The indexer worker in-process against the real Kafka and OpenSearch."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer
from opensearchpy import AsyncOpenSearch

from fraudstream_shared.events import DeadLetter, encode_key
from fraudstream_shared.events.topics import dead_letter_topic
from fraudstream_shared.kafka import create_admin, create_producer
from indexer.settings import IndexerSettings
from indexer.worker import IndexerWorker
from tests.conftest import TopicFactory, unique_name
from tests.support.polling import poll_until
from tests.unit.test_indexer.factories import decision_payload

pytestmark = pytest.mark.integration

Run = Callable[[IndexerSettings], Awaitable[IndexerWorker]]


def _settings(kafka: str, opensearch: str, topic: str, index: str) -> IndexerSettings:
    return IndexerSettings(
        kafka_bootstrap_servers=kafka,
        kafka_consumer_group=unique_name("indexer-group"),
        kafka_topic_partitions=3,
        decisions_topic=topic,
        opensearch_url=opensearch,
        opensearch_index=index,
        indexer_bulk_max_docs=7,  # several bulk requests per batch
        indexer_bulk_max_interval_ms=100,
        indexer_retry_base_s=0.05,
        indexer_retry_cap_s=0.5,
    )


async def _produce(settings: IndexerSettings, values: list[tuple[str, bytes]]) -> None:
    producer = create_producer(settings)
    await producer.start()
    try:
        for key, value in values:
            await producer.send(settings.decisions_topic, value=value, key=encode_key(key))
        await producer.flush()
    finally:
        await producer.stop()


async def _committed(settings: IndexerSettings) -> int:
    admin = create_admin(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.consumer_group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items()
               if tp.topic == settings.decisions_topic)


async def _count(client: AsyncOpenSearch, index: str) -> int:
    await client.indices.refresh(index=index)
    return int((await client.count(index=index))["count"])


@pytest.fixture
async def run_worker() -> AsyncIterator[Run]:
    """Start an indexer in this process; stop, drain and close it (and drop its DLQ topic)."""
    running: list[tuple[IndexerWorker, asyncio.Task[None]]] = []

    async def run(settings: IndexerSettings) -> IndexerWorker:
        worker = IndexerWorker(settings)
        await worker.start()
        running.append((worker, asyncio.create_task(worker.run())))
        return worker

    try:
        yield run
    finally:
        for worker, task in running:
            worker.stop()
            await asyncio.wait_for(task, timeout=30)
            await worker.close()
            admin = create_admin(worker.settings)
            await admin.start()
            await admin.delete_topics([dead_letter_topic(worker.settings.decisions_topic)])
            await admin.close()


async def test_end_to_end_every_decision_is_indexed_once_and_offsets_committed(
    kafka_bootstrap: str, opensearch_url: str, topic_factory: TopicFactory,
    opensearch_client: AsyncOpenSearch, index_name: str, run_worker: Run,
) -> None:
    topic = await topic_factory("decisions")
    settings = _settings(kafka_bootstrap, opensearch_url, topic, index_name)
    payloads = [decision_payload(outcome="block" if i % 5 == 0 else "approve")
                for i in range(20)]
    await _produce(settings, [(p["entity_id"], json.dumps(p).encode()) for p in payloads])

    worker = await run_worker(settings)
    await poll_until(lambda: _is(_count(opensearch_client, index_name), 20),
                     "all 20 decisions indexed")
    readiness = await worker.readiness()
    assert readiness["opensearch"] is None
    worker.stop()
    await poll_until(lambda: _is(_committed(settings), 20), "offsets committed for all 20")

    result = await opensearch_client.search(index=index_name, body={"size": 50})
    assert sorted(hit["_id"] for hit in result["hits"]["hits"]) == sorted(
        p["event_id"] for p in payloads)
    assert await _count(opensearch_client, index_name) == 20


async def test_rejected_and_poison_records_are_dead_lettered_and_the_rest_indexed(
    kafka_bootstrap: str, opensearch_url: str, topic_factory: TopicFactory,
    opensearch_client: AsyncOpenSearch, index_name: str, run_worker: Run,
) -> None:
    topic = await topic_factory("decisions")
    settings = _settings(kafka_bootstrap, opensearch_url, topic, index_name)
    good = [decision_payload() for _ in range(10)]
    # Valid for the contract (an unbounded int) but too large for the integer mapping.
    too_large = decision_payload()
    too_large["fd"]["model_scores"] = {"fraudstream": 10**12}
    values = [(p["entity_id"], json.dumps(p).encode()) for p in good]
    values.insert(4, (too_large["entity_id"], json.dumps(too_large).encode()))
    values.insert(8, ("someone", b"{not json"))
    await _produce(settings, values)

    await run_worker(settings)
    await poll_until(lambda: _is(_committed(settings), 12), "offsets committed for all 12")

    assert await _count(opensearch_client, index_name) == 10
    letters = await _read_dead_letters(settings, expected=2)
    by_reason = {letter.reason: letter for letter in letters}
    assert set(by_reason) == {"index_rejected", "invalid_json"}
    rejected = by_reason["index_rejected"]
    assert "fd.model_scores.fraudstream" in rejected.error
    assert rejected.source_topic == topic
    assert json.loads(rejected.original_value() or b"")["event_id"] == too_large["event_id"]
    assert by_reason["invalid_json"].original_value() == b"{not json"


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _read_dead_letters(settings: IndexerSettings, expected: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(
        dead_letter_topic(settings.decisions_topic),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest", enable_auto_commit=False,
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        async def read() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                letters.extend(DeadLetter.model_validate_json(r.value or b"") for r in batch)
            return len(letters) >= expected

        await poll_until(read, f"{expected} dead letters")
    finally:
        await consumer.stop()
    return letters
