"""Security and robustness: no code execution, and junk only ever raises RuleSetError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorer.ruleset import (
    CompiledExpression,
    RuleSet,
    RuleSetError,
    compile_expression,
    parse_rule_set,
)

NOW = datetime(2026, 11, 25, tzinfo=UTC)


@pytest.mark.parametrize("text", [
    "__import__('os')",
    "__import__('os').system('true')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "x.__class__ == 1",
    "email.__len__() > 1",
    "eval('1')",
    "exec('x = 1')",
    "compile('1', 'f', 'eval')",
    "getattr(x, 'y')",
    "open('/etc/passwd')",
    "globals()",
    "lambda: 1",
    "[x for x in y]",
    "x if y else z",
    "f'{x}'",
    "x[0] == 1",
    "x.y()",
    "1; import os",
    "`id`",
    "${jndi:ldap://x}",
])
def test_code_injection_attempts_are_rejected_at_load_time(text: str) -> None:
    with pytest.raises(RuleSetError):
        compile_expression(text)


def test_yaml_cannot_build_python_objects() -> None:
    text = 'version: !!python/object/apply:os.system ["true"]\nmode: ALL_MATCHED\nrules: []\n'
    with pytest.raises(RuleSetError, match="invalid YAML"):
        parse_rule_set(text)


_FRAGMENTS = st.sampled_from([
    "a", "b.c", "x_1", "1", "2.5", "1e3", "'s'", '"t"', "true", "false", "null",
    "and", "or", "not", "in", "not in", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*",
    "/", "(", ")", "[", "]", ",", "matches", "lower", "abs", "len", "is_null", "'('",
    " ", "\n", ".", "=", "!", "'", "__x", "nope(", "\\",
])


ROW = {"a": 1, "b": {"c": "x"}}


def _compiled_or_none(text: str) -> CompiledExpression | None:
    """The compiled expression, or ``None`` when it is rejected with a RuleSetError."""
    try:
        return compile_expression(text)
    except RuleSetError:
        return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60))
def test_random_text_only_ever_raises_rule_set_errors(text: str) -> None:
    expression = _compiled_or_none(text)
    if expression is not None:
        assert expression.matches(ROW, NOW) in (True, False)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_FRAGMENTS, max_size=25).map(" ".join))
def test_random_token_soup_only_ever_raises_rule_set_errors(text: str) -> None:
    expression = _compiled_or_none(text)
    if expression is not None:
        assert expression.matches(ROW, NOW) in (True, False)
        assert expression.matches({}, NOW) in (True, False)


def _rule_set_or_none(text: str) -> RuleSet | None:
    try:
        return parse_rule_set(text)
    except RuleSetError:
        return None


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_yaml_only_ever_raises_rule_set_errors(text: str) -> None:
    rules = _rule_set_or_none(text)
    if rules is not None:
        assert rules.version


_ATOMS = st.sampled_from(["a", "b.c", "missing", "1", "0", "-2.5", "'x'", "true", "false",
                          "null", "lower(a)", "abs(a)", "len(b.c)", "is_null(a)",
                          "matches(a, 'x+')"])


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(
        ["and", "or", "==", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"]), children)
    return st.one_of(
        binary.map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        children.map(lambda c: f"not {c}"),
        children.map(lambda c: f"-{c}"),
        children.map(lambda c: f"{c} in [1, 'x', true]"),
        children.map(lambda c: f"{c} not in [0]"),
    )


_GRAMMAR = st.recursive(_ATOMS, _combine, max_leaves=12)
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5),
                    st.lists(st.integers(), max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_GRAMMAR, _VALUES, _VALUES)
def test_grammatical_expressions_evaluate_to_a_boolean_match_on_any_values(
        text: str, a: object, c: object) -> None:
    expression = _compiled_or_none(text)
    if expression is not None:
        assert expression.matches({"a": a, "b": {"c": c}}, NOW) in (True, False)
