"""Chunking with overlap, de-duplication across chunks, overlap resolution, redaction."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.detect import chunk_text, default_recognisers, detect_page
from compliance.findings import Finding, merge_adjacent, redact, resolve_overlaps
from compliance.processor import decide_route

PARAGRAPH = ("Customer Maria Garcia (maria.garcia@example.com) paid with card "
             "4111 1111 1111 1111 from 192.168.10.20; call (555) 123-4567. ")


def test_chunks_cover_the_text_and_overlap() -> None:
    text = "word " * 500
    chunks = chunk_text(text, 300, 50)
    assert chunks[0].first
    assert chunks[-1].last
    assert "".join(c.text[: (chunks[i + 1].offset - c.offset) if i + 1 < len(chunks) else None]
                   for i, c in enumerate(chunks)) == text
    for left, right in itertools.pairwise(chunks):
        assert left.offset + len(left.text) - right.offset == 50


@settings(max_examples=25, deadline=None)
@given(chunk=st.integers(min_value=220, max_value=900), repeat=st.integers(1, 12))
def test_chunked_detection_equals_whole_page_detection(chunk: int, repeat: int) -> None:
    text = PARAGRAPH * repeat
    recognisers = default_recognisers(None)
    whole = detect_page(text, 1, recognisers, chunk_chars=100_000, overlap_chars=100,
                        min_confidence=0.5)
    chunked = detect_page(text, 1, recognisers, chunk_chars=chunk, overlap_chars=200,
                          min_confidence=0.5)
    assert chunked == whole
    assert len(whole) == 4 * repeat


def test_overlaps_keep_the_checksum_type_over_a_phone_reading() -> None:
    card = Finding("payment_card", 5, 24, 0.9, "card_luhn", page=1)
    phone = Finding("phone", 5, 19, 0.95, "phone_regex", page=1)
    other_page = Finding("phone", 5, 19, 0.95, "phone_regex", page=2)
    assert resolve_overlaps([phone, card, other_page]) == [card, other_page]


def test_merge_adjacent_joins_same_type_tokens_only() -> None:
    text = "Jane Doe, Acme"
    parts = [Finding("person", 0, 4, 0.9, "m"), Finding("person", 5, 8, 0.8, "m"),
             Finding("organisation", 10, 14, 0.9, "m")]
    assert merge_adjacent(parts, text) == [Finding("person", 0, 8, 0.8, "m"),
                                           Finding("organisation", 10, 14, 0.9, "m")]


def test_redaction_replaces_each_span_with_its_type() -> None:
    text = "Mail jane@example.com now"
    assert redact(text, [Finding("email", 5, 21, 0.9, "e")]) == "Mail [EMAIL] now"


def test_route_needs_ocr_is_not_clean() -> None:
    found = [Finding("email", 0, 3, 0.9, "e", page=1)]
    assert decide_route(found, needs_ocr=False) == ("pii", "personal_data")
    assert decide_route([], needs_ocr=True) == ("pii", "no_text_layer")
    assert decide_route([], needs_ocr=False) == ("clean", "no_personal_data")
