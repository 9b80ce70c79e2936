"""Tokenizer and parser: tokens, precedence, associativity and syntax errors with positions."""

from __future__ import annotations

import pytest

from scorer.ruleset import RuleSetError, parse_expression
from scorer.ruleset.lexer import Kind, tokenize
from scorer.ruleset.nodes import (
    And,
    Arithmetic,
    Call,
    Compare,
    ListLiteral,
    Literal,
    Membership,
    Name,
    Negate,
    Not,
    Or,
)


def _shape(node: object) -> object:
    """The tree without positions, as nested tuples, for readable assertions."""
    match node:
        case Literal(value=value):
            return value
        case Name(name=name):
            return name
        case ListLiteral(items=items):
            return [_shape(item) for item in items]
        case Negate(operand=operand):
            return ("neg", _shape(operand))
        case Arithmetic(op=op, left=left, right=right) | Compare(op=op, left=left, right=right):
            return (op, _shape(left), _shape(right))
        case Membership(negated=negated, item=item, collection=collection):
            return ("not in" if negated else "in", _shape(item), _shape(collection))
        case And(left=left, right=right):
            return ("and", _shape(left), _shape(right))
        case Or(left=left, right=right):
            return ("or", _shape(left), _shape(right))
        case Not(operand=operand):
            return ("not", _shape(operand))
        case Call(function=function, args=args):
            return (function, *(_shape(arg) for arg in args))
    raise AssertionError(node)


def test_tokens_carry_kind_text_and_offset() -> None:
    tokens = tokenize("customer.count_1h >= 10 and x != 'a\\'b'")
    assert [(t.kind, t.text, t.pos) for t in tokens] == [
        (Kind.NAME, "customer.count_1h", 0),
        (Kind.OP, ">=", 18),
        (Kind.NUMBER, "10", 21),
        (Kind.KEYWORD, "and", 24),
        (Kind.NAME, "x", 28),
        (Kind.OP, "!=", 30),
        (Kind.STRING, "a'b", 33),
        (Kind.END, "", 39),
    ]


def test_strings_in_both_quotes_keep_other_backslashes_for_regexes() -> None:
    assert parse_expression('"it\'s"') == Literal("it's", 0)
    assert parse_expression(r"'^\d+\.\d{2}$'") == Literal(r"^\d+\.\d{2}$", 0)
    assert parse_expression(r"'a\\b'") == Literal("a\\b", 0)


@pytest.mark.parametrize(("text", "value"), [
    ("12", 12), ("0.5", 0.5), ("1e3", 1000.0), ("2.5E-1", 0.25),
    ("true", True), ("false", False), ("null", None), ("'x'", "x"),
])
def test_literals(text: str, value: object) -> None:
    node = parse_expression(text)
    assert isinstance(node, Literal)
    assert node.value == value
    assert type(node.value) is type(value)


@pytest.mark.parametrize(("text", "shape"), [
    ("not a or b and c", ("or", ("not", "a"), ("and", "b", "c"))),
    ("a or b and c or d", ("or", ("or", "a", ("and", "b", "c")), "d")),
    ("not a == b", ("not", ("==", "a", "b"))),
    ("not not a", ("not", ("not", "a"))),
    ("a and not b", ("and", "a", ("not", "b"))),
    ("1 + 2 * 3", ("+", 1, ("*", 2, 3))),
    ("(1 + 2) * 3", ("*", ("+", 1, 2), 3)),
    ("10 - 4 - 3", ("-", ("-", 10, 4), 3)),
    ("8 / 4 / 2", ("/", ("/", 8, 4), 2)),
    ("-a * b", ("*", ("neg", "a"), "b")),
    ("-2 - -3", ("-", ("neg", 2), ("neg", 3))),
    ("a - -b * c", ("-", "a", ("*", ("neg", "b"), "c"))),
    ("a + 1 > b * 2", (">", ("+", "a", 1), ("*", "b", 2))),
    ("x in [1, 'a'] and y not in blocked",
     ("and", ("in", "x", [1, "a"]), ("not in", "y", "blocked"))),
    ("matches(lower(email), '@x$')", ("matches", ("lower", "email"), "@x$")),
    ("is_null(a.b.c)", ("is_null", "a.b.c")),
    ("len(x) <= 3", ("<=", ("len", "x"), 3)),
])
def test_precedence_and_associativity(text: str, shape: object) -> None:
    assert _shape(parse_expression(text)) == shape


def test_nodes_record_their_offsets_and_are_frozen() -> None:
    node = parse_expression("a  >  5")
    assert node == Compare(">", Name("a", 0), Literal(5, 6), 3)
    with pytest.raises(AttributeError):
        node.op = "<"  # type: ignore[misc]


def test_multi_line_expressions_report_line_and_column() -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_expression("a > 1\n  and (b < 2\n")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert str(caught.value) == "expected ')' at 3:1, found end of expression"


@pytest.mark.parametrize(("text", "message"), [
    ("(a > 1", "expected ')' at 1:7, found end of expression"),
    ("a > 1)", "expected an operator or the end of the expression at 1:6, found ')'"),
    ("a > 1 b", "expected an operator or the end of the expression at 1:7, found 'b'"),
    ("== 3", "expected a value at 1:1, found '=='"),
    ("a ==", "expected a value at 1:5, found end of expression"),
    ("a == and b", "expected a value at 1:6, found 'and'"),
    ("x == 'abc", "unterminated string at 1:6"),
    ("a < b < c", "comparisons cannot be chained; use 'and' at 1:7, found '<'"),
    ("a == b in [1]", "comparisons cannot be chained; use 'and' at 1:8, found 'in'"),
    ("f(a,", "expected a value at 1:5, found end of expression"),
    ("f(a b)", "expected ')' at 1:5, found 'b'"),
    ("[1, 2", "expected ']' at 1:6, found end of expression"),
    ("()", "expected a value at 1:2, found ')'"),
    ("", "empty expression"),
    ("   ", "empty expression"),
    ("a = 1", "unknown operator '=' (write '==') at 1:3"),
    ("a && b", "unknown operator '&&' (write 'and') at 1:3"),
    ("!a", "unknown operator '!' (write 'not') at 1:1"),
    ("a <> b", "unknown operator '<>' (write '!=') at 1:3"),
    ("x == True", "'True' is not a keyword (write 'true') at 1:6"),
    ("x AND y", "'AND' is not a keyword (write 'and') at 1:3"),
    ("a ; b", "unexpected character ';' at 1:3"),
    ("a.", "expected a name after '.' at 1:3"),
    ("1.", "expected a digit after the decimal point at 1:2"),
    ("12abc", "malformed number at 1:1, found '12a'"),
    ("1e", "expected digits in the exponent at 1:2"),
    ("1e999 > x", "number out of range at 1:1, found '1e999'"),
    ("a not b", "expected an operator or the end of the expression at 1:3, found 'not'"),
])
def test_syntax_errors_name_the_position(text: str, message: str) -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_expression(text)
    assert str(caught.value) == message


def test_nesting_and_length_are_bounded() -> None:
    with pytest.raises(RuleSetError, match="nested deeper than"):
        parse_expression("(" * 200 + "1" + ")" * 200)
    with pytest.raises(RuleSetError, match="nested deeper than"):
        parse_expression("not " * 200 + "a")
    with pytest.raises(RuleSetError, match="longer than 4000"):
        parse_expression("a" * 4001)
    assert _shape(parse_expression("(" * 30 + "a" + ")" * 30)) == "a"
