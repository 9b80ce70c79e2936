"""Prometheus metrics of the archiver (the Kafka ones are in ``fraudstream_shared.metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS_ARCHIVED = Counter(
    "fraudstream_archiver_rows_total",
    "Rows written to the lake (and committed), by table.",
    ["service", "table"],
)
FILES_WRITTEN = Counter(
    "fraudstream_archiver_files_total",
    "Parquet files written to the lake, by table.",
    ["service", "table"],
)
FILES_DISCARDED = Counter(
    "fraudstream_archiver_files_discarded_total",
    "Files of a flush that was never committed, deleted before its records are read again.",
    ["service"],
)
FLUSHES = Counter(
    "fraudstream_archiver_flushes_total",
    "Flushes by reason (rows, bytes, age, revoked, shutdown).",
    ["service", "reason"],
)
WRITE_RETRIES = Counter(
    "fraudstream_archiver_write_retries_total",
    "Lake operations retried, by cause (exception class).",
    ["service", "cause"],
)
BUFFERED_RECORDS = Gauge(
    "fraudstream_archiver_buffered_records",
    "Records read but not yet written to the lake.",
    ["service"],
)
FLUSH_SECONDS = Histogram(
    "fraudstream_archiver_flush_seconds",
    "Duration of one flush (markers, files, commit).",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
