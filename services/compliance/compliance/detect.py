"""Run every recogniser over a document's pages, in overlapping chunks.

A long page is cut into chunks of ``chunk_chars`` that overlap by
``overlap_chars``, at whitespace where possible. A finding that touches the
cut edge of a chunk may be truncated, so it is dropped there: the overlap is
longer than any entity, so the neighbouring chunk sees it whole. Findings are
shifted back to page offsets and the duplicates two chunks produce collapse
in :func:`~compliance.findings.resolve_overlaps`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from compliance.findings import Finding, resolve_overlaps
from compliance.recognisers import patterns

Recogniser = Callable[[str], list[Finding]]


@dataclass(frozen=True)
class Chunk:
    """A slice of a page's text and where it starts in the page."""

    offset: int
    text: str
    first: bool
    last: bool


def chunk_text(text: str, chunk_chars: int, overlap_chars: int) -> list[Chunk]:
    """Cut ``text`` into chunks of at most ``chunk_chars`` overlapping by ``overlap_chars``.

    A chunk ends at the last whitespace of its second half when there is one,
    so words are rarely split (and when they are, the overlap repairs it).
    """
    if overlap_chars >= chunk_chars:
        raise ValueError("overlap_chars must be smaller than chunk_chars")
    if len(text) <= chunk_chars:
        return [Chunk(0, text, True, True)]
    chunks: list[Chunk] = []
    start = 0
    while True:
        end = min(len(text), start + chunk_chars)
        if end < len(text):
            cut = max(text.rfind(" ", start + chunk_chars // 2, end),
                      text.rfind("\n", start + chunk_chars // 2, end))
            if cut > start + overlap_chars:
                end = cut
        chunks.append(Chunk(start, text[start:end], start == 0, end >= len(text)))
        if end >= len(text):
            return chunks
        start = end - overlap_chars


def detect_page(text: str, page: int, recognisers: Sequence[Recogniser], *, chunk_chars: int,
                overlap_chars: int, min_confidence: float) -> list[Finding]:
    """Every finding on one page (1-based ``page``), overlaps resolved, in reading order."""
    found: list[Finding] = []
    for chunk in chunk_text(text, chunk_chars, overlap_chars):
        for recognise in recognisers:
            for finding in recognise(chunk.text):
                cut_right = not chunk.last and finding.end >= len(chunk.text)
                cut_left = not chunk.first and finding.start == 0
                if cut_right or cut_left or finding.confidence < min_confidence:
                    continue
                found.append(finding.shifted(chunk.offset, page))
    return resolve_overlaps(found)


def default_recognisers(entities: Recogniser | None) -> list[Recogniser]:
    """The pattern recognisers plus the entity recogniser (dictionary or model), if any."""
    chosen: list[Recogniser] = list(patterns.PATTERN_RECOGNISERS)
    if entities is not None:
        chosen.append(entities)
    return chosen
