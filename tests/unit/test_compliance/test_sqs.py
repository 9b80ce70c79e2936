"""S3 object-created notifications through SQS, on moto's server (S3, SQS, KMS-encrypted writes)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import aioboto3
import boto3
import pytest

from compliance.sqs import S3NotificationConsumer, parse_notification
from compliance.storage import S3Store
from fraudstream_shared.exceptions import PoisonMessageError
from tests.support.moto import moto_server
from tests.unit.test_compliance.fakes import RecordingPublisher, make_processor
from tests.unit.test_compliance.labelled import make_pdf

REGION = "eu-west-1"
KMS_KEY = "alias/fraudstream-documents"



@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@dataclass
class Aws:
    """The bucket, the queue (with a DLQ after two receives) and the consumer under test."""

    bucket: str
    s3: Any
    sqs: Any
    queue_url: str
    dlq_url: str
    consumer: S3NotificationConsumer
    publisher: RecordingPublisher

    def upload(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]

    def queued(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                          "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"])


@pytest.fixture
async def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch,
              ) -> AsyncIterator[Aws]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint)
    suffix = uuid.uuid4().hex[:8]
    bucket = f"documents-{suffix}"
    dlq_url = sqs.create_queue(QueueName=f"uploads-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=f"uploads-{suffix}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        "VisibilityTimeout": "1",
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"],
                                 "Filter": {"Key": {"FilterRules": [
                                     {"Name": "prefix", "Value": "uploads/"}]}}}]})
    # The bucket's configuration test event is not a document: drop it before the test.
    sqs.purge_queue(QueueUrl=queue_url)
    session = aioboto3.Session()
    async with session.client("s3", region_name=REGION, endpoint_url=moto_endpoint) as s3a, \
            session.client("sqs", region_name=REGION, endpoint_url=moto_endpoint) as sqsa:
        store = S3Store(s3a, bucket, KMS_KEY)
        processor, publisher = make_processor(
            store=store, compliance_storage="s3", compliance_s3_bucket=bucket,
            compliance_kms_key_id=KMS_KEY, aws_region=REGION, compliance_max_pages=3,
            compliance_max_upload_bytes=64 * 1024, compliance_publish_retry_s=0.2)
        consumer = S3NotificationConsumer(sqsa, queue_url, store, processor,
                                          upload_prefix="uploads/", wait_s=1,
                                          retry_visibility_s=0, redact_copy=True)
        yield Aws(bucket, s3, sqs, queue_url, dlq_url, consumer, publisher)


async def _drain(aws: Aws, rounds: int = 3) -> None:
    for _ in range(rounds):
        if await aws.consumer.poll_once() == 0 and aws.queued(aws.queue_url) == 0:
            return


async def test_notified_uploads_are_routed_encrypted_and_removed(aws: Aws) -> None:
    aws.upload("uploads/letter.pdf", make_pdf(["Card 4111 1111 1111 1111 on file."]))
    aws.upload("uploads/memo.pdf", make_pdf(["Nothing personal in here."]))
    await _drain(aws)

    assert aws.keys("uploads/") == []
    assert aws.queued(aws.queue_url) == 0
    records = {r.filename: r for r in aws.publisher.published}
    assert records["letter.pdf"].route == "pii"
    assert records["memo.pdf"].route == "clean"
    pii_key = f"pii/{records['letter.pdf'].document_id}.pdf"
    assert aws.keys("pii/") == [pii_key]
    assert records["letter.pdf"].destination == f"s3://{aws.bucket}/{pii_key}"
    assert records["letter.pdf"].source_key == "uploads/letter.pdf"
    head = aws.s3.head_object(Bucket=aws.bucket, Key=pii_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert len(aws.keys("redacted/")) == 2


async def test_refused_uploads_are_kept_under_rejected_with_the_reason(aws: Aws) -> None:
    aws.upload("uploads/scan.pdf", b"%PDF-1.4 not really")
    aws.upload("uploads/huge.pdf", make_pdf(["x" * 50] * 2) + b"\0" * (64 * 1024))
    await _drain(aws)

    assert aws.keys("uploads/") == []
    reasons = {r.filename: r.reason for r in aws.publisher.published}
    assert reasons == {"scan.pdf": "malformed", "huge.pdf": "too_large"}
    rejected = aws.keys("rejected/")
    assert len([k for k in rejected if k.endswith(".pdf")]) == 2
    assert len([k for k in rejected if k.endswith(".reason.json")]) == 2
    huge = next(r for r in aws.publisher.published if r.filename == "huge.pdf")
    assert huge.sha256 is None
    assert huge.size_bytes > 64 * 1024


async def test_a_redelivered_notification_overwrites_its_own_outputs(aws: Aws) -> None:
    aws.upload("uploads/twice.pdf", make_pdf(["jane@example.com"]))
    (message,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=1)["Messages"]
    assert await aws.consumer.handle(message)
    # At-least-once: the same notification again, after S3 has the object once more.
    aws.upload("uploads/twice.pdf", make_pdf(["jane@example.com"]))
    (extra,) = aws.sqs.receive_message(QueueUrl=aws.queue_url, WaitTimeSeconds=1)["Messages"]
    aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=extra["ReceiptHandle"])
    await aws.consumer.handle(message)
    assert len({r.document_id for r in aws.publisher.published}) == 1
    assert len(aws.publisher.published) == 2
    assert len(aws.keys("pii/")) == 1


async def test_a_transient_failure_leaves_the_message_for_a_retry(aws: Aws) -> None:
    aws.upload("uploads/retry.pdf", make_pdf(["jane@example.com"]))
    aws.publisher.fail = 1_000_000  # longer than the processor rides out
    assert await aws.consumer.poll_once() == 0
    assert aws.consumer.last_error is not None
    aws.publisher.fail = 0
    await asyncio.sleep(0.2)
    await _drain(aws)
    assert aws.keys("uploads/") == []
    assert [r.filename for r in aws.publisher.published] == ["retry.pdf"]


async def test_a_message_that_is_no_notification_ends_in_the_dead_letter_queue(aws: Aws) -> None:
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="not an S3 event")
    # Received twice and never deleted, the third receive finds it moved to the DLQ.
    for _ in range(3):
        if aws.queued(aws.dlq_url):
            break
        await aws.consumer.poll_once()
        await asyncio.sleep(1.05)  # the visibility timeout of the test queue
    assert aws.queued(aws.queue_url) == 0
    assert aws.queued(aws.dlq_url) == 1


def test_parse_notification_decodes_keys_and_skips_the_test_event() -> None:
    body = json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {
        "bucket": {"name": "b"}, "object": {"key": "uploads/my+file%C3%A9.pdf", "size": 3,
                                            "sequencer": "00A1"}}}]})
    (obj,) = parse_notification(body)
    assert (obj.key, obj.version) == ("uploads/my fileé.pdf", "00A1")
    assert parse_notification(json.dumps({"Event": "s3:TestEvent"})) == []
    with pytest.raises(PoisonMessageError):
        parse_notification(json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}))
