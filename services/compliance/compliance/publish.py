"""Publishing a findings record: the ``compliance_findings`` topic, then the OpenSearch index.

The Kafka producer is idempotent (``acks=all``) and the record is keyed by the
document id; the OpenSearch document id is the document id too, so a document
processed twice (a retried upload notification) overwrites its own record.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import AIOKafkaProducer
from opensearchpy import AsyncOpenSearch, RequestError
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

from fraudstream_shared.events import ENTITY_TYPES, ComplianceFindings, encode, encode_key
from fraudstream_shared.exceptions import RetryableError
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_PRODUCED

log = logging.getLogger(__name__)
# opensearch-py logs every request at INFO; our own events say what happened.
logging.getLogger("opensearch").setLevel(logging.WARNING)



def index_body() -> dict[str, Any]:
    """Settings and mappings of the findings index (explicit, so counts stay integers)."""
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
        "mappings": {
            "dynamic": "false",
            "properties": {
                "document_id": {"type": "keyword"},
                "source": {"type": "keyword"},
                "filename": {"type": "keyword"},
                "source_key": {"type": "keyword"},
                "sha256": {"type": "keyword"},
                "size_bytes": {"type": "long"},
                "pages": {"type": "integer"},
                "pages_without_text": {"type": "integer"},
                "needs_ocr": {"type": "boolean"},
                "route": {"type": "keyword"},
                "reason": {"type": "keyword"},
                "error": {"type": "text"},
                "destination": {"type": "keyword"},
                "redacted_destination": {"type": "keyword"},
                "counts": {"properties": {t: {"type": "integer"} for t in ENTITY_TYPES}},
                "pages_with_findings": {"type": "integer"},
                "findings": {"type": "nested", "properties": {
                    "type": {"type": "keyword"}, "page": {"type": "integer"},
                    "start": {"type": "integer"}, "end": {"type": "integer"},
                    "confidence": {"type": "float"}, "recogniser": {"type": "keyword"},
                }},
                "recognisers": {"type": "object", "enabled": False},
                "received_at": {"type": "date"},
                "processed_at": {"type": "date"},
                "schema_version": {"type": "integer"},
            },
        },
    }


def opensearch_is_transient(exc: BaseException) -> bool:
    """Connection problems, timeouts, throttling and 5xx are worth retrying."""
    if isinstance(exc, OpenSearchConnectionError | ConnectionTimeout):
        return True
    if isinstance(exc, TransportError):
        status = exc.status_code if isinstance(exc.status_code, int) else 0
        return status in (429, 502, 503, 504) or status >= 500
    return isinstance(exc, OSError | TimeoutError)


async def ensure_index(client: AsyncOpenSearch, index: str) -> None:
    """Create the findings index if it is missing (RetryableError while OpenSearch boots)."""
    try:
        if await client.indices.exists(index=index):
            return
        await client.indices.create(index=index, body=index_body())
        log_event(log, logging.INFO, "compliance.index.created", index=index)
    except RequestError as exc:
        if exc.error != "resource_already_exists_exception":  # another instance won
            raise
    except Exception as exc:
        if opensearch_is_transient(exc):
            raise RetryableError(f"OpenSearch not available: {type(exc).__name__}") from exc
        raise


class FindingsPublisher:
    """Publishes one record to the topic and the index; transient failures raise RetryableError."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, client: AsyncOpenSearch,
                 index: str, service: str) -> None:
        self.producer = producer
        self.topic = topic
        self.client = client
        self.index = index
        self.service = service

    async def publish(self, record: ComplianceFindings) -> None:
        """Topic first (the record of truth), then the index; both keyed by the document id."""
        try:
            await self.producer.send_and_wait(self.topic, encode(record),
                                              key=encode_key(record.document_id))
        except Exception as exc:
            raise RetryableError(f"Kafka publish failed: {type(exc).__name__}: {exc}") from exc
        MESSAGES_PRODUCED.labels(self.service, self.topic).inc()
        body = record.model_dump(mode="json", exclude_none=True)
        try:
            await self.client.index(index=self.index, id=record.document_id, body=body)
        except Exception as exc:
            if opensearch_is_transient(exc):
                raise RetryableError(f"OpenSearch index failed: {type(exc).__name__}") from exc
            raise

    async def fetch(self, document_id: str) -> dict[str, Any] | None:
        """The indexed record of ``document_id``, or ``None`` when there is none."""
        try:
            response = await self.client.get(index=self.index, id=document_id)
        except Exception as exc:
            if getattr(exc, "status_code", None) == 404:
                return None
            if opensearch_is_transient(exc):
                raise RetryableError(f"OpenSearch get failed: {type(exc).__name__}") from exc
            raise
        source: dict[str, Any] = response["_source"]
        return source
