"""Settings of the indexer (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics


class IndexerSettings(ServiceSettings):
    """The indexer's settings: the common ones plus its own.

    ``OPENSEARCH_USERNAME`` and ``OPENSEARCH_PASSWORD`` switch on HTTP basic
    auth; set both or neither.
    """

    service_name: str = "indexer"
    http_port: int = Field(8004, ge=1, le=65535)

    decisions_topic: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1,
        description="The topic of decisions to index (its DLQ is <topic>.dlq).",
    )

    opensearch_url: str = Field("http://127.0.0.1:9200", min_length=1)
    opensearch_username: str | None = None
    opensearch_password: SecretStr | None = None
    opensearch_verify_certs: bool = Field(True, description="Verify the TLS certificate.")
    opensearch_timeout_s: float = Field(30.0, gt=0, description="Per-request timeout.")
    opensearch_index: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="Index name; the template applies to <index>*.",
    )

    indexer_bulk_max_docs: int = Field(
        500, ge=1, le=10_000, description="Documents per bulk request (and per Kafka poll)."
    )
    indexer_bulk_max_interval_ms: int = Field(
        500, ge=10, le=60_000,
        description="Longest a poll waits for records before it returns what it has.",
    )
    indexer_retry_base_s: float = Field(0.2, gt=0, description="First retry delay.")
    indexer_retry_cap_s: float = Field(10.0, gt=0, description="Longest retry delay.")

    @model_validator(mode="after")
    def _auth_is_complete(self) -> IndexerSettings:
        if (self.opensearch_username is None) != (self.opensearch_password is None):
            raise ValueError("set both OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD, or neither")
        if self.indexer_retry_cap_s < self.indexer_retry_base_s:
            raise ValueError("INDEXER_RETRY_CAP_S must be at least INDEXER_RETRY_BASE_S")
        return self
