"""The ``processed_transactions`` contract: a transaction and its decision.

The value is the input transaction's fields plus an ``fd`` object — the name
the original sample used, kept so that its consumer and dashboards still work.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraudstream_shared.events.transaction import Transaction, parse_utc


class Outcome(StrEnum):
    """What to do with a transaction, lower-case as in the original sample."""

    APPROVE = "approve"
    REVIEW = "review"
    BLOCK = "block"


class Contribution(BaseModel):
    """One feature's signed contribution to the model score (log-odds)."""

    model_config = ConfigDict(frozen=True)

    feature: str
    value: float | None = None
    contribution: float


class FraudDecision(BaseModel):
    """The ``fd`` object: outcome, scores, rule results, explanations and timings.

    Timings are milliseconds. ``proc_time`` and ``ttdf`` are measured from the
    event's ``event_time`` (as in the original): until scoring started and until
    the decision was made. ``scorer_time`` is the time spent inside the scorer;
    ``frauddetector_time`` (= ``ttdf - proc_time``) is kept for the original
    dashboard's panel.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    outcome: Outcome
    model_scores: dict[str, int] = Field(
        default_factory=dict, description="Model name → score from 0 to 1000."
    )
    rule_results: dict[str, list[Outcome]] = Field(
        default_factory=dict,
        description="Rule id → the outcomes of that rule when it matched ([] when it did not).",
    )
    model_version: str
    detector_version: str
    reasons: list[str] = Field(default_factory=list, description="Human-readable reasons.")
    contributions: list[Contribution] = Field(
        default_factory=list, description="Top features with signed contributions."
    )
    features: dict[str, float | None] | None = Field(
        None,
        description="Every feature the model saw (only when the scorer is asked to emit them).",
    )
    proc_time: int
    ttdf: int
    scorer_time: float
    frauddetector_time: int
    scored_at: datetime

    @field_validator("scored_at", mode="before")
    @classmethod
    def _scored_at_utc(cls, value: Any) -> Any:
        return parse_utc(value)


class ProcessedTransaction(Transaction):
    """A transaction as published on ``processed_transactions``."""

    fd: FraudDecision
