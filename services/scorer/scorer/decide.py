"""Turn a transaction into a decision: model, rules, explanations and timings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fraudstream_shared.events import (
    Contribution,
    FraudDecision,
    ProcessedTransaction,
    Transaction,
)
from scorer import model
from scorer.rules import Rule, evaluate

DETECTOR_VERSION = "rules-1"
TOP_CONTRIBUTIONS = 3


@dataclass(frozen=True)
class Clock:
    """Wall-clock instants of one batch, for the timings the original reported."""

    scoring_started: datetime
    decided: datetime


def _ms(later: datetime, earlier: datetime) -> int:
    return round((later - earlier).total_seconds() * 1000)


def decide(tx: Transaction, rules: list[Rule], clock: Clock) -> ProcessedTransaction:
    """Score ``tx`` and apply ``rules``; the result carries every rule's outcome and why."""
    inputs = model.signals(tx)
    score = model.score(inputs)
    evaluation = evaluate(rules, tx, score)
    top = sorted(inputs, key=lambda s: abs(s.contribution), reverse=True)[:TOP_CONTRIBUTIONS]
    reasons = list(evaluation.reasons)
    reasons += [f"{s.name}={s.value:g} ({s.contribution:+.2f})" for s in top
                if s.contribution > 0]
    proc_time = _ms(clock.scoring_started, tx.event_time)
    ttdf = _ms(clock.decided, tx.event_time)
    fd = FraudDecision(
        outcome=evaluation.outcome,
        model_scores={model.MODEL_NAME: score},
        rule_results=evaluation.results,
        model_version=model.MODEL_VERSION,
        detector_version=DETECTOR_VERSION,
        reasons=reasons,
        contributions=[Contribution(feature=s.name, value=s.value,
                                    contribution=round(s.contribution, 4)) for s in top],
        proc_time=proc_time,
        ttdf=ttdf,
        scorer_time=round((clock.decided - clock.scoring_started).total_seconds() * 1000, 3),
        frauddetector_time=ttdf - proc_time,
        scored_at=clock.decided,
    )
    return ProcessedTransaction(**tx.model_dump(), fd=fd)
