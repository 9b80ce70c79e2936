"""The production input: S3 object-created notifications for the upload prefix, from SQS.

A message is deleted only after every object it names is routed and its
record published. A transient failure makes the message visible again after
``COMPLIANCE_SQS_RETRY_VISIBILITY_S``; a message that is not an S3
notification, or that keeps failing, is left alone and the queue's redrive
policy moves it to the dead-letter queue after ``maxReceiveCount`` receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from compliance import metrics
from compliance.pdf import RejectedDocument
from compliance.processor import Incoming, Processor, RejectedUpload, s3_document_id
from compliance.storage import S3Store, s3_error_code, s3_error_is_transient
from fraudstream_shared.exceptions import PoisonMessageError, RetryableError
from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class S3Object:
    """One created object named by a notification."""

    bucket: str
    key: str
    size: int
    version: str
    """The version id, else the sequencer, else the ETag: what tells two uploads apart."""


def parse_notification(body: str) -> list[S3Object]:
    """The created objects in an S3 event notification; ``[]`` for the ``s3:TestEvent``.

    Raises :class:`PoisonMessageError` for anything that is not a notification.
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise PoisonMessageError("invalid_json", "the message body is not JSON") from exc
    if not isinstance(data, dict):
        raise PoisonMessageError("not_an_object", "the message body is not a JSON object")
    if data.get("Event") == "s3:TestEvent":
        return []
    records = data.get("Records")
    if not isinstance(records, list):
        raise PoisonMessageError("not_a_notification", "no Records list in the message")
    objects = []
    for record in records:
        try:
            if not str(record["eventName"]).startswith("ObjectCreated:"):
                continue
            s3 = record["s3"]
            obj = s3["object"]
            version = obj.get("versionId") or obj.get("sequencer") or obj.get("eTag") or ""
            objects.append(S3Object(bucket=str(s3["bucket"]["name"]),
                                    key=unquote_plus(str(obj["key"])),
                                    size=int(obj.get("size", 0)), version=str(version)))
        except (KeyError, TypeError, ValueError) as exc:
            raise PoisonMessageError("not_a_notification",
                                     f"malformed S3 record: {type(exc).__name__}") from exc
    return objects


class S3NotificationConsumer:
    """Long-polls the queue and processes each notified upload through the :class:`Processor`."""

    def __init__(self, sqs: Any, queue_url: str, store: S3Store, processor: Processor, *,
                 upload_prefix: str, wait_s: int, retry_visibility_s: int,
                 redact_copy: bool) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.store = store
        self.processor = processor
        self.upload_prefix = upload_prefix
        self.wait_s = wait_s
        self.retry_visibility_s = retry_visibility_s
        self.redact_copy = redact_copy
        self.heartbeat = time.monotonic()
        self.last_error: str | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; messages in hand are finished first.

        A long poll in flight when ``stop`` comes is cancelled: anything it
        would have received stays in the queue for the next task.
        """
        while not stop.is_set():
            receive = asyncio.create_task(self.receive())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({receive, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not receive.done():
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await receive
                return
            try:
                messages = receive.result()
            except Exception as exc:
                if not s3_error_is_transient(exc):
                    raise
                self.last_error = f"SQS receive: {s3_error_code(exc)}"
                log_event(log, logging.WARNING, "compliance.sqs.receive_failed",
                          error=self.last_error)
                await asyncio.sleep(2.0)
                continue
            for message in messages:
                await self.handle(message)

    async def poll_once(self) -> int:
        """Receive up to ten messages and handle them; return how many were deleted."""
        deleted = 0
        for message in await self.receive():
            if await self.handle(message):
                deleted += 1
        return deleted

    async def receive(self) -> list[dict[str, Any]]:
        """One long poll for up to ten messages."""
        self.heartbeat = time.monotonic()
        response = await self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_s,
            AttributeNames=["ApproximateReceiveCount"],
        )
        self.heartbeat = time.monotonic()
        self.last_error = None
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    async def handle(self, message: dict[str, Any]) -> bool:
        """Process one message; delete it when done. Return whether it was deleted."""
        receipt = message["ReceiptHandle"]
        message_id = message.get("MessageId", "")
        try:
            objects = parse_notification(message.get("Body", ""))
        except PoisonMessageError as exc:
            metrics.SQS_MESSAGES.labels("invalid").inc()
            log_event(log, logging.ERROR, "compliance.sqs.invalid_message",
                      message_id=message_id, reason=exc.reason, detail=exc.detail,
                      receive_count=message.get("Attributes", {}).get("ApproximateReceiveCount"))
            return False  # the redrive policy moves it to the DLQ
        try:
            for obj in objects:
                await self._process_object(obj)
        except RetryableError as exc:
            metrics.SQS_MESSAGES.labels("retry").inc()
            self.last_error = str(exc)[:300]
            log_event(log, logging.WARNING, "compliance.sqs.retry", message_id=message_id,
                      error=self.last_error, delay_s=self.retry_visibility_s)
            await self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=receipt,
                VisibilityTimeout=self.retry_visibility_s)
            return False
        except Exception as exc:  # a bug or a permanent S3 error: the DLQ keeps the message
            metrics.SQS_MESSAGES.labels("failed").inc()
            log_event(log, logging.ERROR, "compliance.sqs.failed", message_id=message_id,
                      error=f"{type(exc).__name__}: {exc}"[:300])
            return False
        await self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=receipt)
        metrics.SQS_MESSAGES.labels("done").inc()
        return True

    async def _process_object(self, obj: S3Object) -> None:
        if obj.bucket != self.store.bucket or not obj.key.startswith(self.upload_prefix):
            log_event(log, logging.WARNING, "compliance.sqs.ignored", bucket=obj.bucket,
                      key=obj.key)
            return
        document_id = s3_document_id(obj.bucket, obj.key, obj.version)
        max_bytes = self.processor.limits.max_bytes
        try:
            data, size = await self.store.get(obj.key, max_bytes)
        except Exception as exc:
            if s3_error_code(exc) == "NoSuchKey":
                # Routed (and deleted) by an earlier delivery of this notification.
                log_event(log, logging.INFO, "compliance.sqs.already_routed", key=obj.key)
                return
            if s3_error_is_transient(exc):
                raise RetryableError(f"S3 get {obj.key}: {s3_error_code(exc)}") from exc
            raise
        incoming = Incoming(data=data, document_id=document_id, source="s3",
                            received_at=datetime.now(UTC),
                            filename=obj.key.rsplit("/", 1)[-1], source_key=obj.key)
        if size > max_bytes:
            await self.processor.reject_unread(
                incoming, RejectedDocument("too_large", f"{size} bytes, the limit is {max_bytes}"),
                copy_from=obj.key, size=size)
        else:
            # A refused document is kept under the rejected prefix and published: done with it.
            with contextlib.suppress(RejectedUpload):
                await self.processor.process(incoming, redact_copy=self.redact_copy)
        await self.store.delete(obj.key)
