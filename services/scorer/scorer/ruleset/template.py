"""Reason templates: text with ``{variable}`` placeholders filled at evaluation.

``{{`` and ``}}`` stand for literal braces. Placeholders are checked at load time
(a malformed one is a :class:`RuleSetError` with its column); a missing variable
reads ``null``, and long values are cut (see :func:`values.format_value`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from scorer.ruleset.compiler import Row, VariableFactory, check_name, variable_getter
from scorer.ruleset.errors import RuleSetError, error_at
from scorer.ruleset.values import format_value

Template = Callable[[Row, datetime], str]


def _parse(text: str) -> list[tuple[bool, str]]:
    """``(is_placeholder, text)`` parts; raises :class:`RuleSetError` when malformed."""
    parts: list[tuple[bool, str]] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{}" and text[i + 1:i + 2] == ch:
            literal.append(ch)
            i += 2
        elif ch == "}":
            raise error_at(text, i, "unmatched '}' in reason (write '}}' for a brace)")
        elif ch == "{":
            end = text.find("}", i + 1)
            if end < 0:
                raise error_at(text, i, "unclosed '{' in reason (write '{{' for a brace)")
            name = text[i + 1:end].strip()
            try:
                check_name(name)
            except RuleSetError:
                raise error_at(text, i, f"reason placeholder {{{name}}} is not a variable "
                                      f"name") from None
            if literal:
                parts.append((False, "".join(literal)))
                literal = []
            parts.append((True, name))
            i = end + 1
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append((False, "".join(literal)))
    return parts


def placeholders(text: str) -> frozenset[str]:
    """The variable names a reason template reads."""
    return frozenset(name for is_name, name in _parse(text) if is_name)


def compile_template(text: str, variable: VariableFactory = variable_getter
                     ) -> Callable[[Any, datetime], str]:
    """Compile ``text``; raises :class:`RuleSetError` (with the column) when malformed.

    Placeholders are read with ``variable`` (by default from a mapping row).
    """
    parts: list[str | Callable[[Any, datetime], object]] = [
        variable(part) if is_name else part for is_name, part in _parse(text)]
    if all(isinstance(part, str) for part in parts):
        fixed = "".join(part for part in parts if isinstance(part, str))
        return lambda row, now: fixed
    frozen = tuple(parts)

    def render(row: Any, now: datetime) -> str:
        return "".join(part if isinstance(part, str) else format_value(part(row, now))
                       for part in frozen)
    return render
