"""Pure logic of bulk indexing: the request body and what to do with each response item.

Each item of a bulk response is classified as indexed, to retry (throttled,
server-side or operational failures that clear without changing the document)
or rejected (the document itself can never be indexed as it is, e.g. it
violates the mapping: it is dead-lettered).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import TransportError
from opensearchpy.serializer import JSONSerializer
from pydantic_core import to_json

from fraudstream_shared.retry import backoff_delay

T = TypeVar("T")

MAX_ERROR_CHARS = 1000

OPERATIONAL_ERROR_TYPES = frozenset({
    # The index is blocked, closed or missing: an operator fixes the index,
    # not the document, so the document waits instead of being dead-lettered.
    "cluster_block_exception",
    "index_closed_exception",
    "index_not_found_exception",
})

_SERIALIZER = JSONSerializer()
"""opensearch-py's own encoder: what the client did with every dict it was given."""

_VALUE_PREVIEW = re.compile(r"\s*Preview of field's value: '.*?'(?=\s|$|\.)", re.DOTALL)


@dataclass(frozen=True)
class BulkOutcome:
    """Positions (in the request) of indexed, to-retry and rejected documents."""

    indexed: list[int] = field(default_factory=list)
    retry: list[int] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    retry_causes: list[str] = field(default_factory=list)
    """One short cause per retried item (its HTTP status), for metrics and logs."""
    replaced: list[int] = field(default_factory=list)
    """Indexed positions whose id already existed (``result: updated``): a redelivery."""


def bulk_body(index: str, documents: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Any]:
    """The bulk request lines: an ``index`` action (full overwrite by id) then the source."""
    body: list[Any] = []
    for doc_id, source in documents:
        body.append({"index": {"_index": index, "_id": doc_id}})
        body.append(source)
    return body


def encode_source(source: Mapping[str, Any]) -> bytes:
    """A document as opensearch-py's client would have encoded it in a bulk body."""
    text: str = _SERIALIZER.dumps(source)
    return text.encode("utf-8", "surrogatepass")


def bulk_payload(index: str, documents: Sequence[tuple[str, bytes | Mapping[str, Any]]]) -> bytes:
    """The NDJSON bulk body, ready to send: an ``index`` action then the source, per document.

    Sources already serialised (``bytes``) are used as they are, so building a
    request costs a join, not a JSON encoding of every document (which is what
    handing :func:`bulk_body` to the client costs); mappings are encoded as the
    client would. The action line is the same as ``bulk_body``'s.
    """
    action = b'{"index":{"_index":' + to_json(index) + b',"_id":'
    parts: list[bytes] = []
    for doc_id, source in documents:
        parts += (action, to_json(doc_id), b"}}\n",
                  source if isinstance(source, bytes) else encode_source(source), b"\n")
    return b"".join(parts)


def is_retryable_item(status: int, error_type: str | None) -> bool:
    """Throttled (429), server-side (5xx) and operational index errors are retried."""
    return status == 429 or status >= 500 or error_type in OPERATIONAL_ERROR_TYPES


def describe_item_error(error: Any) -> str:
    """A short ``type: reason`` description of a bulk item error, without field values.

    OpenSearch quotes a preview of the offending value in mapping errors; it
    may be personal data, so it is removed before the text is logged or stored.
    """
    if not isinstance(error, Mapping):
        return str(error)[:MAX_ERROR_CHARS]
    parts: list[str] = []
    current: Any = error
    while isinstance(current, Mapping) and len(parts) < 3:
        reason = _VALUE_PREVIEW.sub("", str(current.get("reason", ""))).strip()
        parts.append(f"{current.get('type', 'error')}: {reason}")
        current = current.get("caused_by")
    return "; caused by ".join(parts)[:MAX_ERROR_CHARS]


def classify_bulk_items(items: Sequence[Mapping[str, Any]], expected: int) -> BulkOutcome:
    """Classify the items of a bulk response to a request of ``expected`` documents.

    Raises ``ValueError`` when the response does not have one item per
    document: positions could not be trusted, so nothing may be acknowledged.
    """
    if len(items) != expected:
        raise ValueError(f"bulk response has {len(items)} items for {expected} documents")
    outcome = BulkOutcome()
    for position, item in enumerate(items):
        result = next(iter(item.values()))
        status = int(result.get("status", 500))
        if 200 <= status < 300:
            outcome.indexed.append(position)
            if result.get("result") == "updated":
                outcome.replaced.append(position)
            continue
        error = result.get("error")
        error_type = error.get("type") if isinstance(error, Mapping) else None
        if is_retryable_item(status, error_type):
            outcome.retry.append(position)
            outcome.retry_causes.append(str(status))
        else:
            outcome.rejected.append((position, describe_item_error(error)))
    return outcome


def is_transient_error(exc: BaseException) -> bool:
    """Whether a failed request should be retried: connection errors, timeouts, 429 and 5xx."""
    if isinstance(exc, OpenSearchConnectionError):  # includes ConnectionTimeout
        return True
    if isinstance(exc, TransportError):
        status = exc.status_code
        return isinstance(status, int) and (status == 429 or status >= 500)
    return isinstance(exc, TimeoutError)


def error_cause(exc: BaseException) -> str:
    """A short label for a failed request: its HTTP status, or the exception's class."""
    if isinstance(exc, TransportError) and isinstance(exc.status_code, int):
        return str(exc.status_code)
    return type(exc).__name__


def retry_delay(attempt: int, base_s: float, cap_s: float) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): capped exponential with jitter."""
    return backoff_delay(attempt, base_s=base_s, cap_s=cap_s)


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most ``size`` items, in order."""
    if size < 1:
        raise ValueError("size must be at least 1")
    for start in range(0, len(items), size):
        yield items[start:start + size]
