"""The compliance worker: its clients, the optional SQS loop, readiness and liveness.

It is not a Kafka consumer: documents arrive over HTTP (``POST /documents``)
or as S3 notifications from SQS. It owns the idempotent producer of the
findings topic, the OpenSearch client, the document store and the recognisers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from compliance.detect import Recogniser, default_recognisers
from compliance.processor import Processor
from compliance.publish import FindingsPublisher, ensure_index
from compliance.recognisers import patterns
from compliance.settings import ComplianceSettings
from compliance.sqs import S3NotificationConsumer
from compliance.storage import (
    DocumentStore,
    LocalStore,
    S3Store,
    aws_client_config,
    aws_session,
)
from fraudstream_shared.exceptions import RetryableError
from fraudstream_shared.kafka import TopicSpec, create_admin, create_producer, ensure_topics
from fraudstream_shared.kafka.worker import START_DEADLINE_S
from fraudstream_shared.logging import log_event
from fraudstream_shared.opensearch import create_opensearch_client
from fraudstream_shared.retry import retry_until

log = logging.getLogger(__name__)

LIVENESS_TIMEOUT_S = 120.0


def build_entity_recogniser(settings: ComplianceSettings) -> tuple[Recogniser | None, str]:
    """The configured name/organisation/location recogniser and its version (blocking load)."""
    backend = settings.compliance_ner_backend
    if backend == "none":
        return None, "none"
    if backend == "dictionary":
        from compliance.recognisers.entities import DictionaryRecogniser

        recogniser = DictionaryRecogniser()
        return recogniser, recogniser.version
    from compliance.recognisers.model import ModelRecogniser

    assert settings.compliance_ner_model_path is not None  # the settings validator ensures it
    model = ModelRecogniser(backend, settings.compliance_ner_model_path)
    return model, model.version


class ComplianceWorker:
    """Starts and stops the service's clients; runs the SQS loop when a queue is configured."""

    admin: AIOKafkaAdminClient
    producer: AIOKafkaProducer
    opensearch: AsyncOpenSearch
    store: DocumentStore
    processor: Processor

    def __init__(self, settings: ComplianceSettings) -> None:
        self.settings = settings
        self.service = settings.service_name
        self.consumer: S3NotificationConsumer | None = None
        self._stop = asyncio.Event()
        self._aws = contextlib.AsyncExitStack()
        self._started = False

    async def start(self) -> None:
        """Kafka (topic, producer), OpenSearch (index), recognisers, storage and SQS."""
        settings = self.settings
        self.admin = create_admin(settings)
        self.producer = create_producer(settings)
        self.opensearch = create_opensearch_client(settings)
        await retry_until(self.admin.start, what="kafka.admin", deadline_s=START_DEADLINE_S)
        if settings.kafka_create_topics:
            spec = TopicSpec(settings.findings_topic, settings.kafka_topic_partitions,
                             settings.kafka_replication_factor)
            await retry_until(lambda: ensure_topics(self.admin, [spec]), what="kafka.topics",
                              deadline_s=START_DEADLINE_S)
        await retry_until(self.producer.start, what="kafka.producer",
                          deadline_s=START_DEADLINE_S)
        await retry_until(lambda: ensure_index(self.opensearch, settings.compliance_index),
                          what="opensearch", deadline_s=START_DEADLINE_S,
                          retry_on=(RetryableError,))
        entities, entity_version = await asyncio.to_thread(build_entity_recogniser, settings)
        versions = {"patterns": patterns.VERSION, "entities": entity_version}
        self.store = await self._open_store()
        publisher = FindingsPublisher(self.producer, settings.findings_topic, self.opensearch,
                                      settings.compliance_index, self.service)
        self.processor = Processor(settings, self.store, publisher,
                                   default_recognisers(entities), versions)
        if settings.compliance_sqs_queue_url and isinstance(self.store, S3Store):
            sqs = await self._aws.enter_async_context(aws_session().client(
                "sqs", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url,
                config=aws_client_config()))
            self.consumer = S3NotificationConsumer(
                sqs, settings.compliance_sqs_queue_url, self.store, self.processor,
                upload_prefix=settings.compliance_upload_prefix,
                wait_s=settings.compliance_sqs_wait_s,
                retry_visibility_s=settings.compliance_sqs_retry_visibility_s,
                redact_copy=settings.compliance_redact_s3,
            )
        self._started = True
        log_event(log, logging.INFO, "compliance.ready", storage=settings.compliance_storage,
                  sqs=self.consumer is not None, recognisers=versions)

    async def _open_store(self) -> DocumentStore:
        settings = self.settings
        if settings.compliance_storage == "local":
            return LocalStore(settings.compliance_local_root)
        # The settings validator guarantees both with storage s3.
        assert settings.compliance_s3_bucket is not None
        assert settings.compliance_kms_key_id is not None
        s3: Any = await self._aws.enter_async_context(aws_session().client(
            "s3", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url,
            config=aws_client_config()))
        return S3Store(s3, settings.compliance_s3_bucket, settings.compliance_kms_key_id)

    async def run(self) -> None:
        """The SQS loop, or (HTTP uploads only) a wait for :meth:`stop`."""
        if self.consumer is not None:
            await self.consumer.run(self._stop)
        else:
            await self._stop.wait()

    def stop(self) -> None:
        """Stop polling; the message in hand is finished first."""
        self._stop.set()

    async def close(self) -> None:
        """Flush the producer and close every client."""
        closers: list[Any] = [self._aws.aclose]
        for name, method in (("producer", "stop"), ("admin", "close"), ("opensearch", "close")):
            if hasattr(self, name):
                closers.append(getattr(getattr(self, name), method))
        for closer in closers:
            with contextlib.suppress(Exception):
                await closer()

    async def readiness(self) -> dict[str, str | None]:
        """Kafka, OpenSearch, the document store and (if any) the SQS loop."""
        checks: dict[str, str | None] = {}
        try:
            await asyncio.wait_for(self.admin.describe_cluster(), timeout=1.0)
            checks["kafka"] = None
        except Exception as exc:  # any failure means not ready
            checks["kafka"] = f"{type(exc).__name__}: {exc}"
        try:
            reachable = await asyncio.wait_for(self.opensearch.ping(), timeout=0.8)
            checks["opensearch"] = None if reachable else "ping failed"
        except Exception as exc:  # any failure means not ready
            checks["opensearch"] = f"{type(exc).__name__}: {exc}"
        checks["storage"] = await self.store.readiness()
        if self.consumer is not None:
            checks["sqs"] = self.consumer.last_error
        return checks

    def is_alive(self) -> bool:
        """The SQS loop has polled recently (always true without one)."""
        if not self._started or self.consumer is None:
            return True
        limit = LIVENESS_TIMEOUT_S + self.settings.compliance_sqs_wait_s
        return time.monotonic() - self.consumer.heartbeat < limit
