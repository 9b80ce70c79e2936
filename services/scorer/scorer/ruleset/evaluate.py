"""Apply a rule set to events: lists first, then rules; pure, no clock of its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from fraudstream_shared.events import Outcome
from scorer.ruleset.compiler import Row, VariableFactory, recompile
from scorer.ruleset.model import SEVERITY, ExecutionMode, ListEntry, ListKind, RuleSet
from scorer.ruleset.template import compile_template


class DecidedBy(StrEnum):
    """What settled the outcome."""

    BLOCK_LIST = "block_list"
    ALLOW_LIST = "allow_list"
    RULES = "rules"
    DEFAULT = "default"
    """No list entry and no rule matched: approve."""


@dataclass(frozen=True, slots=True)
class RuleMatch:
    """A rule that matched, its outcome and its reason with placeholders filled."""

    rule_id: str
    outcome: Outcome
    reason: str


@dataclass(frozen=True, slots=True)
class ListHit:
    """An unexpired list entry that matched the event (the value is not repeated: PII)."""

    list_name: str
    kind: ListKind
    field: str
    reason_code: str


@dataclass(frozen=True)
class RuleSetResult:
    """The decision for one event and how it was reached.

    ``rule_results`` maps the id of every rule that was *evaluated* to
    ``[outcome]`` when it matched and ``[]`` when it did not. Rules that were not
    evaluated are absent: disabled rules, rules after the first match in
    ``FIRST_MATCHED`` mode, and every rule when a list decided.
    """

    outcome: Outcome
    rule_results: dict[str, list[Outcome]]
    matched: tuple[RuleMatch, ...]
    list_hits: tuple[ListHit, ...]
    version: str
    decided_by: DecidedBy

    @property
    def reasons(self) -> list[str]:
        """Human-readable reasons: ``list_name: reason_code`` and ``rule_id: reason``."""
        return ([f"{hit.list_name}: {hit.reason_code}" for hit in self.list_hits]
                + [f"{match.rule_id}: {match.reason}" for match in self.matched])


def _check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (list expiry is compared in UTC)")


def evaluate(rule_set: RuleSet, row: Mapping[str, object], now: datetime) -> RuleSetResult:
    """Decide one event (``row``: variable name → value) at ``now`` (timezone-aware).

    Lists come first: an unexpired block-list entry blocks, else an unexpired
    allow-list entry approves; either way the rules are skipped. Otherwise the
    rules decide according to the set's mode; no match approves.
    """
    _check_now(now)
    return _evaluate(rule_set, row, now)


def evaluate_batch(rule_set: RuleSet, rows: Sequence[Mapping[str, object]],
                   now: datetime) -> list[RuleSetResult]:
    """:func:`evaluate` every row of a batch against the same set at the same instant."""
    _check_now(now)
    return [_evaluate(rule_set, row, now) for row in rows]


def _evaluate(rule_set: RuleSet, row: Row, now: datetime) -> RuleSetResult:
    hits: list[ListHit] = []
    for named in rule_set.lists:
        entry = named.lookup(named.get_field(row, now), now)
        if entry is not None:
            hits.append(ListHit(named.name, named.kind, named.field, entry.reason_code))
    if hits:
        # A block entry beats an allow entry: allow lists exist to spare good
        # customers from rules, not to override a deliberate block.
        blocked = any(hit.kind is ListKind.BLOCK for hit in hits)
        return RuleSetResult(
            Outcome.BLOCK if blocked else Outcome.APPROVE, {}, (), tuple(hits),
            rule_set.version, DecidedBy.BLOCK_LIST if blocked else DecidedBy.ALLOW_LIST)

    results: dict[str, list[Outcome]] = {}
    matched: list[RuleMatch] = []
    outcome = Outcome.APPROVE
    first_only = rule_set.mode is ExecutionMode.FIRST_MATCHED
    for rule in rule_set.active_rules:
        if rule.condition.evaluate(row, now) is not True:
            results[rule.rule_id] = []
            continue
        results[rule.rule_id] = [rule.outcome]
        matched.append(RuleMatch(rule.rule_id, rule.outcome, rule.render_reason(row, now)))
        if first_only:
            outcome = rule.outcome
            break
        if SEVERITY[rule.outcome] > SEVERITY[outcome]:
            outcome = rule.outcome
    return RuleSetResult(outcome, results, tuple(matched), (), rule_set.version,
                         DecidedBy.RULES if matched else DecidedBy.DEFAULT)


Verdict = tuple[Outcome, dict[str, list[Outcome]], list[str]]
"""``(outcome, rule_results, reasons)``: what a decision records of a :class:`RuleSetResult`.

The dict and the reasons are new for every event (the caller may add to them);
the lists in the dict are shared, the same ``[]`` for every rule that did not
match and the same ``[outcome]`` for every match of that outcome: they are
values to record, never to change in place.
"""


class BoundRuleSet:
    """A rule set compiled against rows of one shape, deciding without a result object.

    ``variable`` reads a variable from such a row (see
    :data:`~scorer.ruleset.compiler.VariableFactory`); ``None`` keeps the set's
    own readers of mappings. For every row, :meth:`verdicts` gives what
    :func:`evaluate` gives for the mapping that ``variable`` reads the same
    values from: its ``outcome``, ``rule_results`` and ``reasons`` (so no
    :class:`RuleMatch`, :class:`ListHit` or :class:`RuleSetResult` per event).
    """

    def __init__(self, rule_set: RuleSet, variable: VariableFactory | None = None) -> None:
        self.rule_set = rule_set
        by_name = {named.name: named for named in rule_set.lists}
        lists = []
        for named in rule_set.lists:
            get = named.get_field if variable is None else variable(named.field)
            lists.append((get, named.lookup, named.name, named.kind is ListKind.BLOCK))
        rules = []
        for rule in rule_set.active_rules:
            if variable is None:
                condition, render = rule.condition.evaluate, rule.render_reason
            else:
                condition = recompile(rule.condition, by_name, variable)
                render = compile_template(rule.reason, variable)
            # One list per rule, shared by its matches (see Verdict).
            rules.append((rule.rule_id, condition, (rule.outcome, [rule.outcome],
                                                    SEVERITY[rule.outcome], render,
                                                    f"{rule.rule_id}: ")))
        self._decide = _decider(tuple(lists), tuple(rules),
                                rule_set.mode is ExecutionMode.FIRST_MATCHED)

    def verdict(self, row: Any, now: datetime) -> Verdict:
        """Decide one row at ``now`` (timezone-aware)."""
        _check_now(now)
        return self._decide(row, now)

    def verdicts(self, rows: Sequence[Any], now: datetime) -> list[Verdict]:
        """Decide every row of a batch at the same instant (timezone-aware)."""
        _check_now(now)
        decide = self._decide
        return [decide(row, now) for row in rows]


_ListCheck = tuple[Callable[[Any, datetime], object],
                   Callable[[object, datetime], ListEntry | None], str, bool]
_RuleCheck = tuple[str, Callable[[Any, datetime], object],
                   tuple[Outcome, list[Outcome], int, Callable[[Any, datetime], str], str]]
"""A rule's id, its condition and what a match needs (unpacked only on a match)."""


def _decider(lists: tuple[_ListCheck, ...], rules: tuple[_RuleCheck, ...],
             first_only: bool) -> Callable[[Any, datetime], Verdict]:
    """:func:`_evaluate` reduced to its verdict, as one closure over prepared tuples."""
    approve, block = Outcome.APPROVE, Outcome.BLOCK
    # Shared, not built for every rule of every event (see Verdict): the same
    # values, and a list fewer per rule and event for the garbage collector.
    no_match: list[Outcome] = []

    def decide(row: Any, now: datetime) -> Verdict:
        if lists:
            hits: list[str] | None = None
            blocked = False
            for get_field, lookup, name, blocks in lists:
                entry = lookup(get_field(row, now), now)
                if entry is not None:
                    if hits is None:
                        hits = []
                    hits.append(f"{name}: {entry.reason_code}")
                    blocked = blocked or blocks
            if hits is not None:
                # A block entry beats an allow entry (see _evaluate).
                return (block if blocked else approve), {}, hits
        results: dict[str, list[Outcome]] = {}
        reasons: list[str] = []
        outcome, severity = approve, 0
        for rule_id, condition, on_match in rules:
            if condition(row, now) is not True:
                results[rule_id] = no_match
                continue
            rule_outcome, matched, rank, render, prefix = on_match
            results[rule_id] = matched
            reasons.append(prefix + render(row, now))
            if first_only:
                outcome = rule_outcome
                break
            if rank > severity:
                outcome, severity = rule_outcome, rank
        return outcome, results, reasons
    return decide
