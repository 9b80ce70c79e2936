"""A loaded rule set: its rules, its named lists and how outcomes combine."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from fraudstream_shared.events import Outcome
from scorer.ruleset.compiler import CompiledExpression, Evaluator, names_in
from scorer.ruleset.template import Template, placeholders
from scorer.ruleset.values import membership_key

SEVERITY: Mapping[Outcome, int] = {Outcome.APPROVE: 0, Outcome.REVIEW: 1, Outcome.BLOCK: 2}
"""How outcomes rank when several rules match: block > review > approve."""


class ExecutionMode(StrEnum):
    """How rule outcomes combine (Amazon Fraud Detector's rule execution modes)."""

    FIRST_MATCHED = "FIRST_MATCHED"
    ALL_MATCHED = "ALL_MATCHED"


class ListKind(StrEnum):
    """An allow list approves, a block list blocks."""

    ALLOW = "allow"
    BLOCK = "block"


@dataclass(frozen=True)
class ListEntry:
    """One value on a list, why it is there and until when (``None``: for ever)."""

    value: str | int | float | bool
    reason_code: str
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        """Whether the entry still applies at ``now`` (expiry is exclusive)."""
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class NamedList:
    """A named allow or block list on one variable (``field``).

    Values match exactly and by type (``'1'`` is not ``1``); with ``ignore_case``
    strings match case-insensitively (useful for e-mail addresses).
    """

    name: str
    kind: ListKind
    field: str
    entries: tuple[ListEntry, ...]
    ignore_case: bool = False
    get_field: Evaluator = dataclasses.field(repr=False, compare=False, kw_only=True)
    _index: Mapping[Hashable, ListEntry] = dataclasses.field(
        repr=False, compare=False, kw_only=True)

    def lookup(self, value: object, now: datetime) -> ListEntry | None:
        """The unexpired entry for ``value`` at ``now``, if any."""
        key: Hashable | None
        if type(value) is str:  # the usual value, and its own key
            key = value.lower() if self.ignore_case else value
        else:
            if self.ignore_case and isinstance(value, str):
                value = value.lower()
            key = membership_key(value)
            if key is None:
                return None
        entry = self._index.get(key)
        return entry if entry is not None and entry.active(now) else None

    def contains(self, value: object, now: datetime) -> bool:
        """Whether ``value`` is on the list at ``now`` (used by ``in`` in expressions)."""
        return self.lookup(value, now) is not None


@dataclass(frozen=True)
class Rule:
    """One compiled rule."""

    rule_id: str
    expression: str
    outcome: Outcome
    reason: str
    enabled: bool
    condition: CompiledExpression = dataclasses.field(repr=False, compare=False)
    render_reason: Template = dataclasses.field(repr=False, compare=False)
    yaml_line: int | None = None


@dataclass(frozen=True)
class RuleSet:
    """A validated, compiled rule set; immutable, safe to share between tasks."""

    version: str
    mode: ExecutionMode
    rules: tuple[Rule, ...]
    lists: tuple[NamedList, ...]
    source: str = "<string>"
    digest: str = ""
    """SHA-256 of the file's text: tells a real change from a touched file."""

    active_rules: tuple[Rule, ...] = dataclasses.field(init=False, repr=False, compare=False)
    block_lists: tuple[NamedList, ...] = dataclasses.field(init=False, repr=False, compare=False)
    allow_lists: tuple[NamedList, ...] = dataclasses.field(init=False, repr=False, compare=False)
    variables: frozenset[str] = dataclasses.field(init=False, repr=False, compare=False)
    """Every name the set can read from an event (conditions, reasons, list fields).

    A superset: disabled rules and the names of lists count too. A row that has
    these variables as the full row has them evaluates exactly like it.
    """

    def __post_init__(self) -> None:
        # Precomputed once so evaluation does not filter on every event.
        object.__setattr__(self, "active_rules", tuple(r for r in self.rules if r.enabled))
        object.__setattr__(self, "block_lists",
                           tuple(x for x in self.lists if x.kind is ListKind.BLOCK))
        object.__setattr__(self, "allow_lists",
                           tuple(x for x in self.lists if x.kind is ListKind.ALLOW))
        names: set[str] = {named.field for named in self.lists}
        for rule in self.rules:
            names |= names_in(rule.condition.tree) | placeholders(rule.reason)
        object.__setattr__(self, "variables", frozenset(names))

    def rule(self, rule_id: str) -> Rule:
        """The rule with id ``rule_id`` (``KeyError`` if there is none)."""
        for rule in self.rules:
            if rule.rule_id == rule_id:
                return rule
        raise KeyError(rule_id)
