"""Findings records on the real Kafka and OpenSearch: topic and index agree, re-publishing is
idempotent, and a processor on a temporary folder routes and publishes end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opensearchpy import AsyncOpenSearch

from compliance.detect import default_recognisers
from compliance.processor import Incoming, Processor, new_document_id
from compliance.publish import FindingsPublisher, ensure_index
from compliance.recognisers import patterns
from compliance.storage import LocalStore
from fraudstream_shared.events import ComplianceFindings, decode
from tests.conftest import TopicFactory, unique_name
from tests.support.polling import poll_until
from tests.unit.test_compliance.fakes import make_settings
from tests.unit.test_compliance.labelled import make_pdf

pytestmark = pytest.mark.integration


@pytest.fixture
async def index_name(opensearch_client: AsyncOpenSearch) -> AsyncIterator[str]:
    name = unique_name("itest-compliance")
    try:
        yield name
    finally:
        await opensearch_client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                                enable_idempotence=True)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def _read_all(bootstrap: str, topic: str, partitions: int,
                    expected: int) -> list[ComplianceFindings]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        records: list[ComplianceFindings] = []

        async def enough() -> bool:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    record = decode(ComplianceFindings, message.value)
                    assert message.key == record.document_id.encode()
                    records.append(record)
            return len(records) >= expected

        await poll_until(enough, f"{expected} findings records on {topic}", timeout=30)
        return records
    finally:
        await consumer.stop()


async def test_processed_documents_agree_on_topic_index_and_folder(
        tmp_path: Path, topic_factory: TopicFactory, kafka_bootstrap: str,
        opensearch_client: AsyncOpenSearch, index_name: str,
        producer: AIOKafkaProducer) -> None:
    topic = await topic_factory("itest-compliance", partitions=3)
    await ensure_index(opensearch_client, index_name)
    await ensure_index(opensearch_client, index_name)  # a second start finds it
    settings = make_settings(compliance_local_root=tmp_path, findings_topic=topic,
                             compliance_index=index_name)
    publisher = FindingsPublisher(producer, topic, opensearch_client, index_name, "itest")
    processor = Processor(settings, LocalStore(tmp_path), publisher, default_recognisers(None),
                          {"patterns": patterns.VERSION})
    texts = ["IBAN DE89 3704 0044 0532 0130 00 and jane@example.com",
             "Nothing personal here.", "Login from 10.1.2.3 at noon."]
    records = []
    for text in texts:
        incoming = Incoming(data=make_pdf([text]), document_id=new_document_id(),
                            source="upload", received_at=datetime.now(UTC), filename="t.pdf")
        records.append(await processor.process(incoming, redact_copy=False))
    # Re-publishing a record (a retried upload notification) overwrites, never duplicates.
    await publisher.publish(records[0])

    on_topic = await _read_all(kafka_bootstrap, topic, 3, expected=4)
    assert {r.document_id for r in on_topic} == {r.document_id for r in records}
    await opensearch_client.indices.refresh(index=index_name)
    assert (await opensearch_client.count(index=index_name))["count"] == 3
    for record in records:
        stored = await publisher.fetch(record.document_id)
        assert stored is not None
        assert ComplianceFindings.model_validate(stored) == record
        assert Path(record.destination).parent.name == record.route
    assert [r.route for r in records] == ["pii", "clean", "pii"]
    assert records[0].counts == {"email": 1, "iban": 1}
    assert await publisher.fetch(new_document_id()) is None


