"""The first rule set: thresholds on the model score and the amount.

Every rule is evaluated (ALL_MATCHED); the decision is the most severe outcome
among the rules that matched, ``approve`` when none did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fraudstream_shared.events import Outcome, Transaction

SEVERITY = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.BLOCK: 2}


@dataclass(frozen=True)
class Rule:
    """A named condition and the outcome it asks for, with a reason template."""

    rule_id: str
    outcome: Outcome
    condition: Callable[[Transaction, int], bool]
    reason: str


def default_rules(block_score: int, review_score: int, large_amount: float) -> list[Rule]:
    """The starter rules, parameterised by the settings' thresholds."""
    return [
        Rule("block_high_score", Outcome.BLOCK, lambda tx, s: s >= block_score,
             f"model score at or above {block_score}"),
        Rule("review_elevated_score", Outcome.REVIEW,
             lambda tx, s: review_score <= s < block_score,
             f"model score between {review_score} and {block_score}"),
        Rule("review_large_amount", Outcome.REVIEW,
             lambda tx, s: tx.transaction_amt >= large_amount,
             f"amount at or above {large_amount:g}"),
    ]


@dataclass(frozen=True)
class RuleEvaluation:
    """The outcome and the per-rule trace for one transaction."""

    outcome: Outcome
    results: dict[str, list[Outcome]]
    reasons: list[str]


def evaluate(rules: list[Rule], tx: Transaction, model_score: int) -> RuleEvaluation:
    """Evaluate every rule; the most severe matched outcome wins."""
    outcome = Outcome.APPROVE
    results: dict[str, list[Outcome]] = {}
    reasons: list[str] = []
    for rule in rules:
        matched = rule.condition(tx, model_score)
        results[rule.rule_id] = [rule.outcome] if matched else []
        if matched:
            reasons.append(f"{rule.rule_id}: {rule.reason}")
            if SEVERITY[rule.outcome] > SEVERITY[outcome]:
                outcome = rule.outcome
    return RuleEvaluation(outcome, results, reasons)
