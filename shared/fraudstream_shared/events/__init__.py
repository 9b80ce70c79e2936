"""The versioned event contracts, topic names and the bytes codec."""

from fraudstream_shared.events import topics
from fraudstream_shared.events.codec import MAX_VALUE_BYTES, decode, encode, encode_key
from fraudstream_shared.events.compliance import (
    ENTITY_TYPES,
    ComplianceFindings,
    EntityType,
    FindingRecord,
)
from fraudstream_shared.events.deadletter import DeadLetter
from fraudstream_shared.events.decision import (
    Contribution,
    FraudDecision,
    Outcome,
    ProcessedTransaction,
)
from fraudstream_shared.events.label import TransactionLabel
from fraudstream_shared.events.transaction import SCHEMA_VERSION, Transaction

__all__ = [
    "ENTITY_TYPES",
    "MAX_VALUE_BYTES",
    "SCHEMA_VERSION",
    "ComplianceFindings",
    "Contribution",
    "DeadLetter",
    "EntityType",
    "FindingRecord",
    "FraudDecision",
    "Outcome",
    "ProcessedTransaction",
    "Transaction",
    "TransactionLabel",
    "decode",
    "encode",
    "encode_key",
    "topics",
]
