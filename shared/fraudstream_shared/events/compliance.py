"""The ``compliance_findings`` contract: what the compliance service found in one document.

One record per processed document, keyed by ``document_id``. It says where the
document was routed and why, how many findings of each type it holds and where
(page and character span), and which recognisers found them. It never carries
the matched text itself: the topic and the index must not become a second copy
of the personal data they describe.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fraudstream_shared.events.transaction import SCHEMA_VERSION, Identifier, ShortText, parse_utc

EntityType = Literal[
    "person",
    "organisation",
    "location",
    "email",
    "phone",
    "payment_card",
    "iban",
    "us_ssn",
    "ip_address",
    "date_of_birth",
]
"""Every kind of personal data the compliance service looks for."""

ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)

Route = Literal["pii", "clean", "rejected"]
"""Where the document went: personal data (or unreadable), none found, or refused."""

RouteReason = Literal[
    "personal_data",
    "no_text_layer",
    "no_personal_data",
    "not_a_pdf",
    "too_large",
    "too_many_pages",
    "encrypted",
    "malformed",
    "empty",
]

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class FindingRecord(BaseModel):
    """One piece of personal data: its type and where it is, never its value."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: EntityType
    page: int = Field(ge=1, description="1-based page number.")
    start: int = Field(ge=0, description="Character offset in the page's extracted text.")
    end: int = Field(gt=0, description="End offset (exclusive) in the page's extracted text.")
    confidence: Confidence
    recogniser: ShortText

    @model_validator(mode="after")
    def _span_is_ordered(self) -> FindingRecord:
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class ComplianceFindings(BaseModel):
    """The findings record of one document, as published on ``compliance_findings``.

    ``route`` is the decision: ``pii`` for documents with personal data *or* with
    pages that have no text layer (``needs_ocr``: unread is not clean), ``clean``
    when nothing was found, ``rejected`` when the upload was refused (then
    ``reason`` says why and ``destination`` is where the upload was kept).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    document_id: Identifier
    source: Literal["upload", "s3"]
    filename: ShortText | None = Field(None, description="The name it was uploaded under.")
    source_key: Annotated[str, Field(max_length=1024)] | None = Field(
        None, description="The S3 key it arrived under (source s3)."
    )
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        None, description="SHA-256 of the document; absent when it was refused unread (too large)."
    )
    size_bytes: int = Field(ge=0)
    pages: int = Field(ge=0)
    pages_without_text: list[int] = Field(default_factory=list)
    needs_ocr: bool = False
    route: Route
    reason: RouteReason
    error: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="Why a rejected document was refused (never its content)."
    )
    destination: Annotated[str, Field(max_length=2048)] = Field(
        description="Where the document is stored: a file path or s3://bucket/key."
    )
    redacted_destination: Annotated[str, Field(max_length=2048)] | None = None
    counts: dict[EntityType, int] = Field(default_factory=dict)
    pages_with_findings: list[int] = Field(default_factory=list)
    findings: list[FindingRecord] = Field(default_factory=list)
    recognisers: dict[ShortText, ShortText] = Field(
        default_factory=dict, description="Recogniser name → version (the model versions)."
    )
    received_at: datetime
    processed_at: datetime
    schema_version: int = SCHEMA_VERSION

    @field_validator("received_at", "processed_at", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return parse_utc(value)

    @property
    def total_findings(self) -> int:
        """How many findings the document has, all types together."""
        return sum(self.counts.values())
