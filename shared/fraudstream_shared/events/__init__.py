"""The versioned event contracts, topic names and the bytes codec."""

from fraudstream_shared.events import topics
from fraudstream_shared.events.codec import MAX_VALUE_BYTES, decode, encode, encode_key
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
    "MAX_VALUE_BYTES",
    "SCHEMA_VERSION",
    "Contribution",
    "DeadLetter",
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
