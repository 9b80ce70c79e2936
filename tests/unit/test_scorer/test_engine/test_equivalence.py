"""The engine's fast paths decide, explain and encode exactly as the old code did.

Thousands of transactions from the producer's simulator (with block- and
allow-listed customers, disposable mailboxes, large amounts and late events mixed
in, and labels arriving between batches) go through the optimised
:class:`Engine` and through the old code kept in :mod:`.reference`; every
decision must be equal field by field and byte for byte once encoded.
"""

from __future__ import annotations

import asyncio
import math
import random
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream_shared.events import (
    ProcessedTransaction,
    Transaction,
    TransactionLabel,
    encode,
)
from producer.simulation import SimulationConfig, Simulator
from scorer.engine import PRIMARY_MODEL, Engine, ViewPlan, event_fields, rule_view
from scorer.features import FEATURE_NAMES, TxEvent
from scorer.model import Model
from scorer.ruleset import RuleSetLoader
from scorer.ruleset.compiler import variable_getter
from scorer.settings import PACKAGE_DATA
from tests.support.factories import original_sample_transaction
from tests.unit.test_scorer.test_engine import reference

DEFAULT_RULES = PACKAGE_DATA / "rules" / "default.yaml"
START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = START + timedelta(days=40)
"""The fixed clock: decisions are stamped with it, so timings compare exactly."""
BATCH = 250

# Every view, every rename and flat features, in conditions and in reasons.
WIDE_RULES = """
version: "wide-1"
mode: {mode}
rules:
  - id: views
    expression: >-
      card.count_24h >= 2 and ip.mean_7d > 1 and merchant.count_1h >= 0
      and tx_hour >= 0 and customer.amount_z_30d > -1000
    outcome: review
    reason: "{{card.count_24h}} {{ip.mean_7d}} {{tx_weekend}} {{customer.amount_z_30d}} {{nothing}}"
  - id: risk
    expression: merchant.fraud_count_30d >= 1 or is_null(merchant.fraud_rate_7d)
    outcome: review
    reason: "{{merchant.fraud_count_30d}} {{merchant.fraud_rate_7d}} {{merchant.labels_30d}}"
  - id: history
    expression: >-
      customer.cnt_7_30d >= 0
      and (customer.amt_ratio_1_30d > 1.5 or customer.amount_z_30d > 2)
    outcome: block
    reason: "{{customer.cnt_7_30d}} {{customer.amt_ratio_7_30d}} {{cust_billing_km}}"
  - id: secs
    expression: customer.secs_since_prev < 60 and not (card.secs_since_prev > 600)
    outcome: review
    reason: "{{customer.secs_since_prev}} {{customer.billing_changed}} {{email_address}}"
  - id: score
    expression: model.fraudstream >= 500 and product_category in ['shopping_net', 'misc_net']
    outcome: block
    reason: "{{model.fraudstream}} {{event_time}} {{transaction_amt}}"
  - id: bare
    expression: not is_null(card) and tx_amount > 0 and email_address not in blocked
    outcome: approve
    reason: "{{customer}} {{model}} {{merchant.fraud_rate_30d.x}} {{tx_amount.y}} {{ip}}"
lists:
  - name: blocked
    kind: block
    field: email_address
    ignore_case: true
    entries:
      - value: chargeback.ring@example.invalid
        reason_code: confirmed
  - name: trusted
    kind: allow
    field: entity_id
    entries:
      - value: qa-synthetic-0001
        reason_code: qa
"""


def simulated(count: int, seed: int) -> tuple[list[Transaction], list[TransactionLabel]]:
    """``count`` simulated transactions with list hits, odd values and late events mixed in."""
    rng = random.Random(seed)
    txs, labels = [], []
    for i, (event, truth) in enumerate(Simulator(SimulationConfig(), seed=seed).events(
            START, count=count, stream_seed=seed)):
        if i % 97 == 5:
            event["email_address"] = "Chargeback.Ring@example.invalid"
        if i % 89 == 7:
            event["entity_id"] = "qa-synthetic-0001"
        if i % 83 == 3:
            event["email_address"] = "someone@mailinator.com"
        if i % 71 == 2:
            event["transaction_amt"] = 7500.0
        if i % 67 == 1:
            event["product_category"] = None
            event["merchant_id"] = None
        tx = Transaction.model_validate(event)
        if i % 53 == 4:  # a late event (within and beyond the lateness)
            tx = tx.model_copy(update={"event_time": tx.event_time - timedelta(
                minutes=rng.choice([5, 30, 200]))})
        txs.append(tx)
        if rng.random() < 0.4:
            labels.append(TransactionLabel(
                event_id=tx.event_id, entity_id=tx.entity_id, merchant_id=tx.merchant_id,
                label=truth.label,
                labelled_at=tx.event_time + timedelta(minutes=rng.randint(1, 600))))
    return txs, labels


@pytest.fixture(scope="module")
def model() -> Model:
    return Model.load()


@pytest.fixture(scope="module")
def stream() -> tuple[list[Transaction], list[TransactionLabel]]:
    return simulated(3000, seed=11)


def rules_file(tmp_path: Path, name: str) -> Path:
    if name == "default":
        return DEFAULT_RULES
    mode = "FIRST_MATCHED" if name.endswith("first") else "ALL_MATCHED"
    path = tmp_path / f"{name}.yaml"
    path.write_text(WIDE_RULES.format(mode=mode))
    return path


def assert_same(new: ProcessedTransaction, old: ProcessedTransaction) -> None:
    assert encode(new) == encode(old)
    assert new.model_dump() == old.model_dump()
    assert new.model_fields_set == old.model_fields_set
    assert new.fd.model_fields_set == old.fd.model_fields_set
    assert new == old


@pytest.mark.parametrize("emit_features", [False, True])
@pytest.mark.parametrize("rules", ["default", "wide_all", "wide_first"])
def test_the_engine_decides_exactly_as_the_old_code(
        tmp_path: Path, model: Model, stream: tuple[list[Transaction], list[TransactionLabel]],
        rules: str, emit_features: bool) -> None:
    txs, labels = stream
    engine = Engine(model, RuleSetLoader(rules_file(tmp_path, rules)), lateness_s=3600,
                    ttl_s=35 * 86400, emit_features=emit_features, clock=lambda: NOW)
    new_store, old_store = engine.new_store(), engine.new_store()
    pending = sorted(labels, key=lambda label: label.labelled_at)
    outcomes: set[str] = set()
    for i in range(0, len(txs), BATCH):
        batch = txs[i:i + BATCH]
        started = NOW - timedelta(milliseconds=i)
        new = asyncio.run(engine.decide_batch(batch, new_store, started)).decisions
        old = reference.decide_batch(engine, batch, old_store, started, NOW)
        assert len(new) == len(old) == len(batch)
        for a, b in zip(new, old, strict=True):
            assert_same(a, b)
            outcomes.add(a.fd.outcome)
        # Labels that have arrived by the end of the batch count from the next one on.
        edge = batch[-1].event_time
        while pending and pending[0].labelled_at <= edge:
            engine.remember_label(pending.pop(0))
    assert outcomes == {"approve", "review", "block"}


def test_an_empty_batch_is_empty(model: Model) -> None:
    engine = Engine(model, RuleSetLoader(DEFAULT_RULES), lateness_s=3600, ttl_s=86400)
    assert asyncio.run(engine.decide_batch([], engine.new_store(), NOW)).decisions == []


def test_rule_view_equals_the_old_on_served_features(
        model: Model, stream: tuple[list[Transaction], list[TransactionLabel]]) -> None:
    engine = Engine(model, RuleSetLoader(DEFAULT_RULES), lateness_s=3600, ttl_s=86400)
    store = engine.new_store()
    for tx in stream[0][:800]:
        features = store.score_features(tx)
        scores = {PRIMARY_MODEL: 512, "other": 3}
        view = rule_view(tx, features, scores)
        old = reference.rule_view(tx, features, scores)
        assert view == old
        assert list(view) == list(old)
        assert all(list(view[k]) == list(old[k]) for k in ("customer", "card", "merchant", "ip"))


ONE_TX = Transaction.model_validate(original_sample_transaction(merchant_id="m-1"))
_NAMES = st.sampled_from([*FEATURE_NAMES, "cust", "ip_", "card_cnt", "merch_fraud_cntx",
                          "customer", "model", "event_id", "x_y", "cust_cnt_1h_", "_ip"])
_VALUES = st.one_of(st.floats(allow_nan=True), st.integers(), st.none(), st.text(max_size=3),
                    st.booleans())


@settings(max_examples=300, deadline=None)
@given(features=st.dictionaries(_NAMES, _VALUES, max_size=30),
       scores=st.dictionaries(st.sampled_from([PRIMARY_MODEL, "a", "b"]), st.integers()))
def test_rule_view_equals_the_old_on_any_features(features: dict[str, Any],
                                                   scores: dict[str, int]) -> None:
    view = rule_view(ONE_TX, features, scores)
    old = reference.rule_view(ONE_TX, features, scores)
    assert _same_nan(view) == _same_nan(old)
    assert list(view) == list(old)


def _same_nan(value: Any) -> Any:
    # NaN != NaN: compare them as a marker (only non-float NaNs could survive a view).
    if isinstance(value, dict):
        return {k: _same_nan(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


_SEGMENTS = st.sampled_from(["customer", "card", "merchant", "ip", "model", "tx_hour", "tx_amount",
                             "count_1h", "amount_ratio_30d", "fraud_rate_7d", "cnt_1h",
                             "email_address", "event_time", "fraudstream", "x", "labels_30d"])


@settings(max_examples=300, deadline=None)
@given(needed=st.sets(st.lists(_SEGMENTS, min_size=1, max_size=3).map(".".join), max_size=8),
       picks=st.lists(st.integers(0, 10_000), min_size=3, max_size=3))
def test_a_view_of_the_needed_variables_reads_as_the_full_view(
        needed: set[str], picks: list[int]) -> None:
    store_rows = _rows()
    full_plan, plan = ViewPlan.of(FEATURE_NAMES), ViewPlan.of(FEATURE_NAMES, needed)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for pick in picks:
        tx, row = store_rows[pick % len(store_rows)]
        scores = {PRIMARY_MODEL: pick}
        full = full_plan.float_view(event_fields(tx), row, scores)
        assert full == reference.rule_view(tx, dict(zip(FEATURE_NAMES, row, strict=True)), scores)
        small = plan.float_view(event_fields(tx), row, scores)
        for name in needed:
            get = variable_getter(name)
            assert get(small, epoch) == get(full, epoch)


_ROWS: list[tuple[Transaction, list[float]]] = []


def _rows() -> list[tuple[Transaction, list[float]]]:
    """Store rows of 300 simulated transactions (every kind of value, NaN included)."""
    if not _ROWS:
        engine_store = Engine(Model.load(), RuleSetLoader(DEFAULT_RULES), lateness_s=3600,
                              ttl_s=86400).new_store()
        for tx in simulated(300, seed=9)[0]:
            _ROWS.append((tx, engine_store.row(TxEvent.of(tx))))
            engine_store.update(tx)
    return _ROWS


def test_the_store_rows_hold_only_floats_and_views_have_no_clashing_keys() -> None:
    assert all(type(v) is float for _, row in _rows() for v in row)
    plan = ViewPlan.of(FEATURE_NAMES)
    assert all(len(set(keys)) == len(keys) for _, keys, _ in plan.views)
    assert not set(plan.flat) & ({"model", *(view for view, _, _ in plan.views)}
                                 | set(Transaction.model_fields))


@pytest.mark.parametrize("emit_features", [False, True])
@pytest.mark.parametrize("rules", ["default", "wide_all"])
def test_partitions_decided_together_are_decided_as_each_alone(
        tmp_path: Path, model: Model, stream: tuple[list[Transaction], list[TransactionLabel]],
        rules: str, emit_features: bool) -> None:
    txs, labels = stream
    partitions = 4
    by_partition: list[list[Transaction]] = [[] for _ in range(partitions)]
    for tx in txs[:1500]:
        by_partition[zlib.crc32(tx.entity_id.encode()) % partitions].append(tx)

    def engine() -> Engine:
        return Engine(model, RuleSetLoader(rules_file(tmp_path, rules)), lateness_s=3600,
                      ttl_s=35 * 86400, emit_features=emit_features, clock=lambda: NOW)

    together, alone = engine(), engine()
    together_stores = [together.new_store() for _ in range(partitions)]
    alone_stores = [alone.new_store() for _ in range(partitions)]
    for label in labels[:200]:
        together.remember_label(label)
        alone.remember_label(label)
    rng = random.Random(5)
    taken = [0] * partitions
    decided = 0
    while any(taken[p] < len(by_partition[p]) for p in range(partitions)):
        # Uneven batches, an empty one now and then, as polls hand them out.
        sizes = [rng.choice([0, 1, 7, 40, 130]) for _ in range(partitions)]
        batches = [by_partition[p][taken[p]:taken[p] + sizes[p]] for p in range(partitions)]
        taken = [t + s for t, s in zip(taken, sizes, strict=True)]
        started = NOW - timedelta(milliseconds=decided)
        results = asyncio.run(together.decide_batches(
            list(zip(batches, together_stores, strict=True)), started))
        assert len(results) == partitions
        for batch, store, result in zip(batches, alone_stores, results, strict=True):
            expected = asyncio.run(alone.decide_batch(batch, store, started)).decisions
            assert len(result.decisions) == len(expected) == len(batch)
            for a, b in zip(result.decisions, expected, strict=True):
                assert_same(a, b)
            decided += len(batch)
    assert decided == 1500


def test_no_batches_or_only_empty_ones_decide_nothing(model: Model) -> None:
    engine = Engine(model, RuleSetLoader(DEFAULT_RULES), lateness_s=3600, ttl_s=86400)
    assert asyncio.run(engine.decide_batches([], NOW)) == []
    results = asyncio.run(engine.decide_batches(
        [([], engine.new_store()), ([], engine.new_store())], NOW))
    assert [r.decisions for r in results] == [[], []]
