"""Settings of the compliance service (environment variables, see ``.env.example``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fraudstream_shared.events import topics
from fraudstream_shared.opensearch import OpenSearchSettings

PREFIX_PATTERN = r"^[\w!.*'()/-]+/$"
"""A key prefix: safe S3 key characters, ending with a slash."""


class ComplianceSettings(OpenSearchSettings):
    """The compliance service's settings: the common ones plus its own.

    ``COMPLIANCE_STORAGE=local`` keeps documents under ``COMPLIANCE_LOCAL_ROOT``
    (``pii/``, ``clean/``, ``rejected/``, ``redacted/``); ``s3`` writes them to
    ``COMPLIANCE_S3_BUCKET`` encrypted with ``COMPLIANCE_KMS_KEY_ID`` and, with
    ``COMPLIANCE_SQS_QUEUE_URL``, also processes the S3 object-created
    notifications of the upload prefix.
    """

    service_name: str = "compliance"
    http_port: int = Field(8006, ge=1, le=65535)

    findings_topic: str = Field(
        topics.COMPLIANCE_FINDINGS, min_length=1,
        description="Topic of the findings records (one per document, keyed by document id).",
    )

    # Uploads wait on these calls: a shorter timeout than the indexer's bulk requests.
    opensearch_timeout_s: float = Field(10.0, gt=0, description="Per-request timeout.")
    compliance_index: str = Field(
        topics.COMPLIANCE_FINDINGS, min_length=1, pattern=r"^[a-z0-9][a-z0-9._-]*$",
        description="OpenSearch index of the findings records (document id = document id).",
    )

    compliance_storage: Literal["local", "s3"] = Field(
        "local", description="Where documents are routed: a local folder or an S3 bucket."
    )
    compliance_local_root: Path = Field(
        Path(".local/compliance"), description="Root folder of the local destinations."
    )
    compliance_s3_bucket: str | None = Field(
        None, min_length=3, description="Bucket of uploads and destinations (storage s3)."
    )
    compliance_kms_key_id: str | None = Field(
        None, min_length=1,
        description="KMS key (id or ARN) every object is written with (SSE-KMS, storage s3).",
    )
    compliance_upload_prefix: str = Field(
        "uploads/", pattern=PREFIX_PATTERN,
        description="Prefix whose S3 object-created notifications are processed.",
    )
    compliance_pii_prefix: str = Field("pii/", pattern=PREFIX_PATTERN,
                                       description="Destination of documents with personal data.")
    compliance_clean_prefix: str = Field("clean/", pattern=PREFIX_PATTERN,
                                         description="Destination of documents without any.")
    compliance_rejected_prefix: str = Field(
        "rejected/", pattern=PREFIX_PATTERN,
        description="Refused uploads, kept with a <id>.reason.json next to them.",
    )
    compliance_redacted_prefix: str = Field(
        "redacted/", pattern=PREFIX_PATTERN, description="Redacted text copies."
    )
    compliance_sqs_queue_url: str | None = Field(
        None, min_length=1,
        description="SQS queue of the upload prefix's S3 object-created notifications "
        "(storage s3); unset = HTTP uploads only.",
    )
    compliance_sqs_wait_s: int = Field(20, ge=0, le=20, description="SQS long-poll wait.")
    compliance_sqs_retry_visibility_s: int = Field(
        30, ge=0, le=43200,
        description="A message that failed transiently is retried after this long.",
    )
    compliance_redact_s3: bool = Field(
        False, description="Also write a redacted text copy of every S3-notified document."
    )
    aws_endpoint_url: str | None = Field(
        None, min_length=1, description="S3/SQS endpoint override (a local emulator in tests)."
    )

    compliance_max_upload_bytes: int = Field(
        20 * 1024 * 1024, ge=1024, le=512 * 1024 * 1024, description="Largest accepted PDF."
    )
    compliance_max_pages: int = Field(500, ge=1, le=100_000, description="Most pages accepted.")
    compliance_chunk_chars: int = Field(
        4000, ge=200, le=1_000_000, description="Recognisers see a page in chunks this long."
    )
    compliance_chunk_overlap_chars: int = Field(
        200, ge=50, le=100_000,
        description="Overlap between chunks: longer than any entity, so none is cut.",
    )
    compliance_min_confidence: float = Field(
        0.5, ge=0.0, le=1.0, description="Findings below this confidence are dropped."
    )
    compliance_ner_backend: Literal["dictionary", "spacy", "transformers", "none"] = Field(
        "dictionary",
        description="Names, organisations, locations: dictionary (built in) | spacy | "
        "transformers (a local model at COMPLIANCE_NER_MODEL_PATH, never downloaded) | none.",
    )
    compliance_ner_model_path: Path | None = Field(
        None, description="Directory of the spaCy or transformers model (those backends)."
    )
    compliance_publish_retry_s: float = Field(
        10.0, ge=0, le=120,
        description="How long publishing a record is retried before the upload gets a 503 "
        "(or the S3 notification is retried later).",
    )
    compliance_max_concurrent: int = Field(
        2, ge=1, le=64, description="Documents analysed at once (CPU-bound)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ComplianceSettings:
        problem = settings_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def settings_problem(settings: ComplianceSettings) -> str | None:
    """Why the settings do not fit together, or ``None`` when they do."""
    if settings.compliance_chunk_overlap_chars >= settings.compliance_chunk_chars:
        return "COMPLIANCE_CHUNK_OVERLAP_CHARS must be smaller than COMPLIANCE_CHUNK_CHARS"
    if settings.compliance_storage == "s3":
        if not settings.compliance_s3_bucket or not settings.compliance_kms_key_id:
            return "COMPLIANCE_STORAGE=s3 needs COMPLIANCE_S3_BUCKET and COMPLIANCE_KMS_KEY_ID"
        if not settings.aws_region:
            return "COMPLIANCE_STORAGE=s3 needs AWS_REGION"
    elif settings.compliance_sqs_queue_url:
        return "COMPLIANCE_SQS_QUEUE_URL needs COMPLIANCE_STORAGE=s3 (the notified bucket)"
    model_backend = settings.compliance_ner_backend in ("spacy", "transformers")
    if model_backend and settings.compliance_ner_model_path is None:
        return (f"COMPLIANCE_NER_BACKEND={settings.compliance_ner_backend} needs "
                "COMPLIANCE_NER_MODEL_PATH (a local model directory; nothing is downloaded)")
    prefixes = [settings.compliance_upload_prefix, settings.compliance_pii_prefix,
                settings.compliance_clean_prefix, settings.compliance_rejected_prefix,
                settings.compliance_redacted_prefix]
    for prefix in prefixes[1:]:
        if prefix.startswith(settings.compliance_upload_prefix) or \
                settings.compliance_upload_prefix.startswith(prefix):
            # Routed copies under the upload prefix would be notified and processed again.
            return "the destination prefixes must not overlap COMPLIANCE_UPLOAD_PREFIX"
    if len(set(prefixes)) != len(prefixes):
        return "the COMPLIANCE_*_PREFIX values must differ"
    basic = settings.opensearch_username is not None or settings.opensearch_password is not None
    if settings.opensearch_auth == "basic" and not (
            settings.opensearch_username and settings.opensearch_password is not None):
        return "OPENSEARCH_AUTH=basic needs both OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD"
    if settings.opensearch_auth != "basic" and basic:
        return (f"OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD are set but OPENSEARCH_AUTH="
                f"{settings.opensearch_auth}: set OPENSEARCH_AUTH=basic or unset them")
    if settings.opensearch_auth == "sigv4" and (
            not settings.aws_region or not settings.opensearch_url.startswith("https://")):
        return "OPENSEARCH_AUTH=sigv4 needs AWS_REGION and an https:// OPENSEARCH_URL"
    return None
