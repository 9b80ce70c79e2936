"""A finding (one piece of personal data in a text) and the pure operations on lists of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from fraudstream_shared.events import EntityType

TYPE_RANK: dict[str, int] = {
    # When two findings overlap, the one with the higher rank wins first; a
    # checksum-verified number beats a phone-shaped reading of the same digits.
    "email": 9,
    "iban": 9,
    "payment_card": 9,
    "us_ssn": 8,
    "ip_address": 8,
    "date_of_birth": 7,
    "phone": 5,
    "organisation": 4,
    "person": 3,
    "location": 2,
}


@dataclass(frozen=True)
class Finding:
    """One entity: its type, where it is in the page's text, how sure, and who found it.

    ``start``/``end`` are character offsets into the page text (``end``
    exclusive); ``page`` is 1-based (0 while a finding is still chunk-local).
    """

    type: EntityType
    start: int
    end: int
    confidence: float
    recogniser: str
    page: int = 0

    def shifted(self, offset: int, page: int | None = None) -> Finding:
        """The same finding with its span moved by ``offset`` (and its page set)."""
        return replace(self, start=self.start + offset, end=self.end + offset,
                       page=self.page if page is None else page)

    def overlaps(self, other: Finding) -> bool:
        """Whether the two spans share at least one character (same page)."""
        return self.page == other.page and self.start < other.end and other.start < self.end


def _strength(finding: Finding) -> tuple[int, int, float]:
    return (TYPE_RANK.get(finding.type, 0), finding.end - finding.start, finding.confidence)


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the strongest of every group of overlapping findings, in reading order.

    Strength is type rank, then span length, then confidence; this also
    removes the duplicates two overlapping chunks produce for one entity.
    """
    kept: list[Finding] = []
    for candidate in sorted(findings, key=_strength, reverse=True):
        if not any(candidate.overlaps(other) for other in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda f: (f.page, f.start, f.end))


def merge_adjacent(findings: Iterable[Finding], text: str, joiners: str = " -'’.") -> list[Finding]:
    """Merge findings of one type that touch or are separated only by ``joiners``.

    Token-level models report "Jane", "Doe" (or word pieces) separately; one
    person is one finding. The merged confidence is the lowest of its parts.
    """
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.page, f.start)):
        if merged:
            last = merged[-1]
            gap = text[last.end:finding.start] if finding.start >= last.end else ""
            if (last.type == finding.type and last.page == finding.page
                    and finding.start >= last.end and len(gap) <= 2
                    and all(ch in joiners for ch in gap)):
                merged[-1] = replace(last, end=max(last.end, finding.end),
                                     confidence=min(last.confidence, finding.confidence))
                continue
        merged.append(finding)
    return merged


def redact(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with every finding's span replaced by ``[TYPE]``."""
    out: list[str] = []
    cursor = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < cursor:  # overlaps were resolved; be safe anyway
            continue
        out.append(text[cursor:finding.start])
        out.append(f"[{finding.type.upper()}]")
        cursor = finding.end
    out.append(text[cursor:])
    return "".join(out)
