"""The dead-letter envelope keeps the original bytes losslessly."""

from __future__ import annotations

import json

import pytest

from fraudstream_shared.events import DeadLetter, encode
from fraudstream_shared.events.topics import dead_letter_topic


@pytest.mark.parametrize(
    ("value", "encoding"),
    [(b'{"a": 1}', "utf-8"), (b"\xff\x00\xfe binary", "base64"), (None, None)],
)
def test_envelope_round_trips_original_bytes(value: bytes | None, encoding: str | None) -> None:
    envelope = DeadLetter.wrap(
        service="scorer", reason="invalid_json", error="Expecting value",
        topic="transactions", partition=3, offset=42, key=b"\xffkey", value=value,
    )
    assert envelope.value_encoding == encoding
    restored = DeadLetter.model_validate_json(encode(envelope))
    assert restored.original_value() == value
    assert restored.original_key() == b"\xffkey"
    assert restored.key_encoding == "base64"
    body = json.loads(encode(envelope))
    assert body["source_topic"] == "transactions"
    assert body["source_partition"] == 3
    assert body["source_offset"] == 42
    assert body["service"] == "scorer"
    assert "dead_lettered_at" in body


def test_dead_letter_topic_naming_rule() -> None:
    assert dead_letter_topic("transactions") == "transactions.dlq"
    assert dead_letter_topic("processed_transactions") == "processed_transactions.dlq"
