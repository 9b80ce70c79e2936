"""What the language's operators do to runtime values; pure, and never raising.

Values are ``None`` (null), ``bool``, numbers (``int``/``float``, never ``bool``),
``str``, lists (``list``/``tuple``) and anything else a row may carry (treated as
opaque: equal only to itself, never ordered).
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Final

_BOOL_TAG: Final = "\x00bool"
REASON_VALUE_LIMIT = 64
"""Values substituted into reasons are cut to this many characters."""


def is_number(value: object) -> bool:
    """``int`` or ``float`` but not ``bool`` (which Python counts as an int)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _category(value: object) -> object:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    if isinstance(value, str):
        return str
    if isinstance(value, list | tuple):
        return list
    return type(value)


def equal(a: object, b: object) -> bool:
    """``a == b``: false when either is null or their types differ (``1 == '1'`` is false)."""
    if a is None or b is None or _category(a) is not _category(b):
        return False
    try:
        return bool(a == b)
    except Exception:  # an opaque row value with a broken __eq__ must not crash scoring
        return False


def not_equal(a: object, b: object) -> bool:
    """``a != b``: false when either is null, true when their types differ."""
    if a is None or b is None:
        return False
    if _category(a) is not _category(b):
        return True
    try:
        return bool(a != b)
    except Exception:  # see equal()
        return False


def orderable(a: object, b: object) -> bool:
    """Whether ``< <= > >=`` apply: two numbers or two strings."""
    if isinstance(a, str):
        return isinstance(b, str)
    return is_number(a) and is_number(b)


def membership_key(value: object) -> Hashable | None:
    """The key under which ``value`` is looked up in a list, ``None`` if it never matches.

    Booleans are tagged so that ``true`` never matches ``1`` (Python's ``True == 1``).
    """
    if isinstance(value, bool):
        return (_BOOL_TAG, value)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return None if isinstance(value, float) and math.isnan(value) else value
    return None


def format_value(value: object) -> str:
    """How a value reads inside a reason: ``null``, ``true``, ``12.5``, ``1200``, text."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".10g")
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except Exception:  # huge ints (str() limit) or an opaque value's broken __str__
            text = type(value).__name__
    return text if len(text) <= REASON_VALUE_LIMIT else text[:REASON_VALUE_LIMIT] + "…"
