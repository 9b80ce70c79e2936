"""The scorer engine's per-event code as it was before the fast paths (commit 2a98c30).

Kept verbatim (apart from the clock, which is passed in) so that tests can prove
the optimised :class:`scorer.engine.Engine` decides, explains and encodes every
transaction exactly as this did. Not used by the service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fraudstream_shared.events import FraudDecision, Outcome, ProcessedTransaction, Transaction
from scorer.engine import PRIMARY_MODEL, Engine
from scorer.features import FEATURE_NAMES
from scorer.features.native import AnyFeatureStore
from scorer.features.store import TxEvent
from scorer.ruleset import SEVERITY, DecidedBy, ExecutionMode, ListHit, ListKind, RuleSet
from scorer.ruleset.evaluate import RuleMatch, RuleSetResult

ENTITY_VIEWS = {"cust": "customer", "card": "card", "merch": "merchant", "ip": "ip"}
RENAMES = {"cnt": "count", "amt_ratio_30d": "amount_ratio_30d", "amt_z_30d": "amount_z_30d",
           "fraud_cnt": "fraud_count"}
TOP_REASONS = 3


def rule_view(tx: Transaction, features: Mapping[str, float],
              scores: Mapping[str, int]) -> dict[str, Any]:
    """The old ``scorer.engine.rule_view``."""
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


def evaluate(rule_set: RuleSet, row: Mapping[str, object], now: datetime) -> RuleSetResult:
    """The old ``scorer.ruleset.evaluate._evaluate``."""
    hits: list[ListHit] = []
    for named in rule_set.lists:
        entry = named.lookup(named.get_field(row, now), now)
        if entry is not None:
            hits.append(ListHit(named.name, named.kind, named.field, entry.reason_code))
    if hits:
        blocked = any(hit.kind is ListKind.BLOCK for hit in hits)
        return RuleSetResult(
            Outcome.BLOCK if blocked else Outcome.APPROVE, {}, (), tuple(hits),
            rule_set.version, DecidedBy.BLOCK_LIST if blocked else DecidedBy.ALLOW_LIST)

    results: dict[str, list[Outcome]] = {}
    matched: list[RuleMatch] = []
    outcome = Outcome.APPROVE
    first_only = rule_set.mode is ExecutionMode.FIRST_MATCHED
    for rule in rule_set.active_rules:
        if rule.condition.evaluate(row, now) is not True:
            results[rule.rule_id] = []
            continue
        results[rule.rule_id] = [rule.outcome]
        matched.append(RuleMatch(rule.rule_id, rule.outcome, rule.render_reason(row, now)))
        if first_only:
            outcome = rule.outcome
            break
        if SEVERITY[rule.outcome] > SEVERITY[outcome]:
            outcome = rule.outcome
    return RuleSetResult(outcome, results, tuple(matched), (), rule_set.version,
                         DecidedBy.RULES if matched else DecidedBy.DEFAULT)


def _ms(later: datetime, earlier: datetime) -> int:
    return round((later - earlier).total_seconds() * 1000)


def _fmt(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"


def decision(engine: Engine, tx: Transaction, scores: dict[str, int], explanation: list[Any],
             result: RuleSetResult, rules_version: str, started: datetime, decided: datetime,
             features: Mapping[str, float] | None = None) -> ProcessedTransaction:
    """The old ``Engine._decision`` without a remote backend."""
    reasons = list(result.reasons)
    reasons += [f"{c.feature}={_fmt(c.value)} ({c.contribution:+.2f})"
                for c in explanation[:TOP_REASONS] if c.contribution > 0]
    proc_time = _ms(started, tx.event_time)
    ttdf = _ms(decided, tx.event_time)
    fd = FraudDecision(
        outcome=result.outcome,
        model_scores=scores,
        rule_results=dict(result.rule_results),
        model_version=engine.model.version,
        detector_version=rules_version,
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


def decide_batch(engine: Engine, txs: Sequence[Transaction], store: AnyFeatureStore,
                 started: datetime, now: datetime) -> list[ProcessedTransaction]:
    """The old ``Engine.decide_batch`` (embedded model only) with ``now`` as its clock."""
    if not txs:
        return []
    rows = []
    for tx in txs:
        event = TxEvent.of(tx)
        features = dict(zip(FEATURE_NAMES, store.served_rows([event], engine.labels)[0].tolist(),
                            strict=True))
        rows.append(features)
    matrix = engine.model.vectorize(rows)
    scores, contributions = engine.model.predict_batch(matrix)
    all_scores = [{PRIMARY_MODEL: s} for s in scores]
    rule_set = engine.rules.current
    results = [evaluate(rule_set, rule_view(tx, f, s), now)
               for tx, f, s in zip(txs, rows, all_scores, strict=True)]
    return [decision(engine, tx, s, explanation, result, rule_set.version, started, now,
                     features if engine.emit_features else None)
            for tx, s, explanation, result, features in zip(
                txs, all_scores, contributions, results, rows, strict=True)]
