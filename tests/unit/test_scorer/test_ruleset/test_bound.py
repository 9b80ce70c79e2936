"""A bound rule set decides exactly as :func:`evaluate`; the fast paths behind it are exact."""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.ruleset import (
    BoundRuleSet,
    ListEntry,
    NamedList,
    RuleSet,
    compile_expression,
    evaluate,
    load_rule_set,
    parse_rule_set,
)
from scorer.ruleset.compiler import variable_getter
from scorer.ruleset.values import is_number, membership_key

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DEFAULT_FILE = (Path(__file__).resolve().parents[4]
                / "services/scorer/scorer/data/rules/default.yaml")

# Every kind of expression and reason, both modes, lists with and without expiry.
WIDE = """
version: "bound-1"
mode: {mode}
rules:
  - id: score
    expression: model.fraudstream >= 900 and model.fraudstream < 950.5
    outcome: block
    reason: "score {{model.fraudstream}} {{model}}"
  - id: counts
    expression: customer.count_1h > 10 or customer.count_1h <= -1 or not (amt > 3)
    outcome: review
    reason: "{{customer.count_1h}} {{customer}} {{amt}}"
  - id: text
    expression: >-
      matches(lower(email), '@(mailinator|x)\\.com$') or name < 'm' or name >= 'x'
      or len(name) == 3 or abs(amt) / 2 > 100 or -amt == 5 or amt * 2 + 1 != 7
    outcome: review
    reason: "{{email}} {{name}} {{missing.deep.name}}"
  - id: membership
    expression: >-
      category in ['a', 'b', 1, true] or category not in [2.5]
      and email not in blocked and is_null(customer.nothing)
    outcome: approve
    reason: "fixed"
  - id: switched_off
    expression: amt > 0
    outcome: block
    reason: "never evaluated"
    enabled: false
  - id: last
    expression: amt == 12 or customer.count_1h == amt
    outcome: block
    reason: "{{amt}}"
lists:
  - name: blocked
    kind: block
    field: email
    ignore_case: true
    entries:
      - value: Bad@Example.com
        reason_code: bad
      - value: old@example.com
        reason_code: expired
        expires_at: "2026-01-01T00:00:00Z"
  - name: trusted
    kind: allow
    field: customer.id
    entries:
      - value: 7
        reason_code: seven
      - value: true
        reason_code: flag
      - value: vip
        reason_code: vip
"""


@cache
def rule_sets() -> tuple[RuleSet, ...]:
    return (load_rule_set(DEFAULT_FILE), parse_rule_set(WIDE.format(mode="ALL_MATCHED")),
            parse_rule_set(WIDE.format(mode="FIRST_MATCHED")))


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-20, 2000), st.floats(allow_nan=True),
    st.sampled_from([900, 949, 950, 950.5, 12, 12.0, 5, 3, -1, 0.0, -0.0, 2.5, 7,
                     "a", "b", "vip", "Bad@Example.com", "bad@example.com", "old@example.com",
                     "someone@mailinator.com", "Chargeback.Ring@example.invalid",
                     "qa-synthetic-0001", "qa-synthetic-0002", "abc", "zed", "x", "",
                     [1, 2], (3,)]),
    st.text(max_size=4))
_CUSTOMER = st.one_of(_SCALARS, st.dictionaries(
    st.sampled_from(["count_1h", "amount_ratio_30d", "distinct_ip_24h", "id", "nothing"]),
    _SCALARS, max_size=5))
_ROWS = st.fixed_dictionaries({}, optional={
    "model": st.one_of(_SCALARS, st.dictionaries(st.sampled_from(["fraudstream", "other"]),
                                                 _SCALARS, max_size=2)),
    "customer": _CUSTOMER,
    "customer.count_1h": _SCALARS,
    "customer.id": _SCALARS,
    "amt": _SCALARS, "transaction_amt": _SCALARS, "email": _SCALARS, "email_address": _SCALARS,
    "name": _SCALARS, "category": _SCALARS, "product_category": _SCALARS,
    "entity_id": _SCALARS, "transaction_currency": _SCALARS,
})


def _as_verdict(rule_set: RuleSet, row: Mapping[str, object], now: datetime) -> tuple[Any, ...]:
    result = evaluate(rule_set, row, now)
    return result.outcome, result.rule_results, result.reasons


@settings(max_examples=400, deadline=None)
@given(row=_ROWS, days=st.integers(-400, 400))
def test_a_bound_rule_set_gives_evaluates_verdict(row: dict[str, object], days: int) -> None:
    now = NOW + timedelta(days=days)
    for rule_set in rule_sets():
        expected = _as_verdict(rule_set, row, now)
        assert BoundRuleSet(rule_set).verdict(row, now) == expected
        assert BoundRuleSet(rule_set).verdicts([row, row], now) == [expected, expected]


class Boxed:
    """A row that is not a mapping: only its own readers can read it."""

    def __init__(self, values: Mapping[str, object]) -> None:
        self.values = values


def boxed_variable(name: str) -> Callable[[Any, datetime], object]:
    get = variable_getter(name)
    return lambda row, now: get(row.values, now)


@settings(max_examples=300, deadline=None)
@given(row=_ROWS)
def test_a_rule_set_bound_to_other_readers_decides_as_on_the_mapping(
        row: dict[str, object]) -> None:
    for rule_set in rule_sets():
        bound = BoundRuleSet(rule_set, boxed_variable)
        assert bound.verdict(Boxed(row), NOW) == _as_verdict(rule_set, row, NOW)


def test_verdicts_have_their_own_dict_and_reasons_and_share_the_rule_result_lists() -> None:
    bound = BoundRuleSet(parse_rule_set(WIDE.format(mode="ALL_MATCHED")))
    row = {"amt": 12, "model": {"fraudstream": 920}, "email": "bad@example.com"}
    first, second = bound.verdicts([row, dict(row, email="ok@example.com")], NOW)
    assert first == ("block", {}, ["blocked: bad"])
    assert second[1]["last"] == ["block"]
    other = bound.verdict(dict(row, email="ok@example.com"), NOW)
    assert other == second
    assert other[1] is not second[1]
    assert other[2] is not second[2]
    # The lists are values: one per rule for its matches, one for every non-match.
    assert other[1]["last"] is second[1]["last"]
    assert other[1]["counts"] is second[1]["membership"]
    assert other[1]["counts"] == []


def test_a_naive_instant_is_refused() -> None:
    bound = BoundRuleSet(load_rule_set(DEFAULT_FILE))
    with pytest.raises(ValueError, match="timezone-aware"):
        bound.verdicts([{}], NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        bound.verdict({}, NOW.replace(tzinfo=None))


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 1000


class Real(float):
    """A float subclass (as numpy's float64 is)."""


_ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3), st.sampled_from([Level.LOW, Level.HIGH, Real(2.5), Real("nan"),
                                          10**400, -(10**400), [1], (2,), {"a": 1}, b"x"]))


@settings(max_examples=500, deadline=None)
@given(value=_ANY_VALUE, bound=st.sampled_from(["3", "2.5", "-1", "0", "1e300", "900"]))
def test_comparing_with_a_number_is_a_number_test_then_the_comparison(
        value: object, bound: str) -> None:
    number = float(bound) if "." in bound or "e" in bound else int(bound)
    for op, apply in (("<", operator.lt), ("<=", operator.le), (">", operator.gt),
                      (">=", operator.ge)):
        got = compile_expression(f"x {op} {bound}").evaluate({"x": value}, NOW)
        # What the comparison did before it had one closure per operator.
        expected = is_number(value) and apply(value, number)  # type: ignore[arg-type]
        assert got is expected or (got == expected and type(got) is type(expected))


def _old_lookup(named: NamedList, value: object) -> ListEntry | None:
    # NamedList.lookup before strings took their own path (these entries never expire).
    if named.ignore_case and isinstance(value, str):
        value = value.lower()
    key = membership_key(value)
    if key is None:
        return None
    return named._index.get(key)


class Text(str):
    """A str subclass: not the plain-str path."""


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_ANY_VALUE, st.sampled_from(["VIP", "vip", Text("ViP"), Text("7"), "7",
                                                   7, 7.0, True, 1, math.nan])),
       ignore_case=st.booleans())
def test_list_lookup_matches_as_before(value: object, ignore_case: bool) -> None:
    text = f"""
version: "l-1"
mode: ALL_MATCHED
rules: []
lists:
  - name: people
    kind: allow
    field: x
    ignore_case: {str(ignore_case).lower()}
    entries:
      - {{value: vip, reason_code: a}}
      - {{value: 7, reason_code: b}}
      - {{value: true, reason_code: c}}
      - {{value: "1", reason_code: d}}
"""
    named = parse_rule_set(text).lists[0]
    assert named.lookup(value, NOW) is _old_lookup(named, value)


class Shouting(str):
    """A str whose lower() is not a str: matches(lower(x)) must not search it."""

    def lower(self) -> Any:
        return 42


class Polite(str):
    """A str subclass with an ordinary lower()."""


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(_ANY_VALUE, st.sampled_from([
    "A@Mailinator.COM", "a@mailinator.com", "x@example.com", Shouting("B@MAILINATOR.COM"),
    Polite("C@Mailinator.com"), "@MAILINATOR.COM\n"])))
def test_matching_a_lowered_value_is_lowering_then_matching(value: object) -> None:
    pattern = r"'@(mailinator|x)\.com$'"
    fused = compile_expression(f"matches(lower(x), {pattern})").evaluate({"x": value}, NOW)
    lowered = compile_expression("lower(x)", condition=False).evaluate({"x": value}, NOW)
    apart = compile_expression(f"matches(y, {pattern})").evaluate({"y": lowered}, NOW)
    assert fused is apart
