"""The scoring engine: features → model → rules → a decision with its explanations.

Pure apart from the clock: given transactions in arrival order and the feature
store of their partition, it returns one :class:`ProcessedTransaction` each.
Merchant risk comes from a separate label store shared by all partitions: the
labels topic is read whole by every scorer instance (labels are few), whereas
the per-customer and per-card state lives with its input partition.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraudstream_shared.events import (
    FraudDecision,
    ProcessedTransaction,
    Transaction,
    TransactionLabel,
)
from scorer.backends import (
    BackendInput,
    BackendResult,
    BackendSettings,
    ScoringBackend,
    build_backend,
)
from scorer.backends.base import most_severe
from scorer.features import FEATURE_NAMES, FeatureStore, served_row
from scorer.features.store import TxEvent
from scorer.model import Model
from scorer.ruleset import RuleSetLoader, RuleSetResult, evaluate_batch

PRIMARY_MODEL = "fraudstream"
"""The embedded model's key in ``fd.model_scores`` and in rules (``model.fraudstream``)."""

ENTITY_VIEWS = {"cust": "customer", "card": "card", "merch": "merchant", "ip": "ip"}
RENAMES = {"cnt": "count", "amt_ratio_30d": "amount_ratio_30d", "amt_z_30d": "amount_z_30d",
           "fraud_cnt": "fraud_count"}
TOP_REASONS = 3


def rule_view(tx: Transaction, features: Mapping[str, float],
              scores: Mapping[str, int]) -> dict[str, Any]:
    """The variables a rule can use: event fields, ``<entity>.<feature>`` and ``model.*``.

    Feature ``cust_cnt_1h`` is ``customer.count_1h``; NaN (unknown) becomes null;
    ``scores`` are the model scores by name (``model.fraudstream``, and a remote
    backend's models when one is configured).
    """
    row: dict[str, Any] = tx.model_dump()
    nested: dict[str, dict[str, Any]] = {view: {} for view in ENTITY_VIEWS.values()}
    for name, value in features.items():
        prefix, _, rest = name.partition("_")
        view = ENTITY_VIEWS.get(prefix)
        clean = None if isinstance(value, float) and math.isnan(value) else value
        if view is None:
            row[name] = clean
            continue
        for old, new in RENAMES.items():
            if rest.startswith(old):
                rest = new + rest[len(old):]
                break
        nested[view][rest] = clean
    row.update(nested)
    row["model"] = dict(scores)
    return row


class EmbeddedBackend:
    """The embedded model as a :class:`ScoringBackend` (the remote backends' fallback)."""

    name = "embedded"

    def __init__(self, model: Model) -> None:
        self.model = model

    async def start(self) -> None:
        """Nothing to connect."""

    async def close(self) -> None:
        """Nothing to release."""

    async def check(self) -> str | None:
        """Always ready once loaded."""
        return None

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        """Score the items' feature vectors with the embedded model."""
        rows = [dict(zip(item.feature_names, item.features, strict=True)) for item in items]
        scores = self.model.scores(self.model.vectorize(rows))
        return [BackendResult(model_scores={PRIMARY_MODEL: score}, rule_results={},
                              outcome=None, model_version=self.model.version,
                              detector_version="embedded") for score in scores]


@dataclass(frozen=True)
class ScoredBatch:
    """The decisions of one batch, in input order."""

    decisions: list[ProcessedTransaction]


def _ms(later: datetime, earlier: datetime) -> int:
    return round((later - earlier).total_seconds() * 1000)


class Engine:
    """Holds the model, the hot-reloaded rules and the label store."""

    transaction_model = Transaction

    def __init__(self, model: Model, rules: RuleSetLoader, *, lateness_s: float,
                 ttl_s: float, backend: BackendSettings | None = None,
                 emit_features: bool = False) -> None:
        self.model = model
        self.rules = rules
        self.embedded = EmbeddedBackend(model)
        self.emit_features = emit_features
        # A remote backend (Fraud Detector, SageMaker) scores in addition to the
        # embedded model; None when the embedded model is the backend.
        remote = build_backend(backend, self.embedded) if backend is not None else None
        self.remote: ScoringBackend | None = None if remote is self.embedded else remote
        self._lateness_s = lateness_s
        self._ttl_s = ttl_s
        self.labels = FeatureStore(lateness_s=lateness_s, ttl_s=ttl_s)

    @classmethod
    def from_settings(cls, settings: Any) -> Engine:
        """Load the model and the rule set named by the scorer's settings (fail fast)."""
        model = Model.load(Path(settings.scorer_model_path))
        rules = RuleSetLoader(Path(settings.scorer_rules_path),
                              min_interval=settings.scorer_rules_reload_s)
        return cls(model, rules, lateness_s=settings.scorer_lateness_s,
                   ttl_s=settings.scorer_state_ttl_s,
                   backend=BackendSettings.from_fields(settings),
                   emit_features=settings.scorer_emit_features)

    def new_store(self) -> FeatureStore:
        """An empty per-partition store with the configured lateness and expiry."""
        return FeatureStore(lateness_s=self._lateness_s, ttl_s=self._ttl_s)

    def remember_label(self, label: TransactionLabel) -> None:
        """Count an arrived label in merchant risk (from its ``labelled_at`` on)."""
        self.labels.apply_label(label)

    async def start(self) -> None:
        """Connect the remote backend, if any."""
        if self.remote is not None:
            await self.remote.start()

    async def close(self) -> None:
        """Release the remote backend, if any."""
        if self.remote is not None:
            await self.remote.close()

    async def problem(self) -> str | None:
        """Readiness: ``None`` while the model and rules are loaded and the backend is usable."""
        if self.remote is not None:
            return await self.remote.check()
        return None

    async def decide_batch(self, txs: Sequence[Transaction], store: FeatureStore,
                           started: datetime) -> ScoredBatch:
        """Decide ``txs`` (one partition, arrival order), updating ``store`` as it goes."""
        self.rules.maybe_reload(time.monotonic())
        if not txs:
            return ScoredBatch([])
        rows = []
        for tx in txs:
            event = TxEvent.of(tx)
            # The partition's transaction state, merchant risk from every label.
            features = dict(zip(FEATURE_NAMES, served_row(store, self.labels, event),
                                strict=True))
            store.update(event)
            rows.append(features)
        matrix = self.model.vectorize(rows)
        scores, contributions = self.model.predict_batch(matrix)
        remote = await self._remote(txs, rows)
        all_scores = [{PRIMARY_MODEL: s, **(r.model_scores if r else {})}
                      for s, r in zip(scores, remote, strict=True)]
        rule_set = self.rules.current
        results = evaluate_batch(
            rule_set,
            [rule_view(tx, f, s) for tx, f, s in zip(txs, rows, all_scores, strict=True)],
            datetime.now(UTC))
        decided = datetime.now(UTC)
        decisions = [
            self._decision(tx, s, explanation, result, r, rule_set.version, started, decided,
                           features if self.emit_features else None)
            for tx, s, explanation, result, r, features in zip(
                txs, all_scores, contributions, results, remote, rows, strict=True)
        ]
        return ScoredBatch(decisions)

    async def _remote(self, txs: Sequence[Transaction], rows: Sequence[Mapping[str, float]]
                      ) -> list[BackendResult | None]:
        if self.remote is None:
            return [None] * len(txs)
        names = tuple(FEATURE_NAMES)
        items = [BackendInput(tx, tuple(row[n] for n in names), names)
                 for tx, row in zip(txs, rows, strict=True)]
        return list(await self.remote.score_batch(items))

    def _decision(self, tx: Transaction, scores: dict[str, int], explanation: list[Any],
                  result: RuleSetResult, remote: BackendResult | None, rules_version: str,
                  started: datetime, decided: datetime,
                  features: Mapping[str, float] | None = None) -> ProcessedTransaction:
        reasons = list(result.reasons)
        outcome = result.outcome
        rule_results = dict(result.rule_results)
        detector_version = rules_version
        if remote is not None:
            # Keep every rule result of the remote detector, namespaced, and let
            # the more severe of its outcome and ours decide.
            rule_results.update({f"{self.remote.name if self.remote else 'remote'}.{rid}": outs
                                 for rid, outs in remote.rule_results.items()})
            if remote.outcome is not None:
                outcome = most_severe([outcome, remote.outcome])
            reasons += remote.reasons
            detector_version = f"{rules_version}+{remote.detector_version}"
        reasons += [f"{c.feature}={_fmt(c.value)} ({c.contribution:+.2f})"
                    for c in explanation[:TOP_REASONS] if c.contribution > 0]
        proc_time = _ms(started, tx.event_time)
        ttdf = _ms(decided, tx.event_time)
        fd = FraudDecision(
            outcome=outcome,
            model_scores=scores,
            rule_results=rule_results,
            model_version=self.model.version,
            detector_version=detector_version,
            reasons=reasons,
            contributions=explanation,
            features=None if features is None else {
                k: None if math.isnan(v) else v for k, v in features.items()},
            proc_time=proc_time,
            ttdf=ttdf,
            scorer_time=round((decided - started).total_seconds() * 1000, 3),
            frauddetector_time=ttdf - proc_time,
            scored_at=decided,
        )
        return ProcessedTransaction(**tx.model_dump(), fd=fd)


def _fmt(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"
