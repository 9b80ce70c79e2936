"""What expressions evaluate to: every operator, null and type rules, functions, lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from scorer.ruleset import RuleSetError, compile_expression

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def value(text: str, row: Mapping[str, object] | None = None) -> object:
    """Evaluate ``text`` as a value expression (not necessarily a condition)."""
    return compile_expression(text, condition=False).evaluate(row or {}, NOW)


def matches(text: str, row: Mapping[str, object] | None = None) -> bool:
    """Whether the condition ``text`` matches ``row``."""
    return compile_expression(text).matches(row or {}, NOW)


ROW = {"amt": 10, "ratio": 2.5, "name": "Alice", "flag": True, "off": False, "zero": 0}


@pytest.mark.parametrize(("text", "expected"), [
    ("amt + 5", 15), ("amt - 15", -5), ("amt * ratio", 25.0), ("amt / 4", 2.5),
    ("-amt", -10), ("- -amt", 10), ("60 * 60 * 24", 86400), ("1 + 2 * 3 - 4 / 2", 5.0),
    ("amt / zero", None), ("amt / 0", None), ("missing + 1", None), ("-missing", None),
    ("name + 1", None), ("flag + 1", None), ("amt * missing", None),
])
def test_arithmetic(text: str, expected: object) -> None:
    assert value(text, ROW) == expected


def test_division_by_zero_is_null_and_comparisons_with_it_are_false() -> None:
    for op in ("==", "!=", "<", "<=", ">", ">="):
        assert not matches(f"amt / zero {op} 1", ROW)
    assert matches("is_null(amt / zero)", ROW)


@pytest.mark.parametrize(("text", "expected"), [
    ("amt == 10", True), ("amt == 10.0", True), ("amt == 11", False),
    ("amt != 11", True), ("amt != 10", False),
    ("amt < 11", True), ("amt < 10", False), ("amt <= 10", True), ("amt <= 9.99", False),
    ("amt > 9", True), ("amt > 10", False), ("amt >= 10", True), ("amt >= 10.01", False),
    ("name == 'Alice'", True), ("name != 'alice'", True),
    ("name < 'Bob'", True), ("name >= 'Bob'", False), ("'b' > name", True),
    ("ratio > amt", False), ("amt > ratio", True), ("amt >= ratio * 4", True),
    ("flag == true", True), ("off == false", True), ("flag != off", True),
])
def test_comparisons(text: str, expected: bool) -> None:
    assert matches(text, ROW) is expected


@pytest.mark.parametrize("text", [
    "missing == 1", "missing != 1", "missing < 1", "missing <= 1", "missing > 1",
    "missing >= 1", "1 == missing", "missing == other", "missing != other",
    "missing in [1, 2]", "missing not in [1, 2]",
    "missing", "missing and true", "not missing", "not (missing)",
])
def test_null_makes_every_comparison_and_condition_false(text: str) -> None:
    assert matches(text, ROW) is False


def test_explicit_null_values_in_the_row_behave_like_missing_ones() -> None:
    assert not matches("x == 1", {"x": None})
    assert not matches("x != 1", {"x": None})
    assert matches("is_null(x)", {"x": None})
    assert matches("is_null(x)", {})
    assert not matches("is_null(x)", {"x": 0})


def test_not_of_a_false_comparison_is_true_even_when_its_input_is_missing() -> None:
    # Documented: the comparison is false (not null), so its negation is true.
    assert matches("not (missing > 5)", ROW)


@pytest.mark.parametrize(("text", "expected"), [
    ("amt == '10'", False), ("amt != '10'", True), ("flag == 1", False),
    ("off == 0", False), ("amt < name", False), ("amt > name", False),
    ("flag > off", False), ("flag in [1]", False), ("amt in [true]", False),
])
def test_values_of_different_types_never_compare_equal_or_ordered(text: str,
                                                                   expected: bool) -> None:
    assert matches(text, ROW) is expected


def test_and_or_short_circuit() -> None:
    # The right-hand side would be false/null anyway; short-circuit is observed
    # through a nested mapping that raises when it is looked into.
    class Exploding(dict[str, object]):
        def get(self, key: str, default: object = None) -> object:
            raise AssertionError("evaluated")

    row = {"amt": 10, "boom": Exploding()}
    assert matches("amt > 5 or boom.x == 1", row)
    assert not matches("amt < 5 and boom.x == 1", row)
    with pytest.raises(AssertionError, match="evaluated"):
        matches("amt > 5 and boom.x == 1", row)


@pytest.mark.parametrize(("text", "expected"), [
    ("flag and amt > 5", True), ("flag and off", False), ("off or flag", True),
    ("off or off", False), ("not off", True), ("not flag", False),
    ("amt > 50 or amt < 20 and name == 'Alice'", True),
    ("(amt > 50 or amt < 20) and name == 'Bob'", False),
    ("not amt > 50", True),
])
def test_logic(text: str, expected: bool) -> None:
    assert matches(text, ROW) is expected


def test_only_true_counts_as_true() -> None:
    assert not matches("x", {"x": 1})
    assert not matches("x", {"x": "yes"})
    assert not matches("x and true", {"x": 1})
    assert not matches("not x", {"x": 0})  # not 0 is not "true": 0 is not false
    assert matches("x", {"x": True})


@pytest.mark.parametrize(("text", "expected"), [
    ("name in ['Alice', 'Bob']", True), ("name not in ['Alice', 'Bob']", False),
    ("name in ['alice']", False), ("amt in [1, 10]", True), ("amt in [10.0]", True),
    ("amt not in [1, 2]", True), ("ratio in [-2.5, 2.5]", True), ("amt in []", False),
    ("flag in [true]", True), ("off in [true]", False), ("name in [1, 'Alice']", True),
])
def test_membership_in_list_literals(text: str, expected: bool) -> None:
    assert matches(text, ROW) is expected


def test_membership_of_unhashable_or_odd_values_is_false() -> None:
    assert not matches("x in [1]", {"x": [1]})
    assert not matches("x not in [1]", {"x": {"a": 1}})
    assert not matches("x in [1]", {"x": float("nan")})


def test_dotted_names_read_flat_keys_first_then_nested_mappings() -> None:
    assert matches("customer.count_1h > 10", {"customer.count_1h": 11})
    assert matches("customer.count_1h > 10", {"customer": {"count_1h": 11}})
    assert not matches("customer.count_1h > 10",
                       {"customer.count_1h": 1, "customer": {"count_1h": 11}})
    assert not matches("customer.count_1h > 10", {"customer": 5})
    assert not matches("a.b.c == 1", {"a": {"b": None}})


def test_names_only_ever_read_mapping_keys_never_attributes() -> None:
    class Obj:
        secret = 42

    assert not matches("o.secret == 42", {"o": Obj()})
    assert not matches("name.upper == 1", ROW)


@pytest.mark.parametrize(("text", "row", "expected"), [
    ("lower(name)", ROW, "alice"), ("lower(amt)", ROW, None), ("lower(missing)", ROW, None),
    ("abs(x)", {"x": -3.5}, 3.5), ("abs(amt - 15)", ROW, 5), ("abs(name)", ROW, None),
    ("abs(flag)", ROW, None), ("len(name)", ROW, 5), ("len(x)", {"x": [1, 2]}, 2),
    ("len(amt)", ROW, None), ("len(missing)", ROW, None), ("len('')", {}, 0),
    ("is_null(missing)", ROW, True), ("is_null(name)", ROW, False),
    ("is_null(null)", {}, True), ("lower('ABC')", {}, "abc"),
])
def test_functions(text: str, row: Mapping[str, object], expected: object) -> None:
    assert value(text, row) == expected


@pytest.mark.parametrize(("email", "expected"), [
    ("someone@mailinator.com", True), ("Someone@MAILINATOR.com", True),
    ("someone@mailinator.com.evil", False), ("someone@gmail.com", False),
])
def test_matches_searches_with_the_load_time_compiled_regex(email: str, expected: bool) -> None:
    expression = compile_expression(r"matches(lower(email), '@(mailinator|yopmail)\.com$')")
    assert expression.matches({"email": email}, NOW) is expected


def test_matches_on_non_strings_is_false() -> None:
    assert not matches("matches(x, '1')", {"x": 1})
    assert not matches("matches(x, '.*')", {})
    assert not matches("not matches(x, '.*')", {"x": "a"})


def test_reasonable_evaluation_never_raises_on_odd_row_values() -> None:
    odd: list[object] = [None, True, 0, -1.5, float("inf"), float("nan"), "", "x",
                         [1], (2,), {"k": 1}, object(), NOW, 10**400]
    texts = ["a + b > 1", "a / b == 1", "-a < b", "a == b", "a != b", "a < b",
             "a in [1, 'x']", "lower(a) == b", "abs(a) > 0", "len(a) > 0",
             "matches(a, 'x')", "a and b", "not a or b", "is_null(a)"]
    compiled = [compile_expression(t) for t in texts]
    for a in odd:
        for b in odd:
            for expression in compiled:
                assert expression.evaluate({"a": a, "b": b}, NOW) in (True, False)


def test_named_lists_in_expressions_respect_expiry() -> None:
    class OneEntry:
        def contains(self, value: object, now: datetime) -> bool:
            return value == "bad@x.invalid" and now < NOW + timedelta(days=1)

    expression = compile_expression("email in blocked", {"blocked": OneEntry()})
    assert expression.matches({"email": "bad@x.invalid"}, NOW)
    assert not expression.matches({"email": "bad@x.invalid"}, NOW + timedelta(days=2))
    assert not expression.matches({"email": "ok@x.invalid"}, NOW)
    negated = compile_expression("email not in blocked", {"blocked": OneEntry()})
    assert negated.matches({"email": "ok@x.invalid"}, NOW)
    assert not negated.matches({}, NOW)


@pytest.mark.parametrize(("text", "message"), [
    ("foo(1)", "unknown function 'foo' (known: abs, is_null, len, lower, matches) at 1:1"),
    ("a.b(1)", "unknown function 'a.b'"),
    ("lower(a, b) == 'x'", "lower() takes 1 argument, got 2 at 1:1"),
    ("matches(a)", "matches() takes 2 arguments, got 1 at 1:1"),
    ("is_null()", "is_null() takes 1 argument, got 0 at 1:1"),
    ("matches(a, '(')", "invalid regular expression: missing ), unterminated subpattern at 1:12"),
    ("matches(a, '[a-')", "invalid regular expression"),
    ("matches(a, '*')", "invalid regular expression: nothing to repeat at 1:12"),
    ("matches(a, b)", "matches() needs the pattern as a string literal at 1:12"),
    ("matches(a, lower('x'))", "matches() needs the pattern as a string literal"),
    ("matches(a, 1)", "matches() needs the pattern as a string literal at 1:12"),
    ("x == null", "a comparison with null is always false; use is_null(x) at 1:6"),
    ("null != x", "a comparison with null is always false; use is_null(x) at 1:1"),
    ("null in [1]", "null is never in a list; use is_null(x) at 1:1"),
    ("x in [1, null]", "null is never in a list; use is_null(x) at 1:10"),
    ("x in [y]", "list elements must be literals at 1:7"),
    ("x in [[1]]", "list elements must be literals at 1:7"),
    ("x in y", "unknown list 'y' (none are defined) at 1:6"),
    ("x in 'abc'", "'in' needs a list [a, b] or the name of a list at 1:6"),
    ("x == [1]", "a list can only follow 'in' or 'not in' at 1:6"),
    ("len([1, 2]) > 1", "a list can only follow 'in' or 'not in' at 1:5"),
    ("'a' + 1 > 0", "'+' needs numbers, not a string at 1:1"),
    ("-'a' < 0", "'-' needs a number, not a string at 1:2"),
    ("(a > 1) * 2 > 0", "'*' needs numbers, not a condition at 1:2"),
    ("1 == 'a'", "cannot compare a number with a string at 1:6"),
    ("(a > b) < 1", "cannot compare a condition with a number"),
    ("(a > b) < c", "'<' needs numbers or strings, not a condition at 1:2"),
    ("a and 5", "'and' needs a condition, not a number at 1:7"),
    ("'x' or a", "'or' needs a condition, not a string at 1:1"),
    ("not 1", "'not' needs a condition, not a number at 1:5"),
    ("abs('x') > 1", "abs() needs a number, not a string at 1:5"),
    ("lower(1) == 'a'", "lower() needs a string, not a number at 1:7"),
    ("amt + 1", "a rule must be a condition, not a number at 1:1"),
    ("  lower(name)", "a rule must be a condition, not a string at 1:3"),
])
def test_load_time_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        compile_expression(text)
    assert message in str(caught.value)


def test_constant_sub_expressions_are_folded() -> None:
    assert matches("amt < 60 * 60", ROW)
    assert matches("1 + 1 == 2")
    assert not matches("1 / 0 == 1")
    assert matches("is_null(1 / 0)")
