"""The alert's wording and which decisions get one."""

from __future__ import annotations

import pytest

from fraudstream_shared.events import Outcome
from notifier.alerts import ALERT_SUBJECT, MAX_REASONS, format_alert, is_alert, one_line
from tests.unit.test_notifier.decisions import decision


def test_subject_is_the_originals() -> None:
    assert format_alert(decision()).subject == "FRAUD ALERT: Transaction has been flagged!"
    assert ALERT_SUBJECT == "FRAUD ALERT: Transaction has been flagged!"


def test_body_has_every_field_of_the_original_plus_scores_and_reasons() -> None:
    d = decision(event_id="ev-42", entity_id="123-45-6789", transaction_amt=1234,
                 transaction_currency="usd", event_time="2021-12-01T10:20:30.123456")
    alert = format_alert(d)
    lines = alert.body.splitlines()
    assert "has been flagged" in lines[0]
    assert "TransactionID: ev-42" in lines
    assert "Outcome: block" in lines
    assert "Timestamp: 2021-12-01T10:20:30.123456+00:00" in lines
    assert "EntityID: 123-45-6789" in lines
    assert "Amount: 1234.00 USD" in lines
    assert "Model scores (0-1000): fraud_model=912" in lines
    assert "  - model score 912 >= 900" in lines
    assert lines[-1] == "Please review transaction."
    assert alert.event_id == "ev-42"


def test_body_carries_no_other_personal_data() -> None:
    d = decision()
    body = format_alert(d).body
    for value in (d.email_address, d.customer_name, d.phone, d.card_bin, d.billing_street,
                  d.ip_address, d.billing_city):
        assert value is not None
        assert value not in body


def test_reasons_are_capped_and_single_line() -> None:
    reasons = [f"reason {i}\nForged: line" for i in range(MAX_REASONS + 3)]
    body = format_alert(decision(fd={"reasons": reasons})).body
    assert body.count("  - reason") == MAX_REASONS
    assert "\nForged: line" not in body


def test_no_scores_or_reasons_lines_when_the_decision_has_none() -> None:
    body = format_alert(decision(fd={"reasons": [], "model_scores": {}})).body
    assert "Model scores" not in body
    assert "Reasons:" not in body


def test_identifiers_cannot_inject_lines() -> None:
    body = format_alert(decision(event_id="ev-1\nOutcome: approve")).body
    assert "\nOutcome: approve" not in body
    assert one_line("a\r\n\tb") == "a b"


@pytest.mark.parametrize(
    ("outcome", "alerting", "expected"),
    [
        ("block", {Outcome.BLOCK}, True),
        ("approve", {Outcome.BLOCK}, False),
        ("review", {Outcome.BLOCK}, False),
        ("review", {Outcome.BLOCK, Outcome.REVIEW}, True),
    ],
)
def test_is_alert_filters_by_outcome(outcome: str, alerting: set[Outcome], expected: bool) -> None:
    assert is_alert(Outcome(outcome), alerting) is expected
