"""Decision → OpenSearch document: a pure function, one document per event."""

from __future__ import annotations

from typing import Any

from fraudstream_shared.events import ProcessedTransaction


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


def document_id(decision: ProcessedTransaction) -> str:
    """The event id: a replayed decision overwrites its document instead of duplicating it."""
    return decision.event_id
