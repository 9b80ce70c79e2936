"""The notifier's own metrics (the shared ones cover consumption, lag and dead letters)."""

from __future__ import annotations

from prometheus_client import Counter

DECISIONS_SEEN = Counter(
    "fraudstream_notifier_decisions_total",
    "Decisions read by the notifier, by outcome.",
    ["service", "outcome"],
)
ALERTS = Counter(
    "fraudstream_alerts_total",
    "Alerts by result: sent, duplicate (already sent, skipped) or failed (dead-lettered).",
    ["service", "channel", "result"],
)
