"""The outcome screen: only ``fd.outcome`` is read, poison is named as the codec names it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fraudstream_shared.events import MAX_VALUE_BYTES, Outcome, ProcessedTransaction, decode
from fraudstream_shared.exceptions import PoisonMessageError
from notifier.screen import read_outcome, screen
from tests.unit.test_notifier.decisions import decision_payload

BLOCK_ONLY = frozenset({Outcome.BLOCK})


def as_bytes(payload: Any) -> bytes:
    return json.dumps(payload).encode("utf-8")


def poison_reason(value: bytes | None) -> str:
    with pytest.raises(PoisonMessageError) as caught:
        read_outcome(value)
    return caught.value.reason


@pytest.mark.parametrize("outcome", list(Outcome))
def test_read_outcome_reads_each_outcome_of_a_valid_decision(outcome: Outcome) -> None:
    assert read_outcome(as_bytes(decision_payload(outcome.value))) is outcome


def test_read_outcome_ignores_everything_but_the_outcome() -> None:
    broken = decision_payload("approve", transaction_amt="not a number")
    del broken["event_id"]
    broken["fd"]["scored_at"] = "yesterday"

    assert read_outcome(as_bytes(broken)) is Outcome.APPROVE
    assert read_outcome(b'{"fd": {"outcome": "review"}}') is Outcome.REVIEW


def test_read_outcome_takes_the_last_of_duplicate_keys_like_the_full_decode() -> None:
    payload = decision_payload("approve")
    text = json.dumps(payload)
    # A second "fd" after the first: both parsers keep the last one.
    value = (text[:-1] + ', "fd": ' + json.dumps({**payload["fd"], "outcome": "block"}) + "}")
    encoded = value.encode()

    assert read_outcome(encoded) is Outcome.BLOCK
    assert decode(ProcessedTransaction, encoded).fd.outcome is Outcome.BLOCK


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty_value"),
        (b"", "empty_value"),
        (b"\xff\xfe{}", "invalid_utf8"),
        (b'{"fd": {"outcome": "block"', "invalid_json"),
        (b"not json at all", "invalid_json"),
        (b'["fd", "block"]', "not_an_object"),
        (b'"block"', "not_an_object"),
    ],
)
def test_unreadable_values_get_the_codecs_reason(value: bytes | None, reason: str) -> None:
    assert poison_reason(value) == reason
    # The same reason the full decode gives them: the notifier's dead letters keep their codes.
    with pytest.raises(PoisonMessageError) as full:
        decode(ProcessedTransaction, value)
    assert full.value.reason == reason


def test_an_oversized_value_is_refused_unparsed() -> None:
    value = as_bytes({"fd": {"outcome": "approve"}, "padding": "x" * MAX_VALUE_BYTES})

    assert poison_reason(value) == "oversized"


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        ({}, "fd"),
        ({"fd": "block"}, "fd"),
        ({"fd": {}}, "fd.outcome"),
        ({"fd": {"outcome": None}}, "fd.outcome"),
        ({"fd": {"outcome": "maybe"}}, "fd.outcome"),
        ({"fd": {"outcome": "BLOCK"}}, "fd.outcome"),
    ],
)
def test_a_missing_or_unknown_outcome_is_a_schema_violation(payload: Any, where: str) -> None:
    with pytest.raises(PoisonMessageError) as caught:
        read_outcome(as_bytes(payload))

    assert caught.value.reason == "schema_violation"
    assert caught.value.detail.startswith(f"{where}:")


def test_screen_does_not_decode_a_decision_that_is_not_an_alert() -> None:
    assert screen(as_bytes(decision_payload("review")), BLOCK_ONLY) == (Outcome.REVIEW, None)


def test_screen_decodes_an_alert_in_full() -> None:
    payload = decision_payload("block", event_id="ev-7")

    outcome, decision = screen(as_bytes(payload), BLOCK_ONLY)

    assert outcome is Outcome.BLOCK
    assert isinstance(decision, ProcessedTransaction)
    assert decision.event_id == "ev-7"
    assert decision == ProcessedTransaction.model_validate(payload)


def test_screen_alerts_on_every_outcome_of_the_alert_set() -> None:
    both = frozenset({Outcome.BLOCK, Outcome.REVIEW})

    outcome, decision = screen(as_bytes(decision_payload("review")), both)

    assert outcome is Outcome.REVIEW
    assert decision is not None
    assert decision.fd.outcome is Outcome.REVIEW


def test_an_alert_that_fails_the_full_contract_is_poison() -> None:
    broken = decision_payload("block", transaction_amt="not a number")

    with pytest.raises(PoisonMessageError) as caught:
        screen(as_bytes(broken), BLOCK_ONLY)

    assert caught.value.reason == "schema_violation"
    assert "transaction_amt" in caught.value.detail


def test_a_non_alert_that_fails_the_full_contract_is_only_counted() -> None:
    # The documented trade-off: the notifier reads the outcome alone; the
    # indexer, which decodes every decision in full, dead-letters this one.
    broken = decision_payload("approve", transaction_amt="not a number")

    assert screen(as_bytes(broken), BLOCK_ONLY) == (Outcome.APPROVE, None)
