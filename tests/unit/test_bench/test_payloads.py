"""Stamping intended send times into messages and reading them back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.payloads import (
    as_alert_burst,
    event_id,
    iso_utc,
    kafka_partition,
    make_template,
    read_pool,
    read_stamp,
    read_timings,
    render,
    seq_of,
    write_pool,
)
from fraudstream_shared.events import ProcessedTransaction, Transaction, decode, encode
from tests.support.factories import original_sample_transaction


def test_a_rendered_message_is_a_valid_transaction_with_its_stamp() -> None:
    template = make_template(original_sample_transaction(), partitions=6)
    intended = datetime(2026, 11, 25, 18, 55, 1, 123456, tzinfo=UTC).timestamp()

    value = render(template, event_id("bench-x", 42), intended)
    tx = decode(Transaction, value)

    assert tx.event_id == "bench-x-42"
    assert tx.event_time.timestamp() == pytest.approx(intended, abs=1e-6)
    assert tx.entity_id == "123-45-6789"


def decided(event_id: str, intended: float, *, outcome: str, proc_time: int, ttdf: int
            ) -> ProcessedTransaction:
    """The decision of a rendered bench transaction, with the given outcome and timings."""
    template = make_template(original_sample_transaction(), partitions=6)
    tx = decode(Transaction, render(template, event_id, intended))
    return ProcessedTransaction(**tx.model_dump(), fd={
        "outcome": outcome, "model_version": "m", "detector_version": "d",
        "proc_time": proc_time, "ttdf": ttdf, "scorer_time": float(ttdf - proc_time),
        "frauddetector_time": ttdf - proc_time, "scored_at": "2026-11-25T18:55:00Z"})


def test_the_stamp_survives_into_the_decision() -> None:
    decision = decided("bench-x-7", 1_790_000_000.25, outcome="block", proc_time=1, ttdf=2)

    stamp = read_stamp(decision.model_dump_json(exclude_none=True).encode())

    assert stamp is not None
    assert stamp.event_id == "bench-x-7"
    assert stamp.intended_epoch == pytest.approx(1_790_000_000.25, abs=1e-6)
    assert stamp.outcome == "block"


def test_a_decisions_timings_are_read_from_the_bytes_the_scorer_writes() -> None:
    decision = decided("bench-x-8", 1_790_000_000.0, outcome="review", proc_time=37, ttdf=41)

    assert read_timings(encode(decision)) == (37.0, 41.0)
    template = make_template(original_sample_transaction(), partitions=6)
    assert read_timings(render(template, "bench-x-9", 1_790_000_000.0)) is None
    assert read_timings(b'{"fd":{"proc_time":12}}') is None


def test_messages_without_a_stamp_are_not_ours() -> None:
    assert read_stamp(b'{"hello": "world"}') is None
    assert read_stamp(json.dumps({"event_id": "a", "event_time": "2026-01-01T00:00:00"}
                                 ).replace(" ", "").encode()) is not None


def test_sequence_numbers_only_come_from_our_own_ids() -> None:
    assert seq_of(event_id("bench-run-pipe", 12), "bench-run-pipe") == 12
    assert seq_of("bench-run-null-12", "bench-run-pipe") is None
    assert seq_of("bench-run-pipe-x", "bench-run-pipe") is None


def test_iso_utc_keeps_microseconds() -> None:
    assert iso_utc(0.000001) == "1970-01-01T00:00:00.000001Z"


def test_partitions_follow_the_key_and_stay_in_range() -> None:
    a = kafka_partition(b"customer-1", 6)

    assert a == kafka_partition(b"customer-1", 6)
    assert all(0 <= kafka_partition(f"c-{i}".encode(), 6) < 6 for i in range(100))


def test_pool_round_trip(tmp_path: Path) -> None:
    events = [original_sample_transaction(event_id=f"e{i}") for i in range(3)]
    path = tmp_path / "pool.jsonl"

    write_pool(path, events)

    assert read_pool(path) == events


def _decision(outcome: str, n: int) -> bytes:
    return json.dumps({"event_id": f"ev-{n}", "amount": n,
                       "fd": {"outcome": outcome, "reasons": ["r"]}}).encode()


def test_an_alert_burst_blocks_exactly_one_in_every_and_changes_nothing_else() -> None:
    outcomes = ["approve", "block", "review", "approve", "block", "approve", "review"]
    values = [_decision(o, n) for n, o in enumerate(outcomes)]
    burst = [json.loads(v) for v in as_alert_burst(values, every=3)]
    assert [d["fd"]["outcome"] for d in burst] == [
        "block", "review", "review", "block", "review", "approve", "block"]
    for before, after in zip(values, burst, strict=True):
        original = json.loads(before)
        assert {**after, "fd": {**after["fd"], "outcome": None}} == \
            {**original, "fd": {**original["fd"], "outcome": None}}


def test_an_alert_burst_needs_a_positive_period() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        as_alert_burst([_decision("approve", 0)], every=0)
