"""The in-memory view of sent alerts."""

from __future__ import annotations

from fraudstream_shared.events import decode, encode
from notifier.sent import SentLedger, SentRecord


def test_nothing_is_restored_until_loaded() -> None:
    ledger = SentLedger()
    assert not ledger.is_restored(0)
    ledger.restored(0, ["a", "b"])
    assert ledger.is_restored(0)
    assert ledger.contains("a")
    assert not ledger.contains("c")


def test_add_and_keep_only_assigned_partitions() -> None:
    ledger = SentLedger()
    ledger.restored(0, ["a"])
    ledger.restored(1, ["b"])
    ledger.add(1, "c")
    assert len(ledger) == 3
    ledger.keep_only([1])
    assert not ledger.is_restored(0)
    assert not ledger.contains("a")
    assert ledger.contains("c")


def test_sent_record_round_trips() -> None:
    record = SentRecord.now("ev-1", "smtp", "processed_transactions", 2, 41)
    assert decode(SentRecord, encode(record)) == record
