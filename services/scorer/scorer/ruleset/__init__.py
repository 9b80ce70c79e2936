"""fraudstream's rule language and rule sets (the replacement for Fraud Detector rules).

The language
============
An expression is evaluated against one event, a mapping of variable names to
values: event fields (``transaction_amt``, ``email_address``), features
(``customer.count_1h``) and model scores (``model.fraudstream``). A dotted name
is looked up as that flat key first, then through nested mappings. It is parsed
by hand and compiled to closures at load time; user text is never passed to
``eval``/``exec``/``compile`` and no attribute of any Python object is reachable.

- Names: letters, digits and ``_``, dotted (``customer.count_1h``); a segment may
  not start with ``__``. Keywords are lower-case: ``True``, ``NULL``, ``AND`` (and
  ``=``, ``&&``, ``!``) are load-time errors that say what to write instead.
- Literals: ``12``, ``0.5``, ``1e3``, ``'text'`` or ``"text"`` (a backslash only
  escapes the quote and itself, so ``'^\\d+$'`` is a regex digit class), ``true``,
  ``false``, ``null``; list literals ``[1, 'a']`` only after ``in`` / ``not in``.
- Operators, loosest first: ``or``; ``and``; ``not``; comparisons
  ``== != < <= > >=`` and ``in`` / ``not in`` (never chained); ``+ -``; ``* /``;
  unary ``-``. Parentheses group. ``and``/``or`` short-circuit.
- Functions (the whole whitelist): ``matches(x, 'regex')`` (``re.search``, the
  pattern must be a literal, compiled at load time), ``lower(x)``, ``abs(x)``,
  ``len(x)``, ``is_null(x)``.
- ``x in name`` tests a named allow/block list of the rule set (only its
  unexpired entries); an undeclared name is a load-time error.

Null and types
--------------
- An unknown or missing variable is ``null``; it never raises.
- Any comparison with null is false, ``!=`` included: ``x != 1`` is false when
  ``x`` is missing. ``x in [...]`` and ``x not in [...]`` are both false for null.
  Test for absence with ``is_null(x)``.
- Arithmetic with null or a non-number is null; division by zero is null.
- ``==`` never converts: ``1 == '1'`` is false, ``true == 1`` is false; ``<`` and
  friends compare two numbers or two strings, anything else is false.
- Only ``true`` is true: a rule matches when its expression is exactly ``true``;
  ``and``/``or`` treat every other value as false, and ``not x`` is true only when
  ``x`` is exactly ``false`` (so ``not`` of a missing variable is false).
- Mistakes visible in the text are load-time errors: ``'a' + 1``,
  ``x == null``, ``1 < 'a'``, a rule that is a number, ``a < b < c``.

Rule sets
=========
A YAML file (see ``scorer/data/rules/default.yaml``) with ``version``,
``mode`` (``FIRST_MATCHED``: the first matching enabled rule decides;
``ALL_MATCHED``: the most severe matched outcome wins, block > review > approve),
``rules`` and ``lists``. No match approves. Lists are checked before rules: an
unexpired block-list entry blocks, otherwise an unexpired allow-list entry
approves; in both cases the rules are skipped (block beats allow).

Use :func:`load_rule_set` or :class:`RuleSetLoader` (hot reload), then
:func:`evaluate` / :func:`evaluate_batch`, or a :class:`BoundRuleSet` for events
that are not mappings (just the verdicts, cheaper).
"""

from scorer.ruleset.compiler import CompiledExpression, compile_expression
from scorer.ruleset.errors import RuleSetError
from scorer.ruleset.evaluate import (
    BoundRuleSet,
    DecidedBy,
    ListHit,
    RuleMatch,
    RuleSetResult,
    Verdict,
    evaluate,
    evaluate_batch,
)
from scorer.ruleset.loader import RuleSetLoader, load_rule_set, parse_rule_set
from scorer.ruleset.model import (
    SEVERITY,
    ExecutionMode,
    ListEntry,
    ListKind,
    NamedList,
    Rule,
    RuleSet,
)
from scorer.ruleset.parser import parse_expression

__all__ = [
    "SEVERITY",
    "BoundRuleSet",
    "CompiledExpression",
    "DecidedBy",
    "ExecutionMode",
    "ListEntry",
    "ListHit",
    "ListKind",
    "NamedList",
    "Rule",
    "RuleMatch",
    "RuleSet",
    "RuleSetError",
    "RuleSetLoader",
    "RuleSetResult",
    "Verdict",
    "compile_expression",
    "evaluate",
    "evaluate_batch",
    "load_rule_set",
    "parse_expression",
    "parse_rule_set",
]
