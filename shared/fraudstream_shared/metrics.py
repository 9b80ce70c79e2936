"""Prometheus metrics shared by every service, labelled by service and topic.

One registry per process (prometheus-client's default); each service imports
these instead of declaring its own copies, so dashboards and alarms can rely
on the same names everywhere.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "fraudstream_messages_consumed_total", "Messages read from Kafka.", ["service", "topic"]
)
MESSAGES_PRODUCED = Counter(
    "fraudstream_messages_produced_total", "Messages written to Kafka.", ["service", "topic"]
)
MESSAGES_FAILED = Counter(
    "fraudstream_messages_failed_total",
    "Attempts that failed (retried or dead-lettered).",
    ["service", "stage"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "fraudstream_messages_dead_lettered_total",
    "Messages sent to a dead-letter topic.",
    ["service", "topic", "reason"],
)
BATCH_SIZE = Histogram(
    "fraudstream_batch_size",
    "Messages per processed batch.",
    ["service"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
PROCESSING_SECONDS = Histogram(
    "fraudstream_batch_processing_seconds",
    "Time to process one batch, from poll to durable.",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "fraudstream_consumer_lag_messages",
    "High-water mark minus committed position, per partition.",
    ["service", "topic", "partition"],
)
READY = Gauge("fraudstream_ready", "1 when the service reports ready.", ["service"])
