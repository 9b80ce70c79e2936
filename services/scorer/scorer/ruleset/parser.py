"""A recursive-descent (Pratt) parser: tokens to a tree of :mod:`scorer.ruleset.nodes`.

Binding powers, loosest first::

    or  <  and  <  not  <  comparisons, in, not in  <  + -  <  * /  <  unary -

so ``not a or b and c`` is ``(not a) or (b and c)`` and ``not a == b`` is
``not (a == b)``. Comparisons do not chain: ``a < b < c`` is an error.
"""

from __future__ import annotations

import math

from scorer.ruleset.errors import RuleSetError, error_at
from scorer.ruleset.lexer import Kind, Token, tokenize
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
    Node,
    Not,
    Or,
)

MAX_DEPTH = 64
"""Deeper nesting is rejected (and keeps Python's recursion limit far away)."""

_OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _UNARY = 10, 20, 30, 40, 50, 60, 70
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})
_INFIX_OPS = {
    "+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT,
    **dict.fromkeys(_COMPARISONS, _COMPARE),
}
_LITERAL_KEYWORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None}


def parse_expression(text: str) -> Node:
    """Parse one expression; raises :class:`RuleSetError` with the position on any error."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    # -- token helpers -------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def _peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def _at_end(self) -> bool:
        return self.token.kind is Kind.END

    def _advance(self) -> Token:
        token = self.token
        if token.kind is not Kind.END:
            self.index += 1
        return token

    def _error(self, message: str, token: Token | None = None) -> RuleSetError:
        token = token or self.token
        return error_at(self.text, token.pos, message, token.describe())

    def _expect_op(self, op: str) -> Token:
        if self.token.kind is Kind.OP and self.token.text == op:
            return self._advance()
        raise self._error(f"expected '{op}'")

    # -- grammar -------------------------------------------------------------
    def parse(self) -> Node:
        if self.token.kind is Kind.END:
            raise RuleSetError("empty expression")
        node = self._expression(0)
        if not self._at_end():
            raise self._error("expected an operator or the end of the expression")
        return node

    def _expression(self, min_power: int) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self._error(f"expression nested deeper than {MAX_DEPTH} levels")
        left = self._prefix()
        while True:
            power, op = self._infix_power()
            if power <= min_power:
                break
            left = self._infix(left, op, power)
        self.depth -= 1
        return left

    def _infix_power(self) -> tuple[int, str]:
        """The binding power and operator of the current token in infix position (0: none)."""
        token = self.token
        if token.kind is Kind.OP and token.text in _INFIX_OPS:
            return _INFIX_OPS[token.text], token.text
        if token.kind is Kind.KEYWORD:
            if token.text == "or":
                return _OR, "or"
            if token.text == "and":
                return _AND, "and"
            if token.text == "in":
                return _COMPARE, "in"
            if token.text == "not" and self._peek().kind is Kind.KEYWORD \
                    and self._peek().text == "in":
                return _COMPARE, "not in"
        return 0, ""

    def _infix(self, left: Node, op: str, power: int) -> Node:
        token = self._advance()
        if op == "not in":
            self._advance()
        if op == "or":
            return Or(left, self._expression(power), token.pos)
        if op == "and":
            return And(left, self._expression(power), token.pos)
        right = self._expression(power)
        if power == _COMPARE:
            follower = self.token
            if (follower.kind is Kind.OP and follower.text in _COMPARISONS) \
                    or (follower.kind is Kind.KEYWORD and follower.text == "in") \
                    or (follower.kind is Kind.KEYWORD and follower.text == "not" \
                    and self._peek().text == "in"):
                raise self._error("comparisons cannot be chained; use 'and'", follower)
            if op in ("in", "not in"):
                return Membership(op == "not in", left, right, token.pos)
            return Compare(op, left, right, token.pos)
        return Arithmetic(op, left, right, token.pos)

    def _prefix(self) -> Node:
        token = self.token
        if token.kind is Kind.NUMBER:
            self._advance()
            value = _number_value(token.text)
            if not math.isfinite(value):
                raise self._error("number out of range", token)
            return Literal(value, token.pos)
        if token.kind is Kind.STRING:
            self._advance()
            return Literal(token.text, token.pos)
        if token.kind is Kind.KEYWORD:
            if token.text in _LITERAL_KEYWORDS:
                self._advance()
                return Literal(_LITERAL_KEYWORDS[token.text], token.pos)
            if token.text == "not":
                self._advance()
                return Not(self._expression(_NOT), token.pos)
        if token.kind is Kind.NAME:
            self._advance()
            if self.token.kind is Kind.OP and self.token.text == "(":
                return self._call(token)
            return Name(token.text, token.pos)
        if token.kind is Kind.OP:
            if token.text == "-":
                self._advance()
                return Negate(self._expression(_UNARY), token.pos)
            if token.text == "(":
                self._advance()
                node = self._expression(0)
                self._expect_op(")")
                return node
            if token.text == "[":
                return self._list()
        raise self._error("expected a value")

    def _call(self, name: Token) -> Node:
        self._expect_op("(")
        args: list[Node] = []
        if not (self.token.kind is Kind.OP and self.token.text == ")"):
            args.append(self._expression(0))
            while self.token.kind is Kind.OP and self.token.text == ",":
                self._advance()
                args.append(self._expression(0))
        self._expect_op(")")
        return Call(name.text, tuple(args), name.pos)

    def _list(self) -> Node:
        start = self._expect_op("[")
        items: list[Node] = []
        if not (self.token.kind is Kind.OP and self.token.text == "]"):
            items.append(self._expression(0))
            while self.token.kind is Kind.OP and self.token.text == ",":
                self._advance()
                items.append(self._expression(0))
        self._expect_op("]")
        return ListLiteral(tuple(items), start.pos)


def _number_value(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)
