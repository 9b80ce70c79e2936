"""One document from bytes to a routed copy and a published findings record.

:func:`analyse` and :func:`build_record` are pure; :class:`Processor` does the
I/O in a fixed order: store the document (under ``pii/``, ``clean/`` or
``rejected/``), write the redacted copy if asked, then publish the record.
A document is only acknowledged (HTTP response, SQS delete) after all three.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from compliance import metrics
from compliance.detect import Recogniser, detect_page
from compliance.findings import Finding, redact
from compliance.pdf import ExtractedDocument, RejectedDocument, extract_text
from compliance.publish import FindingsPublisher
from compliance.settings import ComplianceSettings
from compliance.storage import DocumentStore
from fraudstream_shared.events import ComplianceFindings, FindingRecord
from fraudstream_shared.events.compliance import Route, RouteReason
from fraudstream_shared.exceptions import RetryableError
from fraudstream_shared.logging import log_event
from fraudstream_shared.retry import retry_until

log = logging.getLogger(__name__)

Source = Literal["upload", "s3"]
PAGE_BREAK = "\n\f\n"
"""Separates pages in the redacted text copy (a form feed between blank lines)."""


@dataclass(frozen=True)
class Limits:
    """Validation limits and chunking parameters, from the settings."""

    max_bytes: int
    max_pages: int
    chunk_chars: int
    overlap_chars: int
    min_confidence: float

    @classmethod
    def from_settings(cls, settings: ComplianceSettings) -> Limits:
        """The limits the settings configure."""
        return cls(settings.compliance_max_upload_bytes, settings.compliance_max_pages,
                   settings.compliance_chunk_chars, settings.compliance_chunk_overlap_chars,
                   settings.compliance_min_confidence)


def analyse(data: bytes, limits: Limits, recognisers: Sequence[Recogniser],
            ) -> tuple[ExtractedDocument, list[Finding]]:
    """Validate, extract and detect; raise :class:`RejectedDocument` when refused (CPU-bound)."""
    document = extract_text(data, max_bytes=limits.max_bytes, max_pages=limits.max_pages)
    findings: list[Finding] = []
    for number, text in enumerate(document.pages, start=1):
        findings.extend(detect_page(text, number, recognisers, chunk_chars=limits.chunk_chars,
                                    overlap_chars=limits.overlap_chars,
                                    min_confidence=limits.min_confidence))
    return document, findings


def decide_route(findings: Sequence[Finding], needs_ocr: bool) -> tuple[Route, RouteReason]:
    """Personal data → ``pii``; pages without text → ``pii`` too (unread is not clean)."""
    if findings:
        return "pii", "personal_data"
    if needs_ocr:
        return "pii", "no_text_layer"
    return "clean", "no_personal_data"


def redacted_copy(document: ExtractedDocument, findings: Sequence[Finding]) -> str:
    """The document's text with every finding replaced by ``[TYPE]``, pages separated."""
    by_page: dict[int, list[Finding]] = {}
    for finding in findings:
        by_page.setdefault(finding.page, []).append(finding)
    return PAGE_BREAK.join(redact(text, by_page.get(number, []))
                           for number, text in enumerate(document.pages, start=1))


@dataclass(frozen=True)
class Incoming:
    """A document to process and what is known about where it came from."""

    data: bytes
    document_id: str
    source: Source
    received_at: datetime
    filename: str | None = None
    source_key: str | None = None


def build_record(incoming: Incoming, *, route: Route, reason: RouteReason, destination: str,
                 pages: int, pages_without_text: Sequence[int], findings: Sequence[Finding],
                 recognisers: dict[str, str], processed_at: datetime,
                 redacted_destination: str | None = None,
                 error: str | None = None) -> ComplianceFindings:
    """The findings record: counts, pages and spans, never the matched text."""
    counts = Counter(f.type for f in findings)
    return ComplianceFindings(
        document_id=incoming.document_id, source=incoming.source,
        filename=(incoming.filename or None) and incoming.filename[:256],
        source_key=incoming.source_key,
        sha256=hashlib.sha256(incoming.data).hexdigest(), size_bytes=len(incoming.data),
        pages=pages, pages_without_text=list(pages_without_text),
        needs_ocr=bool(pages_without_text) and route != "rejected",
        route=route, reason=reason, error=error, destination=destination,
        redacted_destination=redacted_destination,
        counts=dict(sorted(counts.items())),
        pages_with_findings=sorted({f.page for f in findings}),
        findings=[FindingRecord(type=f.type, page=f.page, start=f.start, end=f.end,
                                confidence=f.confidence, recogniser=f.recogniser)
                  for f in findings],
        recognisers=recognisers, received_at=incoming.received_at, processed_at=processed_at,
    )


def new_document_id() -> str:
    """A fresh id for an HTTP upload."""
    return uuid.uuid4().hex


def keyed_document_id(idempotency_key: str) -> str:
    """The id of an upload sent with an ``Idempotency-Key`` header: the same for every retry."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"upload:{idempotency_key}").hex


def s3_document_id(bucket: str, key: str, version: str) -> str:
    """A stable id for one S3 object version: a redelivered notification gets the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"s3://{bucket}/{key}#{version}").hex


class RejectedUpload(Exception):
    """The document was refused; its record (route ``rejected``) is stored and published."""

    def __init__(self, rejection: RejectedDocument, record: ComplianceFindings) -> None:
        super().__init__(str(rejection))
        self.rejection = rejection
        self.record = record


class Processor:
    """Analyses, routes and publishes documents; shared by the HTTP API and the SQS consumer."""

    def __init__(self, settings: ComplianceSettings, store: DocumentStore,
                 publisher: FindingsPublisher, recognisers: Sequence[Recogniser],
                 versions: dict[str, str], clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.store = store
        self.publisher = publisher
        self.recognisers = list(recognisers)
        self.versions = versions
        self.limits = Limits.from_settings(settings)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._slots = asyncio.Semaphore(settings.compliance_max_concurrent)

    def _key(self, prefix: str, document_id: str, suffix: str) -> str:
        return f"{prefix}{document_id}{suffix}"

    async def process(self, incoming: Incoming, *, redact_copy: bool) -> ComplianceFindings:
        """Route and publish ``incoming``; raise :class:`RejectedUpload` after keeping a refusal.

        Transient storage or publishing failures raise
        :class:`~fraudstream_shared.exceptions.RetryableError`; the same
        document id can be processed again and overwrites its own outputs.
        """
        started = time.perf_counter()
        async with self._slots:
            try:
                document, findings = await asyncio.to_thread(
                    analyse, incoming.data, self.limits, self.recognisers)
            except RejectedDocument as rejection:
                record = await self._reject(incoming, rejection)
                raise RejectedUpload(rejection, record) from rejection
        route, reason = decide_route(findings, document.needs_ocr)
        prefix = (self.settings.compliance_pii_prefix if route == "pii"
                  else self.settings.compliance_clean_prefix)
        destination = await self.store.put(self._key(prefix, incoming.document_id, ".pdf"),
                                           incoming.data, "application/pdf")
        redacted_at = None
        if redact_copy:
            text = redacted_copy(document, findings)
            redacted_at = await self.store.put(
                self._key(self.settings.compliance_redacted_prefix, incoming.document_id,
                          ".txt"), text.encode("utf-8"), "text/plain; charset=utf-8")
        record = build_record(
            incoming, route=route, reason=reason, destination=destination,
            pages=len(document.pages), pages_without_text=document.pages_without_text,
            findings=findings, recognisers=self.versions, processed_at=self._clock(),
            redacted_destination=redacted_at,
        )
        await self._publish(record)
        metrics.DOCUMENTS.labels(route, reason).inc()
        for kind, count in record.counts.items():
            metrics.FINDINGS.labels(kind).inc(count)
        metrics.DOCUMENT_SECONDS.observe(time.perf_counter() - started)
        log_event(log, logging.INFO, "compliance.document.routed",
                  document_id=incoming.document_id, source=incoming.source, route=route,
                  reason=reason, pages=record.pages, findings=record.total_findings,
                  needs_ocr=record.needs_ocr)
        return record

    async def _publish(self, record: ComplianceFindings) -> None:
        """Publish, riding out a short outage so a caller's retry does not duplicate the document.

        The document is already stored; an answer of 503 would make the client
        upload it again under a new id, so brief Kafka/OpenSearch hiccups are
        retried here (both writes are idempotent) before giving up.
        """
        await retry_until(lambda: self.publisher.publish(record), what="compliance.publish",
                          deadline_s=self.settings.compliance_publish_retry_s,
                          retry_on=(RetryableError,), base_s=0.1, cap_s=2.0)

    async def reject_unread(self, incoming: Incoming, rejection: RejectedDocument, *,
                            copy_from: str, size: int) -> ComplianceFindings:
        """Refuse an S3 upload too large to read: copy it server-side, publish the record."""
        copy = getattr(self.store, "copy", None)
        if copy is None:
            raise TypeError("reject_unread needs a store that copies objects (S3)")
        prefix = self.settings.compliance_rejected_prefix
        destination = await copy(copy_from, self._key(prefix, incoming.document_id, ".pdf"))
        return await self._reject(incoming, rejection, destination=destination, size=size)

    async def _reject(self, incoming: Incoming, rejection: RejectedDocument, *,
                      destination: str | None = None, size: int | None = None,
                      ) -> ComplianceFindings:
        """Keep the refused bytes and the reason under the rejected prefix, publish the record."""
        prefix = self.settings.compliance_rejected_prefix
        read = destination is None  # False: copied server-side, unread
        if destination is None:
            destination = await self.store.put(self._key(prefix, incoming.document_id, ".pdf"),
                                               incoming.data, "application/octet-stream")
        reason_file = {"document_id": incoming.document_id, "reason": rejection.reason,
                       "detail": rejection.detail, "filename": incoming.filename,
                       "source_key": incoming.source_key,
                       "received_at": incoming.received_at.isoformat(),
                       # An oversized HTTP upload is read only to one byte past the limit:
                       # what is kept is its beginning, and this says so.
                       "kept_bytes": len(incoming.data) if read else size,
                       "truncated": rejection.reason == "too_large" and read}
        await self.store.put(self._key(prefix, incoming.document_id, ".reason.json"),
                             json.dumps(reason_file, indent=2).encode("utf-8"),
                             "application/json")
        record = build_record(
            incoming, route="rejected", reason=rejection.reason,  # type: ignore[arg-type]
            destination=destination, pages=rejection.pages, pages_without_text=[],
            findings=[], recognisers=self.versions, processed_at=self._clock(),
            error=rejection.detail,
        )
        if size is not None:  # refused unread: the hash would describe a fragment
            record = record.model_copy(update={"sha256": None, "size_bytes": size})
        await self._publish(record)
        metrics.DOCUMENTS.labels("rejected", rejection.reason).inc()
        log_event(log, logging.WARNING, "compliance.document.rejected",
                  document_id=incoming.document_id, source=incoming.source,
                  reason=rejection.reason, detail=rejection.detail)
        return record
