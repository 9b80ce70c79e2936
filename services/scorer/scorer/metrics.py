"""The scorer's own metrics: what its feature state costs (the shared ones cover the rest)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CHANGELOG_RECORDS = Counter(
    "fraudstream_scorer_changelog_records_total",
    "Feature-state changelog records sent: head, history or tombstone.",
    ["service", "kind"],
)
CHANGELOG_BYTES = Counter(
    "fraudstream_scorer_changelog_bytes_total",
    "Bytes of feature-state changelog values sent (keys and Kafka overhead not counted).",
    ["service"],
)
STATE_ENTITIES = Gauge(
    "fraudstream_scorer_state_entities",
    "Entities (customers, cards, merchants, IPs) held in a partition's feature store.",
    ["service", "partition"],
)
