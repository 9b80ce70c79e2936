"""Settings of the indexer (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pydantic import Field, model_validator

from fraudstream_shared.events import topics
from fraudstream_shared.opensearch import OpenSearchSettings


class IndexerSettings(OpenSearchSettings):
    """The indexer's settings: the common ones plus its own.

    ``OPENSEARCH_AUTH`` chooses how requests authenticate: ``none`` (local
    OpenSearch without security), ``basic`` (``OPENSEARCH_USERNAME`` and
    ``OPENSEARCH_PASSWORD``, both required) or ``sigv4`` (Amazon OpenSearch
    Service: requests signed with the task role's credentials for ``AWS_REGION``).
    """

    service_name: str = "indexer"
    http_port: int = Field(8004, ge=1, le=65535)
    # Fuller fetches: a document is searchable a refresh (1 s) after it is
    # indexed anyway. Every fetch becomes bulk requests, and OpenSearch pays per
    # request as well as per document. At 2,500 decisions/s (bench pipeline,
    # two interleaved pairs, each exactly-once on and off) 1 MiB / 250 ms
    # instead of 128 KiB / 100 ms cost OpenSearch and the indexer together
    # 0.09–0.19 fewer cores, for 60–130 ms more to searchable (median).
    kafka_fetch_min_bytes: int = Field(
        1024 * 1024, ge=1, le=16 * 1024 * 1024,
        description="Fuller fetches than the common default: fewer, larger bulk requests; "
        "documents are searchable a refresh (1 s) after indexing anyway.")
    kafka_fetch_max_wait_ms: int = Field(250, ge=0, le=30_000)

    decisions_topic: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1,
        description="The topic of decisions to index (its DLQ is <topic>.dlq).",
    )

    opensearch_index: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="Index name; the index template covers exactly this index.",
    )

    indexer_bulk_max_docs: int = Field(
        500, ge=1, le=10_000,
        description="Documents per bulk request (a Kafka poll asks for four requests' worth).",
    )
    indexer_bulk_max_interval_ms: int = Field(
        500, ge=10, le=60_000,
        description="Longest a poll waits for records before it returns what it has.",
    )
    indexer_retry_base_s: float = Field(0.2, gt=0, description="First retry delay.")
    indexer_retry_cap_s: float = Field(10.0, gt=0, description="Longest retry delay.")

    @model_validator(mode="after")
    def _retry_is_ordered(self) -> IndexerSettings:
        if self.indexer_retry_cap_s < self.indexer_retry_base_s:
            raise ValueError("INDEXER_RETRY_CAP_S must be at least INDEXER_RETRY_BASE_S")
        return self

