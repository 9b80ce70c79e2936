"""Decision → OpenSearch document: a pure function, one document per event."""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json

from fraudstream_shared.events import ProcessedTransaction
from indexer.bulk import encode_source


def billing_location(decision: ProcessedTransaction) -> dict[str, float] | None:
    """The billing coordinates as a ``geo_point`` object, or ``None`` if one is missing."""
    if decision.billing_latitude is None or decision.billing_longitude is None:
        return None
    return {"lat": decision.billing_latitude, "lon": decision.billing_longitude}


def to_document(decision: ProcessedTransaction) -> dict[str, Any]:
    """The document to index: every contract field in JSON form plus ``billing_location``.

    Timestamps are ISO 8601 in UTC; fields that are ``None`` are left out (an
    absent field, not a null, so ``exists`` queries mean "was provided").
    The document id is :func:`document_id`, not a field of the source.
    """
    document = decision.model_dump(mode="json", exclude_none=True)
    location = billing_location(decision)
    if location is not None:
        document["billing_location"] = location
    return document


def document_source(decision: ProcessedTransaction) -> bytes:
    """:func:`to_document` as the JSON bytes of a bulk source line, serialised in Rust.

    The same fields and values as ``to_document`` sent through opensearch-py's
    encoder, without building the dict: the model is serialised by
    pydantic-core and ``billing_location`` is appended to its object (last, as
    in ``to_document``). pydantic writes NaN and infinities as ``null`` where
    the old encoder wrote ``NaN``/``Infinity``, and keeps ``null`` dict values;
    so a source with any ``null`` in it (rare: non-finite scores, or the
    scorer's optional ``features`` with a missing one) is encoded the old way.
    """
    source = to_json(decision, exclude_none=True)
    if b"null" in source:
        return encode_source(to_document(decision))
    location = billing_location(decision)
    if location is None:
        return source
    return b"".join((source[:-1], b',"billing_location":', to_json(location), b"}"))


def document_id(decision: ProcessedTransaction) -> str:
    """The event id: a replayed decision overwrites its document instead of duplicating it."""
    return decision.event_id
