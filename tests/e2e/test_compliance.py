"""The compliance service as a real process against the real Kafka and OpenSearch: uploaded
documents are routed to the right folders, and the findings topic and index agree with them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from fraudstream_shared.events import ComplianceFindings, decode
from tests.conftest import OPENSEARCH_URL, unique_name
from tests.e2e.faults import read_committed
from tests.e2e.processes import ServiceProcess
from tests.support.moto import moto_server, use_fake_credentials
from tests.unit.test_compliance.labelled import make_pdf

pytestmark = pytest.mark.e2e

DOCUMENTS = {
    "letter.pdf": (make_pdf(["Dear Mr. John Smith,", "Card 4111 1111 1111 1111, IBAN "
                             "GB82 WEST 1234 5698 7654 32, born 12 May 1980."]), 201, "pii"),
    "memo.pdf": (make_pdf(["The quarterly figures are attached."]), 201, "clean"),
    "scan.pdf": (make_pdf(["", "see page one"], blank_pages=[1]), 201, "pii"),
    "notes.txt": (b"plain text, not a PDF", 415, "rejected"),
    "broken.pdf": (b"%PDF-1.7\nthis is not a PDF body", 422, "rejected"),
}


@pytest.fixture
async def names(kafka_bootstrap: str, opensearch_client: AsyncOpenSearch,
                ) -> AsyncIterator[tuple[str, str]]:
    """A unique findings topic and index; both deleted afterwards."""
    topic, index = unique_name("e2e-compliance"), unique_name("e2e-compliance")
    try:
        yield topic, index
    finally:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            if topic in await admin.list_topics():
                await admin.delete_topics([topic])
        finally:
            await admin.close()
        await opensearch_client.indices.delete(index=index, ignore_unavailable=True)


async def test_uploads_are_routed_and_published_consistently(
        kafka_bootstrap: str, opensearch_client: AsyncOpenSearch, tmp_path: Path,
        names: tuple[str, str]) -> None:
    topic, index = names
    root = tmp_path / "documents"
    service = ServiceProcess("compliance", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "OPENSEARCH_URL": OPENSEARCH_URL,
        "FINDINGS_TOPIC": topic, "COMPLIANCE_INDEX": index, "KAFKA_TOPIC_PARTITIONS": "2",
        "COMPLIANCE_LOCAL_ROOT": str(root),
    }, tmp_path).start()
    try:
        service.wait_ready()
        responses = {}
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            for name, (data, status, _) in DOCUMENTS.items():
                response = await client.post("/documents", params={"redact": "true"},
                                             files={"file": (name, data, "application/pdf")})
                assert response.status_code == status, (name, response.text)
                responses[name] = response.json()
            letter = responses["letter.pdf"]
            fetched = await client.get(f"/documents/{letter['document_id']}")
            assert fetched.json()["findings"] == letter["findings"]

        ids = {name: body["document_id"] for name, body in responses.items()}
        # The folders hold each document exactly where its route says.
        for name, (data, _, route) in DOCUMENTS.items():
            kept = root / route / f"{ids[name]}.pdf"
            assert kept.read_bytes() == data, name
        assert {p.name for p in (root / "rejected").glob("*.reason.json")} == {
            f"{ids['notes.txt']}.reason.json", f"{ids['broken.pdf']}.reason.json"}
        assert "[PAYMENT_CARD]" in (root / "redacted" / f"{ids['letter.pdf']}.txt").read_text()
        assert responses["scan.pdf"]["needs_ocr"] is True
        assert responses["letter.pdf"]["counts"] == {
            "date_of_birth": 1, "iban": 1, "payment_card": 1, "person": 1}

        # The topic has one record per document, keyed and identical to the index.
        values = await read_committed(kafka_bootstrap, topic, expected=len(DOCUMENTS),
                                      timeout=30)
        on_topic = {r.document_id: r for r in (decode(ComplianceFindings, v) for _, v in values)}
        assert set(on_topic) == set(ids.values())
        await opensearch_client.indices.refresh(index=index)
        assert (await opensearch_client.count(index=index))["count"] == len(DOCUMENTS)
        for name, document_id in ids.items():
            indexed = (await opensearch_client.get(index=index, id=document_id))["_source"]
            record = on_topic[document_id]
            assert ComplianceFindings.model_validate(indexed) == record
            assert record.route == DOCUMENTS[name][2]
            assert record.filename == name

        code, _ = service.terminate(timeout=30)
        assert code == 0, service.log_tail()
    finally:
        service.kill()


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 and SQS server (AWS cannot run here), with fake credentials."""
    use_fake_credentials(monkeypatch)
    with moto_server() as endpoint:
        yield endpoint


async def test_s3_notifications_are_routed_by_the_running_service(
        kafka_bootstrap: str, opensearch_client: AsyncOpenSearch, tmp_path: Path,
        names: tuple[str, str], moto_endpoint: str) -> None:
    topic, index = names
    region, bucket = "eu-west-1", unique_name("documents")
    s3 = boto3.client("s3", region_name=region, endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", region_name=region, endpoint_url=moto_endpoint)
    queue_url = sqs.create_queue(QueueName=unique_name("uploads"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [
                                     {"Name": "prefix", "Value": "uploads/"}]}}}]})
    service = ServiceProcess("compliance", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "OPENSEARCH_URL": OPENSEARCH_URL,
        "FINDINGS_TOPIC": topic, "COMPLIANCE_INDEX": index, "KAFKA_TOPIC_PARTITIONS": "2",
        "COMPLIANCE_STORAGE": "s3", "COMPLIANCE_S3_BUCKET": bucket, "AWS_REGION": region,
        "COMPLIANCE_KMS_KEY_ID": "alias/documents", "COMPLIANCE_SQS_QUEUE_URL": queue_url,
        "AWS_ENDPOINT_URL": moto_endpoint, "COMPLIANCE_SQS_WAIT_S": "5",
    }, tmp_path).start()
    try:
        service.wait_ready()
        assert service.get("/readyz").json()["checks"]["storage"] == "ok"
        uploads = {"uploads/claim.pdf": (make_pdf(["Refund to IBAN DE89 3704 0044 0532 0130 00"]),
                                         "pii"),
                   "uploads/minutes.pdf": (make_pdf(["The meeting closed at noon."]), "clean"),
                   "uploads/garbage.pdf": (b"%PDF-1.4 garbage", "rejected")}
        for key, (data, _) in uploads.items():
            s3.put_object(Bucket=bucket, Key=key, Body=data)

        values = await read_committed(kafka_bootstrap, topic, expected=len(uploads), timeout=60)
        records = {r.source_key: r for r in (decode(ComplianceFindings, v) for _, v in values)}
        assert set(records) == set(uploads)
        for key, (data, route) in uploads.items():
            record = records[key]
            assert record.route == route
            stored = record.destination.removeprefix(f"s3://{bucket}/")
            assert stored.startswith(f"{route}/")
            body = s3.get_object(Bucket=bucket, Key=stored)
            assert body["Body"].read() == data
            assert body["ServerSideEncryption"] == "aws:kms"
        await opensearch_client.indices.refresh(index=index)
        assert (await opensearch_client.count(index=index))["count"] == len(uploads)
        assert s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("KeyCount") == 0

        # SIGTERM during a long poll: the poll is abandoned, nothing is half done.
        code, _ = service.terminate(timeout=30)
        assert code == 0, service.log_tail()
    finally:
        service.kill()
