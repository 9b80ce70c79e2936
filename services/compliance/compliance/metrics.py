"""The compliance service's own Prometheus metrics (the shared ones cover Kafka)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DOCUMENTS = Counter(
    "fraudstream_compliance_documents_total", "Documents processed, by route and reason.",
    ["route", "reason"],
)
FINDINGS = Counter(
    "fraudstream_compliance_findings_total", "Personal-data findings, by entity type.", ["type"]
)
DOCUMENT_SECONDS = Histogram(
    "fraudstream_compliance_document_seconds",
    "Time to analyse, route and publish one document.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
SQS_MESSAGES = Counter(
    "fraudstream_compliance_sqs_messages_total",
    "S3 notification messages, by outcome (done, retry, invalid).", ["outcome"],
)
