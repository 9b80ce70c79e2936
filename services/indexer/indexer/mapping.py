"""The index template: explicit mappings for every decision field.

The original sample let the Elasticsearch connector map fields dynamically, so
every string became analyzed ``text`` with a ``.keyword`` subfield and its
dashboard had to aggregate on ``*.keyword``. Here every field has an explicit
type: identifiers and categories are ``keyword`` (aggregatable as they are),
timestamps are ``date``, timings and scores are numbers, and the billing
coordinates are also indexed as a ``geo_point`` for the map.

``dynamic`` stays ``true`` because the contract changes additively: a new
string field becomes a ``keyword`` (never analyzed text), a new model score an
``integer`` and a new rule id a ``keyword``, instead of rejecting documents.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

TEMPLATE_PRIORITY = 200
"""Above the built-in templates (priority ≤ 100) so ours wins for the index."""

KEYWORD: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
TEXT_AND_KEYWORD: dict[str, Any] = {
    "type": "text",
    "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}},
}
DATE: dict[str, Any] = {"type": "date"}
LONG: dict[str, Any] = {"type": "long"}
INTEGER: dict[str, Any] = {"type": "integer"}
DOUBLE: dict[str, Any] = {"type": "double"}

KNOWN_MODEL_SCORES = ("fraudstream",)
"""Model names mapped explicitly, so dashboards can use them before any data arrives:
the scorer's current heuristic model and the name reserved for a trained one."""

TRANSACTION_PROPERTIES: dict[str, Any] = {
    "event_id": KEYWORD,
    "event_time": DATE,
    "entity_id": KEYWORD,
    "merchant_id": KEYWORD,
    "transaction_amt": DOUBLE,
    "transaction_currency": KEYWORD,
    "email_address": KEYWORD,
    # keyword, not ip: the contract accepts any string up to 64 characters and
    # one value that is not an address would get the whole document rejected.
    "ip_address": KEYWORD,
    "user_agent": TEXT_AND_KEYWORD,
    "product_category": KEYWORD,
    "card_bin": KEYWORD,
    "customer_name": KEYWORD,
    "billing_street": KEYWORD,
    "billing_city": KEYWORD,
    "billing_state": KEYWORD,
    "billing_zip": KEYWORD,
    "billing_latitude": DOUBLE,
    "billing_longitude": DOUBLE,
    "billing_location": {"type": "geo_point"},
    "customer_job": KEYWORD,
    "phone": KEYWORD,
    "schema_version": INTEGER,
}

DECISION_PROPERTIES: dict[str, Any] = {
    "outcome": KEYWORD,
    "model_version": KEYWORD,
    "detector_version": KEYWORD,
    "model_scores": {
        "type": "object", "properties": {name: INTEGER for name in KNOWN_MODEL_SCORES},
    },
    # An object whose keys are rule ids (a dynamic template maps each to
    # keyword) rather than flat_object: each rule stays a normal field that
    # Dashboards can filter and aggregate on. Rule ids are few, so the
    # field count stays small.
    "rule_results": {"type": "object"},
    "reasons": TEXT_AND_KEYWORD,
    # object, not nested: Dashboards visualisations cannot aggregate nested
    # fields, and "which features appear in top contributions" is the question.
    "contributions": {
        "type": "object",
        "properties": {"feature": KEYWORD, "value": DOUBLE, "contribution": {"type": "float"}},
    },
    "proc_time": LONG,
    "ttdf": LONG,
    "scorer_time": DOUBLE,
    "frauddetector_time": LONG,
    "scored_at": DATE,
}

DYNAMIC_TEMPLATES: list[dict[str, Any]] = [
    {"model_scores": {"path_match": "fd.model_scores.*", "mapping": INTEGER}},
    {"rule_results": {"path_match": "fd.rule_results.*", "mapping": KEYWORD}},
    {"strings_as_keywords": {"match_mapping_type": "string", "mapping": KEYWORD}},
]


def index_mappings() -> dict[str, Any]:
    """The ``mappings`` body shared by the template and explicit index creation."""
    return {
        "dynamic": True,
        # A new string field that looks like a date must not silently become
        # a date (a later non-date value would then be rejected).
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": DYNAMIC_TEMPLATES,
        "properties": {
            **TRANSACTION_PROPERTIES,
            "fd": {"type": "object", "properties": DECISION_PROPERTIES},
        },
    }


def index_template(index: str) -> dict[str, Any]:
    """The ``_index_template`` body for exactly ``index``.

    Not ``<index>*``: two indexers on one cluster whose index names share a
    prefix (``decisions`` and ``decisions-eu``) would put templates with
    overlapping patterns at the same priority, which OpenSearch refuses, so the
    second could never start.
    """
    return {
        "index_patterns": [index],
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "number_of_shards": 1,
                # One replica when a second node exists, none on a single node
                # (so a local node stays green).
                "auto_expand_replicas": "0-1",
            },
            "mappings": index_mappings(),
        },
        "_meta": {"managed_by": "fraudstream-indexer"},
    }


def mapped_fields(properties: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Yield ``(dotted path, type)`` for every field under ``properties``, multi-fields included."""
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        yield path, spec.get("type", "object")
        for sub, sub_spec in spec.get("fields", {}).items():
            yield f"{path}.{sub}", sub_spec.get("type", "object")
        if "properties" in spec:
            yield from mapped_fields(spec["properties"], prefix=f"{path}.")
