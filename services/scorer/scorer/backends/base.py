"""What every scoring backend takes and returns, and the protocol it implements.

A backend scores a whole poll batch at once: the embedded model, Amazon Fraud
Detector (one call per transaction) or a SageMaker endpoint (one call per
chunk of rows). The scorer's own rules and explanations are applied on top by
the caller; a backend only reports what it computed or was told.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from fraudstream_shared.events import Outcome, Transaction

SEVERITY = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.BLOCK: 2}
"""Order of outcomes: the most severe one wins when several apply."""


@dataclass(frozen=True)
class BackendInput:
    """One validated transaction and the embedded feature vector computed for it.

    ``features`` is in the order of ``feature_names`` (the model's training
    order); ``NaN`` means missing. Remote models that take a vector (SageMaker)
    receive exactly these values.
    """

    transaction: Transaction
    features: Sequence[float] = ()
    feature_names: Sequence[str] = ()


@dataclass(frozen=True)
class BackendResult:
    """What a backend decided or computed for one transaction.

    ``model_scores`` are 0–1000; ``rule_results`` holds every rule result the
    backend returned (rule id → outcomes); ``outcome`` is the backend's own
    decision (``None`` for a pure model); ``fallback`` is True when the result
    came from the fallback because the backend could not be used.
    """

    model_scores: dict[str, int]
    rule_results: dict[str, list[Outcome]]
    outcome: Outcome | None
    model_version: str
    detector_version: str
    reasons: list[str] = field(default_factory=list)
    fallback: bool = False


@runtime_checkable
class ScoringBackend(Protocol):
    """A source of scores and decisions for batches of transactions."""

    @property
    def name(self) -> str:
        """Short name used in logs, metrics and reasons (``frauddetector``…)."""
        ...

    async def start(self) -> None:
        """Create clients or load models; called once before the first batch."""
        ...

    async def close(self) -> None:
        """Release what :meth:`start` created; safe to call more than once."""
        ...

    async def check(self) -> str | None:
        """Readiness: ``None`` when usable, otherwise what is wrong."""
        ...

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        """One result per item, in the same order; never fewer."""
        ...


def most_severe(outcomes: Sequence[Outcome]) -> Outcome:
    """The most severe of ``outcomes`` (block > review > approve); approve when empty."""
    return max(outcomes, key=SEVERITY.__getitem__, default=Outcome.APPROVE)


def clamp_score(value: float) -> int:
    """Round to an integer score and keep it within 0–1000."""
    return min(1000, max(0, round(value)))


class FixedOutcomeBackend:
    """A fallback that answers the same outcome for everything, with no model.

    Used when the remote backend is unavailable and no embedded model is
    configured as the fallback; ``review`` by default so that nothing is
    approved or blocked blindly.
    """

    name = "fixed"

    def __init__(self, outcome: Outcome = Outcome.REVIEW) -> None:
        self.outcome = outcome

    async def start(self) -> None:
        """Nothing to start."""

    async def close(self) -> None:
        """Nothing to close."""

    async def check(self) -> str | None:
        """Always ready."""
        return None

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        """The fixed outcome for each item."""
        return [
            BackendResult(
                model_scores={},
                rule_results={},
                outcome=self.outcome,
                model_version="none",
                detector_version=f"fixed-{self.outcome.value}",
                reasons=[f"fixed outcome {self.outcome.value}"],
            )
            for _ in items
        ]
