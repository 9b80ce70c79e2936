"""The first scorer: model scores, rule outcomes, explanations and timings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from fraudstream_shared.events import Outcome, Transaction, decode
from scorer.decide import Clock, decide
from scorer.model import MODEL_NAME
from scorer.rules import default_rules, evaluate
from tests.support.factories import original_sample_transaction

RULES = default_rules(block_score=900, review_score=700, large_amount=5000)


def _tx(**overrides: object) -> Transaction:
    return decode(Transaction, json.dumps(original_sample_transaction(**overrides)).encode())


def test_small_daytime_purchase_is_approved_with_every_rule_traced() -> None:
    tx = _tx(transaction_amt=12, product_category="grocery_pos",
             event_time="2026-11-25T14:00:00")
    now = datetime(2026, 11, 25, 14, 0, 1, tzinfo=UTC)
    decided = decide(tx, RULES, Clock(now, now + timedelta(milliseconds=3)))
    assert decided.fd.outcome is Outcome.APPROVE
    assert set(decided.fd.rule_results) == {r.rule_id for r in RULES}
    assert all(outcomes == [] for outcomes in decided.fd.rule_results.values())
    assert 0 <= decided.fd.model_scores[MODEL_NAME] < 700
    assert decided.fd.proc_time == 1000
    assert decided.fd.ttdf == 1003
    assert decided.fd.frauddetector_time == 3
    assert decided.fd.scorer_time == 3.0
    assert decided.event_id == tx.event_id


def test_large_online_night_foreign_purchase_is_blocked_with_reasons() -> None:
    tx = _tx(transaction_amt=9000, product_category="shopping_net", transaction_currency="egp",
             event_time="2026-11-25T03:00:00")
    now = datetime(2026, 11, 25, 3, 0, 1, tzinfo=UTC)
    decided = decide(tx, RULES, Clock(now, now))
    assert decided.fd.model_scores[MODEL_NAME] >= 900
    assert decided.fd.outcome is Outcome.BLOCK
    assert decided.fd.rule_results["block_high_score"] == [Outcome.BLOCK]
    assert decided.fd.rule_results["review_large_amount"] == [Outcome.REVIEW]
    assert any(r.startswith("block_high_score") for r in decided.fd.reasons)
    assert decided.fd.contributions[0].feature == "log_amount"
    assert decided.fd.contributions[0].contribution > 0


def test_most_severe_matched_outcome_wins() -> None:
    tx = _tx(transaction_amt=6000)
    assert evaluate(RULES, tx, 100).outcome is Outcome.REVIEW
    assert evaluate(RULES, tx, 950).outcome is Outcome.BLOCK
    assert evaluate(RULES, _tx(transaction_amt=10), 750).outcome is Outcome.REVIEW
