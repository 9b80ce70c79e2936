"""The event contracts: what they accept, what they reject, how they serialise."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fraudstream_shared.events import (
    FraudDecision,
    Outcome,
    ProcessedTransaction,
    Transaction,
    decode,
    encode,
)
from fraudstream_shared.events.transaction import parse_utc
from fraudstream_shared.exceptions import PoisonMessageError
from tests.support.factories import original_sample_transaction


def _bytes(event: dict[str, object]) -> bytes:
    return json.dumps(event).encode()


def test_original_sample_message_is_accepted_and_normalised() -> None:
    raw = original_sample_transaction(transaction_currency="USD")
    tx = decode(Transaction, _bytes(raw))
    assert tx.transaction_amt == 1234
    assert tx.transaction_currency == "usd"
    assert tx.event_time.tzinfo is UTC
    assert tx.billing_latitude == pytest.approx(39.78)
    assert tx.billing_zip == "6270"
    assert tx.merchant_id is None


@pytest.mark.parametrize(
    ("event_time", "expected"),
    [
        ("2021-12-01T10:11:12", datetime(2021, 12, 1, 10, 11, 12, tzinfo=UTC)),
        ("2021-12-01T10:11:12.000123", datetime(2021, 12, 1, 10, 11, 12, 123, tzinfo=UTC)),
        ("2021-12-01T10:11:12Z", datetime(2021, 12, 1, 10, 11, 12, tzinfo=UTC)),
        ("2021-12-01T12:11:12+02:00", datetime(2021, 12, 1, 10, 11, 12, tzinfo=UTC)),
    ],
)
def test_timestamps_with_and_without_zone_or_microseconds(
    event_time: str, expected: datetime
) -> None:
    tx = decode(Transaction, _bytes(original_sample_transaction(event_time=event_time)))
    assert tx.event_time == expected


def _reference_parse_utc(value: Any) -> Any:
    """What ``parse_utc`` did before its fast path: strip, ``Z`` → ``+00:00``, parse."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            value = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}") from exc
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


_ZONES = st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+02:00", "-05:30", "+0100", " "])
_TIMESTAMPS = st.one_of(
    st.builds(lambda when, fraction, zone, pad: f"{pad}{when.isoformat(sep=fraction[0])}"
              f"{fraction[1:]}{zone}{pad}",
              st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
              st.sampled_from(["T", " ", "T.5", "T.123", "T.1234567"]), _ZONES,
              st.sampled_from(["", " ", "\t"])),
    st.text(max_size=40),
    st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=-3))])),
    st.integers(), st.none())


def _outcome(parse: Any, value: Any) -> tuple[Any, ...]:
    try:
        got = parse(value)
    except ValueError as exc:
        return ("refused", str(exc))
    return ("parsed", got, type(got), getattr(got, "tzinfo", None))


@given(_TIMESTAMPS)
def test_parse_utc_is_the_reference_parsing(value: Any) -> None:
    assert _outcome(parse_utc, value) == _outcome(_reference_parse_utc, value)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "empty_value"),
        (b"\xff\xfe{", "invalid_utf8"),
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b"x" * (1024 * 1024 + 1), "oversized"),
    ],
)
def test_undecodable_bytes_are_poison_with_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(PoisonMessageError) as info:
        decode(Transaction, payload)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": None},
        {"transaction_amt": -1},
        {"transaction_amt": "12.50"},
        {"transaction_amt": True},
        {"transaction_amt": 1e300},
        {"transaction_currency": "dollars"},
        {"event_time": "yesterday"},
        {"email_address": 42},
        {"billing_latitude": "north"},
    ],
)
def test_schema_violations_are_poison_and_name_the_field(change: dict[str, object]) -> None:
    event = original_sample_transaction(**change)
    with pytest.raises(PoisonMessageError) as info:
        decode(Transaction, _bytes(event))
    assert info.value.reason == "schema_violation"
    assert next(iter(change)) in info.value.detail


def test_non_finite_amount_is_rejected() -> None:
    text = json.dumps(original_sample_transaction(transaction_amt=math.inf))
    assert "Infinity" in text
    with pytest.raises(PoisonMessageError) as info:
        decode(Transaction, text.encode())
    assert info.value.reason == "schema_violation"


@pytest.mark.parametrize("field", ["event_id", "event_time", "entity_id", "transaction_amt",
                                   "transaction_currency", "email_address", "ip_address"])
def test_each_mandatory_field_is_required(field: str) -> None:
    event = original_sample_transaction()
    del event[field]
    with pytest.raises(PoisonMessageError, match=field):
        decode(Transaction, _bytes(event))


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    tx = decode(Transaction, _bytes(original_sample_transaction(new_field_from_v2="x")))
    assert not hasattr(tx, "new_field_from_v2")


def test_processed_transaction_round_trips_with_fd_object() -> None:
    tx = decode(Transaction, _bytes(original_sample_transaction()))
    fd = FraudDecision(
        outcome=Outcome.BLOCK,
        model_scores={"fraudstream": 950},
        rule_results={"high_score": [Outcome.BLOCK], "large_amount": []},
        model_version="m1",
        detector_version="d1",
        reasons=["score 950 ≥ 900"],
        proc_time=10,
        ttdf=12,
        scorer_time=1.5,
        frauddetector_time=2,
        scored_at=datetime.now(UTC),
    )
    decided = ProcessedTransaction(**tx.model_dump(), fd=fd)
    raw = encode(decided)
    body = json.loads(raw)
    assert body["fd"]["outcome"] == "block"
    assert body["event_id"] == tx.event_id
    assert decode(ProcessedTransaction, raw) == decided
