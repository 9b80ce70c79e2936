"""The abstract syntax tree: frozen dataclasses, each with its offset in the text."""

from __future__ import annotations

from dataclasses import dataclass

Scalar = bool | int | float | str | None
"""The value of a literal."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, a string, ``true``, ``false`` or ``null``."""

    value: Scalar
    pos: int


@dataclass(frozen=True, slots=True)
class Name:
    """A variable (``transaction_amt``, ``customer.count_1h``) or, after ``in``, a list name."""

    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class ListLiteral:
    """``[a, b, …]``; only allowed after ``in`` / ``not in``."""

    items: tuple[Node, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Negate:
    """Unary minus."""

    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``+ - * /`` on numbers."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``== != < <= > >=``; never chained."""

    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Membership:
    """``item in collection`` or ``item not in collection``."""

    negated: bool
    item: Node
    collection: Node
    pos: int


@dataclass(frozen=True, slots=True)
class And:
    """``left and right``, short-circuit."""

    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Or:
    """``left or right``, short-circuit."""

    left: Node
    right: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Node
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args…)``, with ``name`` from the fixed whitelist (checked at compile time)."""

    function: str
    args: tuple[Node, ...]
    pos: int


Node = (
    Literal | Name | ListLiteral | Negate | Arithmetic | Compare | Membership
    | And | Or | Not | Call
)
"""Any node of the tree."""
