"""Topic names and the dead-letter naming rule, in one place.

Services take topic names from settings whose defaults come from here, never
from string literals of their own.
"""

from __future__ import annotations

TRANSACTIONS = "transactions"
"""Raw transactions, keyed by ``entity_id`` (the original sample's input topic)."""

PROCESSED_TRANSACTIONS = "processed_transactions"
"""Decisions: the transaction plus the ``fd`` object, keyed by ``entity_id``."""

TRANSACTION_LABELS = "transaction_labels"
"""Ground truth learned later (chargebacks), keyed by ``entity_id``."""

COMPLIANCE_FINDINGS = "compliance_findings"
"""One findings record per document the compliance service processed, keyed by document id."""

DLQ_SUFFIX = ".dlq"


def dead_letter_topic(source_topic: str) -> str:
    """The dead-letter topic for messages that could not be processed from ``source_topic``."""
    return f"{source_topic}{DLQ_SUFFIX}"
