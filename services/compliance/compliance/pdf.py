"""Upload validation and text extraction with pypdf, page by page.

Every way a document can be refused raises :class:`RejectedDocument` with a
stable reason code and the HTTP status the API answers with; the caller keeps
the refused bytes under the rejected destination, so nothing is lost silently.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

from pypdf import PdfReader

from fraudstream_shared.exceptions import FraudstreamError

PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024
"""The header may follow a little junk; readers (and pypdf) accept it within the first KiB."""

# pypdf logs every repair it makes to a broken file at WARNING; the outcome is ours to report.
logging.getLogger("pypdf").setLevel(logging.ERROR)


class RejectedDocument(FraudstreamError):
    """The upload is not a document the service can process.

    ``reason`` is one of ``empty``, ``not_a_pdf``, ``too_large``, ``too_many_pages``,
    ``encrypted``, ``malformed``; ``status`` is the HTTP status for it.
    """

    STATUS = {"empty": 400, "not_a_pdf": 415, "too_large": 413, "too_many_pages": 413,
              "encrypted": 422, "malformed": 422}

    def __init__(self, reason: str, detail: str, pages: int = 0) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.pages = pages

    @property
    def status(self) -> int:
        """The HTTP status the API answers with."""
        return self.STATUS.get(self.reason, 422)


@dataclass(frozen=True)
class ExtractedDocument:
    """The text of every page (1-based page ``n`` is ``pages[n - 1]``) and which have none."""

    pages: list[str]
    pages_without_text: list[int]

    @property
    def needs_ocr(self) -> bool:
        """Some page has no text layer (a scan): it cannot be checked, so it is not clean."""
        return bool(self.pages_without_text)


def check_upload(data: bytes, max_bytes: int) -> None:
    """Cheap checks before parsing: not empty, not too large, a PDF header near the start."""
    if not data:
        raise RejectedDocument("empty", "the upload is empty")
    if len(data) > max_bytes:
        raise RejectedDocument("too_large", f"{len(data)} bytes, the limit is {max_bytes}")
    if PDF_MAGIC not in data[:MAGIC_WINDOW]:
        raise RejectedDocument("not_a_pdf", "no %PDF- header in the first 1024 bytes")


def extract_text(data: bytes, *, max_bytes: int, max_pages: int) -> ExtractedDocument:
    """Validate ``data`` and extract each page's text; raise :class:`RejectedDocument` if refused.

    Encrypted documents are refused even when they open with an empty password:
    the service does not decide for the owner which protections may be removed.
    """
    check_upload(data, max_bytes)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        count = 0 if encrypted else len(reader.pages)
    except Exception as exc:  # pypdf raises many types on broken files
        raise RejectedDocument("malformed", f"cannot parse the PDF: {_describe(exc)}") from exc
    if encrypted:
        raise RejectedDocument("encrypted", "the PDF is encrypted; upload it without a password")
    if count == 0:
        raise RejectedDocument("malformed", "the PDF has no pages")
    if count > max_pages:
        raise RejectedDocument("too_many_pages", f"{count} pages, the limit is {max_pages}",
                               pages=count)
    pages: list[str] = []
    without_text: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # a broken content stream on one page
            raise RejectedDocument("malformed", f"cannot read page {number}: {_describe(exc)}",
                                   pages=count) from exc
        pages.append(text)
        if not text.strip():
            without_text.append(number)
    return ExtractedDocument(pages, without_text)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
