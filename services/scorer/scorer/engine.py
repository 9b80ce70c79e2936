"""The scoring engine: features → model → rules → a decision with its explanations.

Pure apart from the clock: given transactions in arrival order and the feature
store of their partition, it returns one :class:`ProcessedTransaction` each.
Merchant risk comes from a separate label store shared by all partitions: the
labels topic is read whole by every scorer instance (labels are few), whereas
the per-customer and per-card state lives with its input partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

from fraudstream_shared.events import (
    Contribution,
    FraudDecision,
    Outcome,
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
from scorer.features import FEATURE_NAMES
from scorer.features.native import (
    AnyFeatureStore,
    StoreKind,
    new_feature_store,
    resolve_store_kind,
)
from scorer.features.store import TxEvent
from scorer.model import Model
from scorer.prebuilt import assemble, constructor
from scorer.ruleset import BoundRuleSet, RuleSet, RuleSetLoader, Verdict, evaluate_batch
from scorer.ruleset.compiler import VariableFactory

PRIMARY_MODEL = "fraudstream"
"""The embedded model's key in ``fd.model_scores`` and in rules (``model.fraudstream``)."""

ENTITY_VIEWS = {"cust": "customer", "card": "card", "merch": "merchant", "ip": "ip"}
RENAMES = {"cnt": "count", "amt_ratio_30d": "amount_ratio_30d", "amt_z_30d": "amount_z_30d",
           "fraud_cnt": "fraud_count"}
TOP_REASONS = 3


def view_key(name: str) -> tuple[str | None, str]:
    """Where feature ``name`` sits in a rule view: ``(entity view or None, key)``.

    ``cust_cnt_1h`` is ``("customer", "count_1h")``; a name without an entity
    prefix (``tx_amount``) stays flat: ``(None, "tx_amount")``.
    """
    prefix, _, rest = name.partition("_")
    view = ENTITY_VIEWS.get(prefix)
    if view is None:
        return None, name
    for old, new in RENAMES.items():
        if rest.startswith(old):
            return view, new + rest[len(old):]
    return view, rest


Picker = Callable[[Sequence[Any]], tuple[Any, ...]]


def _picker(indices: Sequence[int]) -> Picker:
    """The values at ``indices`` as a tuple (``itemgetter`` returns a bare value for one)."""
    if not indices:
        return lambda values: ()
    if len(indices) == 1:
        only = indices[0]
        return lambda values: (values[only],)
    return itemgetter(*indices)


@dataclass(frozen=True)
class ViewPlan:
    """How a feature vector with fixed names becomes a rule view's variables.

    Worked out once per list of names (and rule set) instead of renaming every
    feature of every event: the flat names, and per entity view its keys, each
    with the positions of their values in the vector.
    """

    flat: tuple[str, ...]
    pick_flat: Picker
    views: tuple[tuple[str, tuple[str, ...], Picker], ...]

    @classmethod
    def of(cls, names: Sequence[str], needed: Collection[str] | None = None) -> ViewPlan:
        """The plan of vectors in ``names`` order.

        With ``needed`` (a rule set's :attr:`~scorer.ruleset.RuleSet.variables`)
        only the features those names can reach are placed: ``customer.count_1h``
        needs the customer view's ``count_1h``, a bare ``customer`` the whole
        view, ``tx_hour`` (or ``tx_hour.x``) the flat feature. Every view is
        still there (maybe empty), so each needed name reads what it reads in the
        full view.
        """
        flat: list[str] = []
        flat_at: list[int] = []
        keys: dict[str, list[str]] = {view: [] for view in ENTITY_VIEWS.values()}
        at: dict[str, list[int]] = {view: [] for view in ENTITY_VIEWS.values()}
        for i, view, key in _placed(names, needed):
            if view is None:
                flat.append(key)
                flat_at.append(i)
            else:
                keys[view].append(key)
                at[view].append(i)
        return cls(tuple(flat), _picker(flat_at),
                   tuple((view, tuple(keys[view]), _picker(at[view]))
                         for view in ENTITY_VIEWS.values()))

    def view(self, fields: dict[str, Any], values: Sequence[Any],
             scores: Mapping[str, int]) -> dict[str, Any]:
        """``fields`` (the event's, a fresh dict: it becomes the view) with ``values`` added.

        ``values`` are in the plan's name order, NaN already replaced by ``None``.
        Insertion order and "last one wins" are those of assigning the features
        one by one: flat features after the event fields, then the entity views
        (which replace any flat variable of the same name), then ``model``.
        """
        if self.flat:
            fields.update(zip(self.flat, self.pick_flat(values), strict=True))
        for view, keys, pick in self.views:
            fields[view] = dict(zip(keys, pick(values), strict=True))
        fields["model"] = dict(scores)
        return fields

    def float_view(self, fields: dict[str, Any], row: Sequence[float],
                   scores: Mapping[str, int]) -> dict[str, Any]:
        """:meth:`view` of a row of floats with NaN in it: only the placed values are cleaned."""
        if self.flat:
            fields.update(zip(self.flat, [None if v != v else v for v in self.pick_flat(row)],
                              strict=True))
        for view, keys, pick in self.views:
            fields[view] = dict(zip(keys, [None if v != v else v for v in pick(row)],
                                    strict=True)) if keys else {}
        fields["model"] = dict(scores)
        return fields


def _placed(names: Sequence[str], needed: Collection[str] | None
            ) -> list[tuple[int, str | None, str]]:
    """``(position, entity view or None, key)`` of the features of ``names`` that ``needed`` reach.

    Every feature when ``needed`` is ``None``; see :meth:`ViewPlan.of`.
    """
    tops: set[str] | None = None  # first segments: flat features are reached by them
    bare: set[str] = set()  # names read whole (a bare ``customer`` reads the whole view)
    sub: set[tuple[str, str]] = set()  # (view, key) read by ``view.key[.more]``
    if needed is not None:
        split = [name.split(".") for name in needed]
        tops = {parts[0] for parts in split}
        bare = {parts[0] for parts in split if len(parts) == 1}
        sub = {(parts[0], parts[1]) for parts in split if len(parts) > 1}
    placed: list[tuple[int, str | None, str]] = []
    for i, name in enumerate(names):
        view, key = view_key(name)
        if view is None:
            if tops is None or key in tops:
                placed.append((i, None, key))
        elif tops is None or view in bare or (view, key) in sub:
            placed.append((i, view, key))
    return placed


def needed_columns(names: Sequence[str], needed: Collection[str]) -> list[int]:
    """The positions in ``names`` of the features that the variables ``needed`` can reach.

    A row of only these columns, read by :func:`record_variable` of their names,
    gives every name in ``needed`` what the full row gives it (the features
    :meth:`ViewPlan.of` places for ``needed``, in ``names`` order).
    """
    return [i for i, _, _ in _placed(names, needed)]


_PLANS: dict[tuple[str, ...], ViewPlan] = {}
_MAX_PLANS = 64
"""Distinct feature-name lists remembered (the scorer has one; bound it for other callers)."""


def _plan(names: tuple[str, ...]) -> ViewPlan:
    plan = _PLANS.get(names)
    if plan is None:
        if len(_PLANS) >= _MAX_PLANS:
            _PLANS.clear()
        plan = _PLANS[names] = ViewPlan.of(names)
    return plan


def event_fields(tx: Transaction) -> dict[str, Any]:
    """``tx.model_dump()``, cheaply for a plain :class:`Transaction`.

    Its fields are all scalars (no nested model to dump), so the dump is a copy
    of the validated values; subclasses (with nested models) are really dumped.
    """
    if type(tx) is Transaction:
        return dict(tx.__dict__)
    return tx.model_dump()


def rule_view(tx: Transaction, features: Mapping[str, float],
              scores: Mapping[str, int]) -> dict[str, Any]:
    """The variables a rule can use: event fields, ``<entity>.<feature>`` and ``model.*``.

    Feature ``cust_cnt_1h`` is ``customer.count_1h``; NaN (unknown) becomes null;
    ``scores`` are the model scores by name (``model.fraudstream``, and a remote
    backend's models when one is configured).
    """
    values = [None if isinstance(v, float) and v != v else v for v in features.values()]
    return _plan(tuple(features)).view(event_fields(tx), values, scores)


def served_views(plan: ViewPlan, txs: Sequence[Transaction], rows: Sequence[Sequence[float]],
                 scores: Sequence[Mapping[str, int]]) -> list[dict[str, Any]]:
    """The rule views of the store's rows (floats in the plan's order) by ``plan``.

    With the plan of the rule set's variables, evaluating these views is
    evaluating :func:`rule_view`'s full ones.
    """
    view = plan.float_view
    return [view(event_fields(tx), row, s) for tx, row, s in zip(txs, rows, scores, strict=True)]


def without_nan(row: Sequence[float]) -> list[float | None]:
    """The store's row with NaN (unknown) as ``None``; the row holds only floats."""
    return [None if v != v else v for v in row]


Record = tuple[Mapping[str, Any], Sequence[float], Mapping[str, int]]
"""One event as the engine's rules read it: its fields, the store's row, its model scores."""

Getter = Callable[[Record, datetime], object]


def record_variable(names: Sequence[str], fields: Collection[str]) -> VariableFactory:
    """Readers of rule variables from :data:`Record` s, so that no view is built per event.

    A record is ``(event fields, row, scores)``: the fields mapping has exactly
    the keys ``fields`` and the row holds the features in ``names`` order. A
    reader returns what :func:`~scorer.ruleset.compiler.variable_getter` returns
    from the event's full view (:meth:`ViewPlan.float_view` of
    ``ViewPlan.of(names)``): the flat key first, then nested mappings by dots,
    missing → null, NaN → null. Where a name lands in that view is worked out
    once, here, instead of in a dict built for every event.
    """
    plan = ViewPlan.of(names)
    flat_at: dict[str, int] = {}
    keyed: dict[str, dict[str, int]] = {view: {} for view in ENTITY_VIEWS.values()}
    for i, name in enumerate(names):
        view, key = view_key(name)
        # Later positions overwrite earlier ones, as assigning them one by one does.
        if view is None:
            flat_at[key] = i
        else:
            keyed[view][key] = i
    # The view's top-level keys, in the order that makes the last one win: event
    # fields, then flat features, then the entity views and ``model``.
    top: dict[str, Getter] = {name: _field(name) for name in fields}
    top.update({key: _value_at(i) for key, i in flat_at.items()})
    top.update({view: _whole_view(keys, pick) for view, keys, pick in plan.views})
    top["model"] = _all_scores

    def variable(name: str) -> Getter:
        found = top.get(name)
        if found is not None:
            return found
        parts = name.split(".")
        if len(parts) == 1:
            return _null
        head, key, rest = parts[0], parts[1], tuple(parts[2:])
        first: Getter
        if head in keyed:
            at = keyed[head].get(key)
            first = _null if at is None else _value_at(at)
        elif head == "model":
            first = _score(key)
        elif head in top:
            first = _walk(top[head], (key,))
        else:
            return _null
        return _walk(first, rest) if rest else first
    return variable


def _field(name: str) -> Getter:
    def get(record: Record, now: datetime) -> object:
        return record[0].get(name)
    return get


def _value_at(i: int) -> Getter:
    def get(record: Record, now: datetime) -> object:
        value = record[1][i]
        return None if value != value else value
    return get


def _whole_view(keys: tuple[str, ...], pick: Picker) -> Getter:
    def get(record: Record, now: datetime) -> object:
        if not keys:
            return {}
        return dict(zip(keys, [None if v != v else v for v in pick(record[1])], strict=True))
    return get


def _all_scores(record: Record, now: datetime) -> object:
    return dict(record[2])


def _score(key: str) -> Getter:
    def get(record: Record, now: datetime) -> object:
        return record[2].get(key)
    return get


def _walk(first: Getter, rest: tuple[str, ...]) -> Getter:
    def get(record: Record, now: datetime) -> object:
        value = first(record, now)
        for part in rest:
            if not isinstance(value, Mapping):
                return None
            value = value.get(part)
        return value
    return get


def _null(record: Record, now: datetime) -> object:
    return None


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


@dataclass(frozen=True)
class _Featured:
    """One partition batch's features: as served, as the model's matrix, and as Python rows.

    ``rows`` and ``named`` are made only when the model's feature order differs
    from the store's (otherwise they are ``None`` until something needs them).
    """

    served: Any
    matrix: Any
    rows: list[list[float]] | None
    named: list[dict[str, float]] | None


class Engine:
    """Holds the model, the hot-reloaded rules and the label store."""

    transaction_model = Transaction

    def __init__(self, model: Model, rules: RuleSetLoader, *, lateness_s: float,
                 ttl_s: float, backend: BackendSettings | None = None,
                 emit_features: bool = False, feature_store: StoreKind = "auto",
                 clock: Callable[[], datetime] | None = None) -> None:
        self.model = model
        self.clock: Callable[[], datetime] = clock or _utc_now
        """Stamps the rules' instant and ``scored_at`` (tests pass a fixed one)."""
        self.rules = rules
        self.embedded = EmbeddedBackend(model)
        self.emit_features = emit_features
        # A remote backend (Fraud Detector, SageMaker) scores in addition to the
        # embedded model; None when the embedded model is the backend.
        remote = build_backend(backend, self.embedded) if backend is not None else None
        self.remote: ScoringBackend | None = None if remote is self.embedded else remote
        self._lateness_s = lateness_s
        self._ttl_s = ttl_s
        self.store_kind = resolve_store_kind(feature_store)
        """``native`` or ``python``: the feature store every partition (and the labels) get."""
        self.labels = self.new_store()
        self._plan: tuple[RuleSet, ViewPlan] | None = None
        self._bound: tuple[RuleSet, list[int], BoundRuleSet] | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Engine:
        """Load the model and the rule set named by the scorer's settings (fail fast)."""
        model = Model.load(Path(settings.scorer_model_path))
        rules = RuleSetLoader(Path(settings.scorer_rules_path),
                              min_interval=settings.scorer_rules_reload_s)
        return cls(model, rules, lateness_s=settings.scorer_lateness_s,
                   ttl_s=settings.scorer_state_ttl_s,
                   backend=BackendSettings.from_fields(settings),
                   emit_features=settings.scorer_emit_features,
                   feature_store=settings.scorer_feature_store)

    def new_store(self) -> AnyFeatureStore:
        """An empty per-partition store with the configured lateness and expiry."""
        return new_feature_store(self.store_kind, lateness_s=self._lateness_s, ttl_s=self._ttl_s)

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

    async def decide_batch(self, txs: Sequence[Transaction], store: AnyFeatureStore,
                           started: datetime) -> ScoredBatch:
        """Decide ``txs`` (one partition, arrival order), updating ``store`` as it goes.

        ``txs`` are validated transactions (as :func:`~fraudstream_shared.events.decode`
        returns them): their values are copied into the decisions as they are.
        """
        return (await self.decide_batches([(txs, store)], started))[0]

    async def decide_batches(self, batches: Sequence[tuple[Sequence[Transaction],
                                                           AnyFeatureStore]],
                             started: datetime) -> list[ScoredBatch]:
        """Decide several partitions' batches at once: what :meth:`decide_batch` returns for each.

        Each batch is one partition's transactions in arrival order with that
        partition's store. The model scores and explains the rows of every
        batch in one call: its kernel makes a pass over every tree per call,
        about 0.3 ms whatever the number of rows, which one call per partition
        would pay six times over for six partitions' small batches.
        """
        self.rules.maybe_reload(time.monotonic())
        featured = [self._features(txs, store) if txs else None for txs, store in batches]
        matrices = [f.matrix for f in featured if f is not None]
        if not matrices:
            return [ScoredBatch([]) for _ in batches]
        scores, contributions = self.model.predict_batch(
            matrices[0] if len(matrices) == 1 else np.concatenate(matrices))
        out, at = [], 0
        for (txs, _), f in zip(batches, featured, strict=True):
            if f is None:
                out.append(ScoredBatch([]))
                continue
            end = at + len(txs)
            out.append(await self._decided(txs, f, scores[at:end], contributions[at:end],
                                           started))
            at = end
        return out

    def _features(self, txs: Sequence[Transaction], store: AnyFeatureStore) -> _Featured:
        """Each event's features (then its update of ``store``) and the model's matrix of them."""
        # The partition's transaction state, merchant risk from every label.
        served: Any = store.served_rows([TxEvent.of(tx) for tx in txs], self.labels)
        # The rows as Python floats, made only where something reads them whole:
        # 83 objects an event cost more than the rules that read three of them.
        if self.model.feature_names != FEATURE_NAMES:
            rows = served.tolist()
            named = _named(rows)
            return _Featured(served, self.model.vectorize(named), rows, named)
        return _Featured(served, served, None, None)

    async def _decided(self, txs: Sequence[Transaction], featured: _Featured,
                       scores: list[int], contributions: list[list[Contribution]],
                       started: datetime) -> ScoredBatch:
        """The decisions of one partition's ``txs`` from their features and model results."""
        served, rows, named = featured.served, featured.rows, featured.named
        remote: list[BackendResult | None]
        all_scores: list[dict[str, int]]
        if self.remote is not None:
            if named is None:
                rows = served.tolist()
                named = _named(rows)
            remote = await self._remote(txs, named)
            all_scores = [{PRIMARY_MODEL: s, **(r.model_scores if r else {})}
                          for s, r in zip(scores, remote, strict=True)]
        else:
            remote = [None] * len(txs)
            all_scores = [{PRIMARY_MODEL: s} for s in scores]
        rule_set = self.rules.current
        plain = all(type(tx) is Transaction for tx in txs)
        now = self.clock()
        verdicts: list[Verdict]
        if plain:
            # The rules read the fields, the columns they can reach and the scores
            # where they are (the records are dropped as soon as they are read).
            columns, bound = self._bound_rules(rule_set)
            verdicts = bound.verdicts(
                [(tx.__dict__, row, s) for tx, row, s in zip(
                    txs, served[:, columns].tolist(), all_scores, strict=True)],
                now)
        else:
            # Subclasses' fields are their dump (nested models and all): real views.
            if rows is None:
                rows = served.tolist()
            views = served_views(self._view_plan(rule_set), txs, rows, all_scores)
            verdicts = [(r.outcome, dict(r.rule_results), r.reasons)
                        for r in evaluate_batch(rule_set, views, now)]
        decided = self.clock()
        emitted: list[list[float | None] | None] = [None] * len(txs)
        if self.emit_features:
            emitted = [without_nan(row) for row in (served.tolist() if rows is None else rows)]
        if (plain and self.remote is None
                and _valid_batch(scores, contributions, verdicts, emitted, decided)
                and type(self.model.version) is str and type(rule_set.version) is str):
            return ScoredBatch(self._assembled(txs, all_scores, contributions, verdicts,
                                               emitted, rule_set.version, started, decided))
        decisions = [
            self._decision(tx, s, explanation, verdict, r, rule_set.version, started, decided,
                           features)
            for tx, s, explanation, verdict, r, features in zip(
                txs, all_scores, contributions, verdicts, remote, emitted, strict=True)
        ]
        return ScoredBatch(decisions)

    def _bound_rules(self, rule_set: RuleSet) -> tuple[list[int], BoundRuleSet]:
        """The store's columns ``rule_set`` can read, and the set compiled against records of them.

        Redone when the rules reload. A record's row holds those columns only
        (see :func:`needed_columns`).
        """
        cached = self._bound
        if cached is None or cached[0] is not rule_set:
            columns = needed_columns(FEATURE_NAMES, rule_set.variables)
            variable = record_variable([FEATURE_NAMES[i] for i in columns],
                                       tuple(Transaction.model_fields))
            cached = self._bound = (rule_set, columns, BoundRuleSet(rule_set, variable))
        return cached[1], cached[2]

    def _assembled(self, txs: Sequence[Transaction], all_scores: Sequence[dict[str, int]],
                   contributions: Sequence[list[Contribution]], verdicts: Sequence[Verdict],
                   emitted: Sequence[Sequence[float | None] | None], rules_version: str,
                   started: datetime, decided: datetime) -> list[ProcessedTransaction]:
        """What :meth:`_decision` returns for each event, once :func:`_valid_batch` holds.

        The values :func:`_already_valid` checks per event were checked for the
        batch, so every decision is assembled without validation (and without
        :meth:`_decision`'s per-event checks and copies).
        """
        model_version = self.model.version
        scorer_time = round((decided - started).total_seconds() * 1000, 3)
        decision, processed = _new_decision, _new_processed
        out: list[ProcessedTransaction] = []
        append = out.append
        for tx, scores, explanation, (outcome, rule_results, reasons), features in zip(
                txs, all_scores, contributions, verdicts, emitted, strict=True):
            event_time = tx.event_time
            proc_time = round((started - event_time).total_seconds() * 1000)
            ttdf = round((decided - event_time).total_seconds() * 1000)
            for c in (explanation if len(explanation) <= TOP_REASONS
                      else explanation[:TOP_REASONS]):
                # _decision's reasons: printf-style formatting gives the same text
                # (the same float conversions) in about two thirds of the time.
                contribution = c.contribution
                if contribution > 0:
                    value = c.value
                    reasons.append(
                        "%s=unknown (%+.2f)" % (c.feature, contribution)  # noqa: UP031
                        if value is None
                        else "%s=%g (%+.2f)" % (c.feature, value, contribution))  # noqa: UP031
            fd = decision({
                "outcome": outcome,
                "model_scores": scores,
                "rule_results": rule_results,
                "model_version": model_version,
                "detector_version": rules_version,
                "reasons": reasons,
                "contributions": explanation,
                "features": None if features is None else dict(zip(FEATURE_NAMES, features,
                                                                    strict=True)),
                "proc_time": proc_time,
                "ttdf": ttdf,
                "scorer_time": scorer_time,
                "frauddetector_time": ttdf - proc_time,
                "scored_at": decided,
            })
            append(processed({**tx.__dict__, "fd": fd}))
        return out

    def _view_plan(self, rule_set: RuleSet) -> ViewPlan:
        """The view plan of the variables ``rule_set`` reads (redone when the rules reload)."""
        cached = self._plan
        if cached is None or cached[0] is not rule_set:
            cached = self._plan = (rule_set, ViewPlan.of(FEATURE_NAMES, rule_set.variables))
        return cached[1]

    async def _remote(self, txs: Sequence[Transaction], rows: Sequence[Mapping[str, float]]
                      ) -> list[BackendResult | None]:
        if self.remote is None:
            return [None] * len(txs)
        names = tuple(FEATURE_NAMES)
        items = [BackendInput(tx, tuple(row[n] for n in names), names)
                 for tx, row in zip(txs, rows, strict=True)]
        return list(await self.remote.score_batch(items))

    def _decision(self, tx: Transaction, scores: dict[str, int], explanation: list[Any],
                  verdict: Verdict, remote: BackendResult | None, rules_version: str,
                  started: datetime, decided: datetime,
                  features: Sequence[float | None] | None = None) -> ProcessedTransaction:
        outcome, rule_results, reasons = verdict  # the event's own dict and list
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
        # In FraudDecision's field order (the order of the encoded object).
        fields: dict[str, Any] = {
            "outcome": outcome,
            "model_scores": scores,
            "rule_results": rule_results,
            "model_version": self.model.version,
            "detector_version": detector_version,
            "reasons": reasons,
            "contributions": list(explanation),
            "features": None if features is None else dict(zip(FEATURE_NAMES, features,
                                                                strict=True)),
            "proc_time": proc_time,
            "ttdf": ttdf,
            "scorer_time": round((decided - started).total_seconds() * 1000, 3),
            "frauddetector_time": ttdf - proc_time,
            "scored_at": decided,
        }
        if remote is None and _already_valid(tx, fields):
            return assemble(ProcessedTransaction,
                            {**tx.__dict__, "fd": assemble(FraudDecision, fields)})
        # A remote backend's values (or anything unexpected) go through validation.
        return ProcessedTransaction(**tx.model_dump(), fd=FraudDecision(**fields))


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _named(rows: Sequence[Sequence[float]]) -> list[dict[str, float]]:
    return [dict(zip(FEATURE_NAMES, row, strict=True)) for row in rows]


def _already_valid(tx: Transaction, fields: Mapping[str, Any]) -> bool:
    """Whether validating ``fields`` (and ``tx`` again) would return them unchanged.

    True for what the engine builds from the embedded model and the rules: a
    validated plain :class:`Transaction` (frozen, and its validators are
    idempotent), an :class:`Outcome`, ``int`` scores, :class:`Contribution`
    instances (pydantic does not revalidate instances), float or null features,
    and an aware UTC ``scored_at`` (which ``parse_utc`` returns as it is). The
    other fields are built by the engine with the right types (rounded ints and
    a float, lists of strings and of outcomes).
    """
    features = fields["features"]
    return (type(tx) is Transaction
            and type(fields["outcome"]) is Outcome
            and type(fields["model_version"]) is str
            and type(fields["detector_version"]) is str
            and fields["scored_at"].tzinfo is UTC
            and all(type(v) is int for v in fields["model_scores"].values())
            and all(type(c) is Contribution for c in fields["contributions"])
            and (features is None
                 or all(v is None or type(v) is float for v in features.values())))


def _valid_batch(scores: Sequence[Any], contributions: Sequence[Sequence[Any]],
                 verdicts: Sequence[Verdict],
                 emitted: Sequence[Sequence[float | None] | None], decided: datetime) -> bool:
    """:func:`_already_valid`'s checks of what varies per event, for a whole batch.

    The embedded model's ``int`` scores (the only scores without a remote
    backend), :class:`Contribution` instances, :class:`Outcome` verdicts, float
    or null features and an aware UTC instant.
    """
    # Sets of the types met (mapped in C) rather than a generator's test per value.
    return (decided.tzinfo is UTC
            and set(map(type, scores)) <= {int}
            and {type(v[0]) for v in verdicts} <= {Outcome}
            and set(map(type, chain.from_iterable(contributions))) <= {Contribution}
            and all(f is None or set(map(type, f)) <= _FEATURE_TYPES for f in emitted))


_FEATURE_TYPES = {float, type(None)}


_new_decision = constructor(FraudDecision)
_new_processed = constructor(ProcessedTransaction)


def _fmt(value: float | None) -> str:
    if value is None:
        return "unknown"
    return f"{value:g}"
