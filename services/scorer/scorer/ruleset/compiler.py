"""Type-check a tree at load time and turn it into nested closures.

Checking catches, before any event is scored: unknown functions, wrong arity,
invalid regular expressions, unknown list names, list literals outside ``in``,
comparisons with the literal ``null`` and operations on literals of the wrong
type (``'a' + 1``). Variables are untyped (their value is only known per event),
so operations on them are checked at evaluation time, where a wrong type gives
null (or false for a comparison) instead of an exception.

Each node becomes a closure ``(row, now) -> value``; evaluating a rule is a few
nested calls with no tree walking, no ``eval`` and no attribute access: a
variable is only ever looked up with ``Mapping.get``. A caller whose events are
not mappings (the scorer's engine) can compile the same checked tree again with
its own variable readers (:func:`recompile`), which must read what
:func:`variable_getter` reads from the equivalent mapping.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol

from scorer.ruleset import values
from scorer.ruleset.errors import RuleSetError, error_at
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
    Node,
    Not,
    Or,
)
from scorer.ruleset.parser import parse_expression

Row = Mapping[str, object]
"""One event: field, feature and model-score names to values."""

Evaluator = Callable[[Row, datetime], object]
"""A compiled expression: ``(row, now) -> value``."""

VariableFactory = Callable[[str], Callable[[Any, datetime], object]]
"""How a variable is read: name → ``(row, now) -> value`` (:func:`variable_getter` for mappings)."""

MAX_REGEX_LENGTH = 512
"""Longer patterns are rejected (Python's ``re`` has no time limit; keep them simple)."""

_MISSING = object()
_NO_ROW: Row = {}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ListLookup(Protocol):
    """A named allow/block list as expressions see it."""

    def contains(self, value: object, now: datetime) -> bool:
        """Whether ``value`` has an entry that has not expired at ``now``."""
        ...


class Type(Enum):
    """What the checker knows about a node's value."""

    ANY = "a variable"
    BOOL = "a condition"
    NUMBER = "a number"
    STRING = "a string"
    NULL = "null"


@dataclass(frozen=True, slots=True)
class _Compiled:
    fn: Evaluator
    type: Type
    constant: bool


@dataclass(frozen=True)
class CompiledExpression:
    """A checked expression ready to evaluate."""

    text: str
    tree: Node
    evaluate: Evaluator

    def matches(self, row: Row, now: datetime) -> bool:
        """Whether the expression is exactly ``true`` for ``row``."""
        return self.evaluate(row, now) is True


def compile_expression(text: str, lists: Mapping[str, ListLookup] | None = None,
                       *, condition: bool = True) -> CompiledExpression:
    """Parse, check and compile ``text``; raises :class:`RuleSetError` with the position.

    ``lists`` are the named lists ``in`` may refer to. With ``condition`` the
    expression must be a condition (a rule's), not a number or a string.
    """
    tree = parse_expression(text)
    compiled = _Compiler(text, lists or {}, variable_getter).compile(tree)
    if condition and compiled.type not in (Type.BOOL, Type.ANY):
        start = len(text) - len(text.lstrip())
        raise error_at(text, start, f"a rule must be a condition, not {compiled.type.value}")
    return CompiledExpression(text, tree, compiled.fn)


def recompile(expression: CompiledExpression, lists: Mapping[str, ListLookup] | None,
              variable: VariableFactory) -> Callable[[Any, datetime], object]:
    """``expression`` compiled again, reading its variables with ``variable``.

    The tree already passed every load-time check; only the leaves change, so
    the result evaluates a row exactly as ``expression`` evaluates the mapping
    whose variables ``variable`` reads the same values.
    """
    return _Compiler(expression.text, lists or {}, variable).compile(expression.tree).fn


def variable_getter(name: str) -> Evaluator:
    """Look ``name`` up in the row: the flat key first, then nested mappings by dots.

    ``customer.count_1h`` is ``row["customer.count_1h"]`` when present, else
    ``row["customer"]["count_1h"]``; anything missing is null.
    """
    if "." not in name:
        def get_flat(row: Row, now: datetime) -> object:
            return row.get(name)
        return get_flat
    parts = tuple(name.split("."))

    def get_dotted(row: Row, now: datetime) -> object:
        value = row.get(name, _MISSING)
        if value is not _MISSING:
            return value
        current: object = row
        for part in parts:
            if not isinstance(current, Mapping):
                return None
            current = current.get(part)
        return current
    return get_dotted


def names_in(node: Node) -> frozenset[str]:
    """Every name in a tree: the variables it reads (and the lists ``in`` refers to)."""
    match node:
        case Name(name=name):
            return frozenset((name,))
        case Literal():
            return frozenset()
        case ListLiteral(items=items) | Call(args=items):
            return frozenset().union(*(names_in(item) for item in items))
        case Negate(operand=operand) | Not(operand=operand):
            return names_in(operand)
        case Membership(item=left, collection=right):
            return names_in(left) | names_in(right)
        case Arithmetic(left=left, right=right) | Compare(left=left, right=right):
            return names_in(left) | names_in(right)
        case And(left=left, right=right) | Or(left=left, right=right):
            return names_in(left) | names_in(right)
    raise AssertionError(f"unhandled node {type(node).__name__}")  # pragma: no cover


def check_name(text: str) -> str:
    """``text`` if it is one (dotted) variable name, else :class:`RuleSetError`."""
    tokens = tokenize(text)
    if len(tokens) != 2 or tokens[0].kind is not Kind.NAME:
        raise RuleSetError(f"{text!r} is not a variable name")
    return text


def _constant(value: object) -> Evaluator:
    def const(row: Row, now: datetime) -> object:
        return value
    return const


def _type_of(value: object) -> Type:
    if value is None:
        return Type.NULL
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, str):
        return Type.STRING
    return Type.NUMBER


_ORDERING: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


@dataclass(frozen=True)
class _Function:
    arity: int
    arg_types: tuple[frozenset[Type], ...]
    result: Type


_ANY_VALUE = frozenset(Type)
_STRINGY = frozenset({Type.ANY, Type.STRING})
_NUMERIC = frozenset({Type.ANY, Type.NUMBER})

FUNCTIONS: dict[str, _Function] = {
    # The pattern's own check (a string literal) is in _Compiler._matches.
    "matches": _Function(2, (_STRINGY, _ANY_VALUE), Type.BOOL),
    "lower": _Function(1, (_STRINGY,), Type.STRING),
    "abs": _Function(1, (_NUMERIC,), Type.NUMBER),
    "len": _Function(1, (_STRINGY,), Type.NUMBER),
    "is_null": _Function(1, (_ANY_VALUE,), Type.BOOL),
}
"""The whitelist: name → arity, accepted argument types and result type."""


class _Compiler:
    def __init__(self, text: str, lists: Mapping[str, ListLookup],
                 variable: VariableFactory) -> None:
        self.text = text
        self.lists = lists
        self.variable = variable

    def _error(self, node: Node, message: str) -> RuleSetError:
        return error_at(self.text, _start(node), message)

    def _require(self, compiled: _Compiled, allowed: frozenset[Type], node: Node,
                 what: str) -> None:
        if compiled.type not in allowed:
            raise self._error(node, f"{what}, not {compiled.type.value}")

    def compile(self, node: Node) -> _Compiled:
        compiled = self._compile(node)
        if compiled.constant and not isinstance(node, Literal):
            # Fold constant sub-expressions (``60 * 60``) once, at load time.
            value = compiled.fn(_NO_ROW, _EPOCH)
            return _Compiled(_constant(value), compiled.type, True)
        return compiled

    def _compile(self, node: Node) -> _Compiled:
        match node:
            case Literal(value=value):
                return _Compiled(_constant(value), _type_of(value), True)
            case Name(name=name):
                return _Compiled(self.variable(name), Type.ANY, False)
            case ListLiteral():
                raise self._error(node, "a list can only follow 'in' or 'not in'")
            case Negate(operand=operand):
                return self._negate(node, self.compile(operand))
            case Arithmetic(op=op, left=left, right=right):
                return self._arithmetic(op, left, right)
            case Compare(op=op, left=left, right=right):
                return self._compare(op, left, right)
            case Membership():
                return self._membership(node)
            case And(left=left, right=right):
                return self._logical(left, right, is_and=True)
            case Or(left=left, right=right):
                return self._logical(left, right, is_and=False)
            case Not(operand=operand):
                return self._not(operand)
            case Call():
                return self._call(node)
        raise AssertionError(f"unhandled node {type(node).__name__}")  # pragma: no cover

    # -- arithmetic ----------------------------------------------------------
    def _negate(self, node: Negate, operand: _Compiled) -> _Compiled:
        self._require(operand, _NUMERIC, node.operand, "'-' needs a number")
        get = operand.fn

        def negate(row: Row, now: datetime) -> object:
            value = get(row, now)
            return -value if values.is_number(value) else None  # type: ignore[operator]
        return _Compiled(negate, Type.NUMBER, operand.constant)

    def _arithmetic(self, op: str, left_node: Node, right_node: Node) -> _Compiled:
        left, right = self.compile(left_node), self.compile(right_node)
        self._require(left, _NUMERIC, left_node, f"'{op}' needs numbers")
        self._require(right, _NUMERIC, right_node, f"'{op}' needs numbers")
        lf, rf, apply = left.fn, right.fn, _ARITHMETIC[op]
        is_number = values.is_number
        divide = op == "/"

        def arithmetic(row: Row, now: datetime) -> object:
            a = lf(row, now)
            if not is_number(a):
                return None
            b = rf(row, now)
            if not is_number(b) or (divide and b == 0):
                return None
            try:
                return apply(a, b)
            except (OverflowError, ValueError):  # huge ints: no value rather than a crash
                return None
        return _Compiled(arithmetic, Type.NUMBER, left.constant and right.constant)

    # -- comparisons ---------------------------------------------------------
    def _compare(self, op: str, left_node: Node, right_node: Node) -> _Compiled:
        left, right = self.compile(left_node), self.compile(right_node)
        for side, node in ((left, left_node), (right, right_node)):
            if side.type is Type.NULL:
                raise self._error(node, "a comparison with null is always false; "
                                        "use is_null(x)")
        known = {left.type, right.type} - {Type.ANY}
        if len(known) > 1:
            raise self._error(right_node, f"cannot compare {left.type.value} "
                                          f"with {right.type.value}")
        lf, rf = left.fn, right.fn
        constant = left.constant and right.constant
        if op in ("==", "!="):
            test = values.equal if op == "==" else values.not_equal

            def equality(row: Row, now: datetime) -> object:
                return test(lf(row, now), rf(row, now))
            return _Compiled(equality, Type.BOOL, constant)
        if known & {Type.BOOL}:
            raise self._error(left_node, f"'{op}' needs numbers or strings, not a condition")
        apply = _ORDERING[op]
        orderable = values.orderable
        if right.constant and right.type is Type.NUMBER:
            # The common ``score >= 900``: no generic dispatch.
            return _Compiled(_against_number(op, lf, rf(_NO_ROW, _EPOCH)), Type.BOOL, constant)

        def ordering(row: Row, now: datetime) -> object:
            a, b = lf(row, now), rf(row, now)
            return orderable(a, b) and apply(a, b)
        return _Compiled(ordering, Type.BOOL, constant)

    def _membership(self, node: Membership) -> _Compiled:
        item = self.compile(node.item)
        if item.type is Type.NULL:
            raise self._error(node.item, "null is never in a list; use is_null(x)")
        get, negated = item.fn, node.negated
        collection = node.collection
        key = values.membership_key
        if isinstance(collection, ListLiteral):
            keys = self._literal_keys(collection)

            def in_literal(row: Row, now: datetime) -> object:
                k = key(get(row, now))
                return k is not None and (k not in keys if negated else k in keys)
            return _Compiled(in_literal, Type.BOOL, item.constant)
        if isinstance(collection, Name):
            named = self.lists.get(collection.name)
            if named is None:
                known = ", ".join(sorted(self.lists)) or "none are defined"
                raise self._error(collection, f"unknown list '{collection.name}' ({known})")
            contains = named.contains

            def in_named(row: Row, now: datetime) -> object:
                value = get(row, now)
                if key(value) is None:
                    return False
                return contains(value, now) is not negated
            return _Compiled(in_named, Type.BOOL, False)
        raise self._error(collection, "'in' needs a list [a, b] or the name of a list")

    def _literal_keys(self, collection: ListLiteral) -> frozenset[Hashable]:
        keys: set[Hashable] = set()
        for element in collection.items:
            compiled = self.compile(element) if not isinstance(element, ListLiteral) else None
            if compiled is None or not compiled.constant:
                raise self._error(element, "list elements must be literals")
            if compiled.type is Type.NULL:
                raise self._error(element, "null is never in a list; use is_null(x)")
            k = values.membership_key(compiled.fn(_NO_ROW, _EPOCH))
            if k is None:
                raise self._error(element, "list elements must be numbers, strings or booleans")
            keys.add(k)
        return frozenset(keys)

    # -- logic ---------------------------------------------------------------
    def _condition(self, node: Node, what: str) -> _Compiled:
        compiled = self.compile(node)
        self._require(compiled, frozenset({Type.BOOL, Type.ANY}), node, f"{what} a condition")
        return compiled

    def _logical(self, left_node: Node, right_node: Node, *, is_and: bool) -> _Compiled:
        word = "'and'" if is_and else "'or'"
        left = self._condition(left_node, f"{word} needs")
        right = self._condition(right_node, f"{word} needs")
        lf, rf = left.fn, right.fn
        constant = left.constant and right.constant
        if is_and:
            def both(row: Row, now: datetime) -> object:
                return lf(row, now) is True and rf(row, now) is True
            return _Compiled(both, Type.BOOL, constant)

        def either(row: Row, now: datetime) -> object:
            return lf(row, now) is True or rf(row, now) is True
        return _Compiled(either, Type.BOOL, constant)

    def _not(self, operand_node: Node) -> _Compiled:
        operand = self._condition(operand_node, "'not' needs")
        get = operand.fn

        def negation(row: Row, now: datetime) -> object:
            # Only an actual false negates to true: ``not`` of a missing (null)
            # variable is false, in line with "a comparison with null is false".
            return get(row, now) is False
        return _Compiled(negation, Type.BOOL, operand.constant)

    # -- functions -----------------------------------------------------------
    def _call(self, node: Call) -> _Compiled:
        spec = FUNCTIONS.get(node.function)
        if spec is None:
            known = ", ".join(sorted(FUNCTIONS))
            raise self._error(node, f"unknown function '{node.function}' (known: {known})")
        if len(node.args) != spec.arity:
            plural = "s" if spec.arity != 1 else ""
            raise self._error(node, f"{node.function}() takes {spec.arity} argument{plural}, "
                                    f"got {len(node.args)}")
        args = [self.compile(arg) for arg in node.args]
        for arg, arg_node, allowed in zip(args, node.args, spec.arg_types, strict=True):
            self._require(arg, allowed, arg_node,
                          f"{node.function}() needs {_describe(allowed)}")
        get = args[0].fn
        if node.function == "matches":
            inner = node.args[0]
            if isinstance(inner, Call) and inner.function == "lower" and len(inner.args) == 1:
                # ``matches(lower(x), p)`` (checked above): lower() inside the match.
                lowered = self.compile(inner.args[0]).fn
                return _Compiled(self._matches(lowered, node.args[1], lower=True), Type.BOOL,
                                 False)
            return _Compiled(self._matches(get, node.args[1]), Type.BOOL, False)
        fn: Evaluator
        if node.function == "lower":
            def fn(row: Row, now: datetime) -> object:
                value = get(row, now)
                return value.lower() if isinstance(value, str) else None
        elif node.function == "abs":
            def fn(row: Row, now: datetime) -> object:
                value = get(row, now)
                return abs(value) if values.is_number(value) else None  # type: ignore[arg-type]
        elif node.function == "len":
            def fn(row: Row, now: datetime) -> object:
                value = get(row, now)
                return len(value) if isinstance(value, str | list | tuple) else None
        else:  # is_null
            def fn(row: Row, now: datetime) -> object:
                return get(row, now) is None
        return _Compiled(fn, spec.result, args[0].constant)

    def _matches(self, get: Evaluator, pattern_node: Node, *, lower: bool = False) -> Evaluator:
        if not isinstance(pattern_node, Literal) or not isinstance(pattern_node.value, str):
            raise self._error(pattern_node, "matches() needs the pattern as a string literal")
        pattern = pattern_node.value
        if len(pattern) > MAX_REGEX_LENGTH:
            raise self._error(pattern_node, f"regular expression longer than "
                                            f"{MAX_REGEX_LENGTH} characters")
        try:
            search = re.compile(pattern).search
        except (re.error, RecursionError, OverflowError) as exc:
            reason = getattr(exc, "msg", None) or type(exc).__name__
            raise self._error(pattern_node, f"invalid regular expression: {reason}") from None

        def matches(row: Row, now: datetime) -> object:
            value = get(row, now)
            return isinstance(value, str) and search(value) is not None
        if not lower:
            return matches

        def matches_lower(row: Row, now: datetime) -> object:
            value: Any = get(row, now)
            if type(value) is str:
                return search(value.lower()) is not None
            # What lower() then matches() do with anything else (a str subclass's
            # lower() may return anything).
            value = value.lower() if isinstance(value, str) else None
            return isinstance(value, str) and search(value) is not None
        return matches_lower


def _against_number(op: str, get: Evaluator, bound: object) -> Evaluator:
    """``get(row) <op> bound`` for a constant number: ``is_number(a) and a <op> bound``.

    One closure per operator, with the operator written out and exact ``float``
    and ``int`` (the usual values) taken before the general number test: about
    half the time of calling ``is_number`` and an ``operator`` function.
    """
    is_number, none = values.is_number, type(None)
    b: Any = bound
    if op == "<":
        def lt(row: Row, now: datetime) -> object:
            a: Any = get(row, now)
            kind = type(a)
            if kind is float or kind is int:
                return a < b
            return kind is not none and is_number(a) and a < b
        return lt
    if op == "<=":
        def le(row: Row, now: datetime) -> object:
            a: Any = get(row, now)
            kind = type(a)
            if kind is float or kind is int:
                return a <= b
            return kind is not none and is_number(a) and a <= b
        return le
    if op == ">":
        def gt(row: Row, now: datetime) -> object:
            a: Any = get(row, now)
            kind = type(a)
            if kind is float or kind is int:
                return a > b
            return kind is not none and is_number(a) and a > b
        return gt
    if op != ">=":
        raise AssertionError(f"not an ordering: {op}")  # pragma: no cover

    def ge(row: Row, now: datetime) -> object:
        a: Any = get(row, now)
        kind = type(a)
        if kind is float or kind is int:
            return a >= b
        return kind is not none and is_number(a) and a >= b
    return ge


def _start(node: Node) -> int:
    """Where ``node``'s text starts (a binary node's own offset is its operator's)."""
    while isinstance(node, Arithmetic | Compare | And | Or):
        node = node.left
    if isinstance(node, Membership):
        return _start(node.item)
    return node.pos


def _describe(allowed: frozenset[Type]) -> str:
    if allowed == _ANY_VALUE:
        return "a value"
    names = sorted(t.value for t in allowed - {Type.ANY})
    return " or ".join(names)
