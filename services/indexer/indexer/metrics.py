"""Prometheus metrics of the indexer; the Kafka ones are shared (``fraudstream_shared.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DOCUMENTS_INDEXED = Counter(
    "fraudstream_indexer_documents_indexed_total",
    "Documents acknowledged by OpenSearch.",
    ["service", "index"],
)
DOCUMENTS_REJECTED = Counter(
    "fraudstream_indexer_documents_rejected_total",
    "Documents OpenSearch refused for good (dead-lettered as index_rejected).",
    ["service", "index"],
)
BULK_RETRIES = Counter(
    "fraudstream_indexer_bulk_retries_total",
    "Bulk requests or items retried, by cause (HTTP status or exception class).",
    ["service", "cause"],
)
BULK_SECONDS = Histogram(
    "fraudstream_indexer_bulk_seconds",
    "Duration of one bulk request.",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
