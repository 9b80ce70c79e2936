"""Upload validation and per-page text extraction, on PDFs made here."""

from __future__ import annotations

import pytest
from fpdf import FPDF

from compliance.pdf import RejectedDocument, extract_text
from tests.unit.test_compliance.labelled import make_pdf

LIMITS = {"max_bytes": 1024 * 1024, "max_pages": 5}


def _rejection(data: bytes, **limits: int) -> RejectedDocument:
    with pytest.raises(RejectedDocument) as caught:
        extract_text(data, **{**LIMITS, **limits})
    return caught.value


def test_text_per_page() -> None:
    document = extract_text(make_pdf(["first page jane@example.com", "second page"]), **LIMITS)
    assert [p.strip() for p in document.pages] == ["first page jane@example.com", "second page"]
    assert not document.needs_ocr


def test_pages_without_text_need_ocr() -> None:
    document = extract_text(make_pdf(["text", "", "more"], blank_pages=[2]), **LIMITS)
    assert document.pages_without_text == [2]
    assert document.needs_ocr


@pytest.mark.parametrize(("data", "reason", "status"), [
    (b"", "empty", 400),
    (b"PK\x03\x04 a zip file, not a PDF", "not_a_pdf", 415),
    (b"%PDF-1.7\n%%EOF garbage only", "malformed", 422),
])
def test_refusals_have_a_reason_and_status(data: bytes, reason: str, status: int) -> None:
    rejection = _rejection(data)
    assert (rejection.reason, rejection.status) == (reason, status)


def test_truncated_pdf_is_malformed() -> None:
    data = make_pdf(["some text"])
    assert _rejection(data[: len(data) // 2]).reason == "malformed"


def test_size_and_page_limits() -> None:
    data = make_pdf(["page"] * 7)
    assert _rejection(data, max_bytes=1024).reason == "too_large"
    rejection = _rejection(data)
    assert (rejection.reason, rejection.status, rejection.pages) == ("too_many_pages", 413, 7)


def test_encrypted_pdf_is_refused_even_with_an_empty_user_password() -> None:
    pdf = FPDF()
    pdf.set_encryption(owner_password="owner-secret", user_password="")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.cell(text="confidential")
    rejection = _rejection(bytes(pdf.output()))
    assert (rejection.reason, rejection.status) == ("encrypted", 422)
