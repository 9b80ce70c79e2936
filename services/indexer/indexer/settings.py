"""Settings of the indexer (environment variables, see ``.env.example``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics


class IndexerSettings(ServiceSettings):
    """The indexer's settings: the common ones plus its own.

    ``OPENSEARCH_AUTH`` chooses how requests authenticate: ``none`` (local
    OpenSearch without security), ``basic`` (``OPENSEARCH_USERNAME`` and
    ``OPENSEARCH_PASSWORD``, both required) or ``sigv4`` (Amazon OpenSearch
    Service: requests signed with the task role's credentials for ``AWS_REGION``).
    """

    service_name: str = "indexer"
    http_port: int = Field(8004, ge=1, le=65535)

    decisions_topic: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1,
        description="The topic of decisions to index (its DLQ is <topic>.dlq).",
    )

    opensearch_url: str = Field("http://127.0.0.1:9200", min_length=1)
    opensearch_auth: Literal["none", "basic", "sigv4"] = Field(
        "none",
        description="none | basic (OPENSEARCH_USERNAME/PASSWORD) | sigv4 (Amazon OpenSearch "
        "Service, signed with the task role for AWS_REGION).",
    )
    opensearch_username: str | None = Field(
        None, description="Required with OPENSEARCH_AUTH=basic."
    )
    opensearch_password: SecretStr | None = Field(
        None, description="Required with OPENSEARCH_AUTH=basic."
    )
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
        problem = opensearch_auth_problem(self)
        if problem is not None:
            raise ValueError(problem)
        if self.indexer_retry_cap_s < self.indexer_retry_base_s:
            raise ValueError("INDEXER_RETRY_CAP_S must be at least INDEXER_RETRY_BASE_S")
        return self


def opensearch_auth_problem(settings: IndexerSettings) -> str | None:
    """Why the OpenSearch auth settings do not fit together, or ``None`` when they do."""
    credentials = (settings.opensearch_username is not None
                   or settings.opensearch_password is not None)
    if settings.opensearch_auth == "basic":
        if not settings.opensearch_username or settings.opensearch_password is None:
            return "OPENSEARCH_AUTH=basic needs both OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD"
        return None
    if credentials:
        # Silently dropping a configured password would hide a mistake.
        return (f"OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD are set but OPENSEARCH_AUTH="
                f"{settings.opensearch_auth}: set OPENSEARCH_AUTH=basic or unset them")
    if settings.opensearch_auth == "sigv4":
        if not settings.aws_region:
            return ("OPENSEARCH_AUTH=sigv4 needs AWS_REGION, the region of the "
                    "OpenSearch domain the requests are signed for")
        if not settings.opensearch_url.startswith("https://"):
            return "OPENSEARCH_AUTH=sigv4 needs an https:// OPENSEARCH_URL (Amazon OpenSearch)"
    return None
