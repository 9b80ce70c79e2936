"""The engine's rules read records exactly as the rule language reads the full views."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fraudstream_shared.events import (
    Contribution,
    FraudDecision,
    Outcome,
    ProcessedTransaction,
    Transaction,
    encode,
)
from scorer.engine import (
    PRIMARY_MODEL,
    Engine,
    ViewPlan,
    _fmt,
    _valid_batch,
    event_fields,
    needed_columns,
    record_variable,
)
from scorer.features import FEATURE_NAMES
from scorer.model import Model
from scorer.prebuilt import assemble, constructor
from scorer.ruleset import RuleSetLoader, Verdict
from scorer.ruleset.compiler import variable_getter
from tests.support.factories import original_sample_transaction
from tests.unit.test_scorer.test_engine import reference
from tests.unit.test_scorer.test_engine.test_equivalence import (
    DEFAULT_RULES,
    NOW,
    _rows,
    assert_same,
    rules_file,
    simulated,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FIELDS = tuple(Transaction.model_fields)
ONE_TX = Transaction.model_validate(original_sample_transaction(merchant_id="m-1"))

# Names as rules write them: every top-level key of a view, the keys inside the
# entity views (renamed and not), model scores, unknown names, at depths 1 to 3.
_SEGMENTS = st.sampled_from(sorted({
    *FIELDS, "customer", "card", "merchant", "ip", "model", "fraudstream", "other",
    "tx_hour", "tx_amount", "tx_weekend", "count_1h", "cnt_1h", "amount_ratio_30d",
    "amt_ratio_30d", "fraud_count_7d", "fraud_rate_7d", "labels_30d", "secs_since_prev",
    "billing_km", "x", "nothing", "",
}))
_NAMES = st.lists(_SEGMENTS, min_size=1, max_size=3).map(".".join)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b and repr(a) == repr(b)


@settings(max_examples=300, deadline=None)
@given(names=st.lists(_NAMES, min_size=1, max_size=12), pick=st.integers(0, 10_000),
       scores=st.dictionaries(st.sampled_from([PRIMARY_MODEL, "other", "x.y"]),
                              st.integers(0, 1000), max_size=3))
def test_record_readers_read_what_the_full_view_holds(
        names: list[str], pick: int, scores: dict[str, int]) -> None:
    tx, row = _rows()[pick % len(_rows())]
    variable = record_variable(FEATURE_NAMES, FIELDS)
    view = ViewPlan.of(FEATURE_NAMES).float_view(event_fields(tx), row, scores)
    record = (tx.__dict__, row, scores)
    for name in names:
        assert _same(variable(name)(record, EPOCH), variable_getter(name)(view, EPOCH)), name


# Odd feature lists: names without a view, clashing renames, repeated names, and
# rows of any values (the store's hold floats, but the readers do not rely on it).
_FEATURES = st.lists(st.sampled_from([
    *FEATURE_NAMES[:6], "cust_cnt_1h", "cust_count_1h", "cust", "ip_", "card_cnt",
    "merch_fraud_cntx", "customer", "model", "event_id", "x_y", "cust_cnt_1h_", "_ip",
    "email_address", "tx_hour"]), min_size=1, max_size=20)
_VALUES = st.one_of(st.floats(allow_nan=True), st.integers(), st.none(), st.text(max_size=3),
                    st.booleans(), st.just({"x": 1.5}))


@settings(max_examples=400, deadline=None)
@given(data=st.data(), features=_FEATURES, names=st.lists(_NAMES, min_size=1, max_size=10))
def test_record_readers_follow_any_feature_list(data: st.DataObject, features: list[str],
                                               names: list[str]) -> None:
    row = data.draw(st.lists(_VALUES, min_size=len(features), max_size=len(features)))
    scores = {PRIMARY_MODEL: 7, "nested": {"deep": 1}}
    variable = record_variable(features, FIELDS)
    view = ViewPlan.of(features).float_view(event_fields(ONE_TX), row, scores)  # type: ignore[arg-type]
    record = (ONE_TX.__dict__, row, scores)
    for name in [*names, "nested.deep", "model.nested.deep", "customer", "model"]:
        assert _same(variable(name)(record, EPOCH), variable_getter(name)(view, EPOCH)), name


@settings(max_examples=400, deadline=None)
@given(data=st.data(), features=_FEATURES, needed=st.sets(_NAMES, min_size=1, max_size=8))
def test_records_of_the_needed_columns_read_as_the_full_records(
        data: st.DataObject, features: list[str], needed: set[str]) -> None:
    row = data.draw(st.lists(_VALUES, min_size=len(features), max_size=len(features)))
    scores = {PRIMARY_MODEL: 7, "nested": {"deep": 1}}
    columns = needed_columns(features, needed)
    assert columns == sorted(set(columns))  # in the row's order, once each
    full = record_variable(features, FIELDS)
    narrow = record_variable([features[i] for i in columns], FIELDS)
    full_record = (ONE_TX.__dict__, row, scores)
    narrow_record = (ONE_TX.__dict__, [row[i] for i in columns], scores)
    for name in needed:
        assert _same(narrow(name)(narrow_record, EPOCH), full(name)(full_record, EPOCH)), name


def test_the_shipped_rules_read_few_of_the_store_columns() -> None:
    rules = RuleSetLoader(DEFAULT_RULES).current
    columns = needed_columns(FEATURE_NAMES, rules.variables)
    assert [FEATURE_NAMES[i] for i in columns] == [
        name for name in FEATURE_NAMES
        if name in {"cust_amt_ratio_30d", "cust_cnt_1h", "cust_distinct_ip_24h"}]
    assert needed_columns(FEATURE_NAMES, {"customer"}) == [
        i for i, name in enumerate(FEATURE_NAMES) if name.startswith("cust_")]


class RicherTransaction(Transaction):
    """A subclass with a field of its own: its fields are its dump, not its ``__dict__``."""

    channel: str = "web"


@pytest.mark.parametrize("rules", ["default", "wide_all"])
def test_a_batch_of_subclassed_transactions_is_decided_as_before(
        tmp_path: Any, rules: str) -> None:
    txs = [RicherTransaction.model_validate(tx.model_dump())
           for tx in simulated(300, seed=3)[0]]
    engine = Engine(Model.load(), RuleSetLoader(rules_file(tmp_path, rules)), lateness_s=3600,
                    ttl_s=86400, clock=lambda: NOW)
    new = asyncio.run(engine.decide_batch(txs, engine.new_store(), NOW)).decisions
    old = reference.decide_batch(engine, txs, engine.new_store(), NOW, NOW)
    for a, b in zip(new, old, strict=True):
        assert_same(a, b)


def test_a_batch_mixing_plain_and_subclassed_transactions_is_decided_as_before() -> None:
    plain = simulated(200, seed=4)[0]
    txs = [RicherTransaction.model_validate(tx.model_dump()) if i % 3 == 0 else tx
           for i, tx in enumerate(plain)]
    engine = Engine(Model.load(), RuleSetLoader(DEFAULT_RULES), lateness_s=3600,
                    ttl_s=86400, emit_features=True, clock=lambda: NOW)
    new = asyncio.run(engine.decide_batch(txs, engine.new_store(), NOW)).decisions
    old = reference.decide_batch(engine, txs, engine.new_store(), NOW, NOW)
    for a, b in zip(new, old, strict=True):
        assert_same(a, b)


def test_a_constructed_model_is_the_assembled_one() -> None:
    fd = FraudDecision(outcome=Outcome.REVIEW, model_scores={PRIMARY_MODEL: 3},
                       model_version="v", detector_version="d", proc_time=1, ttdf=2,
                       scorer_time=0.5, frauddetector_time=1, scored_at=NOW)
    values = fd.model_dump()
    values["contributions"] = [Contribution(feature="f", value=None, contribution=0.1)]
    built, assembled = constructor(FraudDecision)(dict(values)), assemble(FraudDecision, values)
    assert built == assembled
    assert built.model_fields_set == assembled.model_fields_set == set(FraudDecision.model_fields)

    processed = {**ONE_TX.__dict__, "fd": built}
    a, b = constructor(ProcessedTransaction)(processed), assemble(ProcessedTransaction, processed)
    assert encode(a) == encode(b)
    assert a.model_fields_set == b.model_fields_set
    assert a.__pydantic_extra__ is None
    assert a.__pydantic_private__ is None


def test_a_batch_is_only_valid_as_it_is_when_every_value_has_the_exact_type() -> None:
    verdicts: list[Verdict] = [(Outcome.APPROVE, {}, [])]
    top = [[Contribution(feature="f", value=1.0, contribution=0.2)]]
    assert _valid_batch([1], top, verdicts, [None], NOW)
    assert _valid_batch([1], top, verdicts, [[1.0, None]], NOW)
    assert not _valid_batch([True], top, verdicts, [None], NOW)
    assert not _valid_batch([1.0], top, verdicts, [None], NOW)
    assert not _valid_batch([1], [[{"feature": "f"}]], verdicts, [None], NOW)
    assert not _valid_batch([1], top, [("approve", {}, [])], [None], NOW)  # type: ignore[list-item]
    assert not _valid_batch([1], top, verdicts, [[1]], NOW)
    assert not _valid_batch([1], top, verdicts, [None],
                            NOW.astimezone(timezone(timedelta(hours=1))))


def test_frozen_models_share_a_fields_set_that_nothing_changes() -> None:
    make = constructor(FraudDecision)
    values = FraudDecision(outcome=Outcome.BLOCK, model_version="v", detector_version="d",
                           proc_time=1, ttdf=2, scorer_time=0.5, frauddetector_time=1,
                           scored_at=NOW).model_dump()
    first, second = make(dict(values)), make(dict(values))
    assert first.model_fields_set is second.model_fields_set
    with pytest.raises(ValidationError):
        first.reasons = ["changed"]  # type: ignore[misc]
    with pytest.raises(ValidationError):
        del first.reasons
    copied = first.model_copy(update={"reasons": ["copied"]})
    assert copied.model_fields_set is not first.model_fields_set
    assert first.model_fields_set == set(FraudDecision.model_fields)
    assert first.reasons == []
    engine = Engine(Model.load(), RuleSetLoader(DEFAULT_RULES), lateness_s=3600, ttl_s=86400,
                    clock=lambda: NOW)
    decisions = asyncio.run(engine.decide_batch(simulated(20, seed=5)[0], engine.new_store(),
                                                NOW)).decisions
    contributions = [c for d in decisions for c in d.fd.contributions]
    assert len({id(c.model_fields_set) for c in contributions}) == 1
    assert contributions[0].model_fields_set == {"feature", "value", "contribution"}
    assert len({id(d.model_fields_set) for d in decisions}) == 1


@settings(max_examples=1000, deadline=None)
@given(value=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                       st.integers(-10**6, 10**6).map(lambda i: i / 10**4)),
       contribution=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                              st.integers(-10**6, 10**6).map(lambda i: i / 10**4)))
def test_printf_style_reasons_read_as_the_formatted_ones(value: float | None,
                                                         contribution: float) -> None:
    # The fast loop's "%s=%g (%+.2f)" against _decision's f-string with _fmt.
    feature = "cust_amt_ratio_30d"
    old = f"{feature}={_fmt(value)} ({contribution:+.2f})"
    new = ("%s=unknown (%+.2f)" % (feature, contribution) if value is None  # noqa: UP031
           else "%s=%g (%+.2f)" % (feature, value, contribution))  # noqa: UP031
    assert new == old
