"""Settings of the archiver (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics


class ArchiverSettings(ServiceSettings):
    """The archiver's settings: the common ones plus its own.

    ``ARCHIVER_DESTINATION`` chooses where Parquet files go: ``local`` (a folder,
    ``ARCHIVER_LAKE_DIR``; the default for ``make run``) or ``s3``
    (``ARCHIVER_S3_BUCKET`` under ``ARCHIVER_S3_PREFIX``, with the task role's
    credentials for ``AWS_REGION``).
    """

    service_name: str = "archiver"
    http_port: int = Field(8005, ge=1, le=65535)
    # Fuller fetches: rows wait in buffers for up to a minute before a file is
    # written, so half a second's wait for 1 MiB adds nothing that matters and
    # saves the broker and the archiver many small fetches.
    kafka_fetch_min_bytes: int = Field(
        1024 * 1024, ge=1, le=16 * 1024 * 1024,
        description="Fuller fetches than the common default: rows wait up to a minute for "
        "their file anyway.")
    kafka_fetch_max_wait_ms: int = Field(500, ge=0, le=30_000)

    decisions_topic: str = Field(
        topics.PROCESSED_TRANSACTIONS, min_length=1,
        description="The topic of decisions to archive (table 'decisions'; its DLQ is "
        "<topic>.dlq).",
    )
    labels_topic: str = Field(
        topics.TRANSACTION_LABELS,
        description="Fraud labels to archive as table 'labels'; empty = do not archive labels.",
    )

    archiver_destination: Literal["local", "s3"] = Field(
        "local", description="local (ARCHIVER_LAKE_DIR) | s3 (ARCHIVER_S3_BUCKET)."
    )
    archiver_lake_dir: Path = Field(
        Path(".local/lake"), description="Root folder of the lake with ARCHIVER_DESTINATION=local."
    )
    archiver_s3_bucket: str | None = Field(
        None, description="Bucket of the lake; required with ARCHIVER_DESTINATION=s3."
    )
    archiver_s3_prefix: str = Field(
        "lake/", pattern=r"^([A-Za-z0-9._=-]+/)*$",
        description="Key prefix of the lake in the bucket ('' or ending in '/').",
    )
    archiver_s3_endpoint_url: str | None = Field(
        None, description="Another S3 endpoint (tests, S3-compatible stores); empty = AWS."
    )

    archiver_max_rows: int = Field(
        20_000, ge=1, le=1_000_000,
        description="A partition's buffer is written once it holds this many records.",
    )
    archiver_max_bytes: int = Field(
        32 * 1024 * 1024, ge=1024,
        description="…or once its records' raw JSON reaches this many bytes.",
    )
    archiver_flush_interval_s: float = Field(
        60.0, gt=0, le=3600,
        description="…or once its oldest record has waited this long (seconds).",
    )
    archiver_retry_base_s: float = Field(0.2, gt=0, description="First retry delay of a write.")
    archiver_retry_cap_s: float = Field(10.0, gt=0, description="Longest retry delay of a write.")

    @model_validator(mode="after")
    def _destination_is_complete(self) -> ArchiverSettings:
        if self.archiver_destination == "s3" and not self.archiver_s3_bucket:
            raise ValueError("ARCHIVER_DESTINATION=s3 needs ARCHIVER_S3_BUCKET")
        if self.archiver_retry_cap_s < self.archiver_retry_base_s:
            raise ValueError("ARCHIVER_RETRY_CAP_S must be at least ARCHIVER_RETRY_BASE_S")
        if self.labels_topic == self.decisions_topic:
            raise ValueError("LABELS_TOPIC must differ from DECISIONS_TOPIC")
        return self

    @property
    def input_topics(self) -> list[str]:
        """The topics archived: decisions, and labels unless disabled."""
        return [self.decisions_topic, *([self.labels_topic] if self.labels_topic else [])]
