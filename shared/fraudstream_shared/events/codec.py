"""Bytes ⇄ contract models, with poison detection.

Decoding never raises anything but :class:`PoisonMessageError` for bad input,
with a stable reason code, so consumers can dead-letter it and move on.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from fraudstream_shared.exceptions import PoisonMessageError

MAX_VALUE_BYTES = 1024 * 1024
"""Values larger than this are rejected unparsed (a transaction is ~1 KB)."""

M = TypeVar("M", bound=BaseModel)


HUGE_INTEGER_DIGITS = 309
"""Digits from which an integer literal may exceed the largest float (about 1.8e308)."""

_BLOCK = (HUGE_INTEGER_DIGITS + 1) // 2
"""Any run of ``HUGE_INTEGER_DIGITS`` digits covers a whole ``_BLOCK``-aligned block."""


def decode(model: type[M], value: bytes | None, max_bytes: int = MAX_VALUE_BYTES) -> M:
    """Parse one message value into ``model`` or raise :class:`PoisonMessageError`.

    Reasons: ``empty_value``, ``oversized``, ``invalid_utf8``, ``invalid_json``,
    ``not_an_object``, ``schema_violation``.

    Well-formed values take a fast path (pydantic-core parses and validates the
    bytes in one step, without building Python dicts first); anything it
    refuses is decoded again by :func:`decode_checked`, the reference, so bad
    input gets exactly the reason and detail it always got.
    """
    if value is None or len(value) == 0:
        raise PoisonMessageError("empty_value", "the message has no value")
    if len(value) > max_bytes:
        raise PoisonMessageError(
            "oversized", f"value is {len(value)} bytes, the limit is {max_bytes}"
        )
    if not may_hold_huge_integer(value):
        try:
            # model_validate_json minus its Python wrapper (the same call, defaults and all).
            return model.__pydantic_validator__.validate_json(value)  # type: ignore[no-any-return]
        except Exception:  # whatever the fast path refuses, the reference path judges
            pass
    return decode_checked(model, value)


def may_hold_huge_integer(value: bytes) -> bool:
    """Whether ``value`` may hold a number of :data:`HUGE_INTEGER_DIGITS` digits or more.

    Such values skip the fast path: for an integer beyond the float range
    pydantic-core yields ``inf`` where ``json.loads`` + validation refuses it,
    and ``json.loads`` refuses integers of more than 4,300 digits outright.
    Below that size both parse every number to the same value.

    It looks only at ``_BLOCK``-aligned blocks (a few per kilobyte): any run of
    ``2 * _BLOCK - 1`` digits covers one whole block, so a huge number is never
    missed; a shorter run that covers one merely takes the reference path too.
    """
    for start in range(0, len(value) - _BLOCK + 1, _BLOCK):
        if 0x30 <= value[start] <= 0x39 and value[start:start + _BLOCK].isdigit():
            return True
    return False


def decode_checked(model: type[M], value: bytes) -> M:
    """The reference decoding: UTF-8, then ``json.loads``, then ``model_validate``.

    Each step raises :class:`PoisonMessageError` with its own reason, so a
    poison value is named by the first thing wrong with it. (Size checks are
    :func:`decode`'s.)
    """
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonMessageError("invalid_utf8", f"not UTF-8 at byte {exc.start}") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise PoisonMessageError("invalid_json", detail) from exc
    except ValueError as exc:
        # Integers of more than 4,300 digits (CPython's int conversion limit): poison
        # like any other unreadable JSON, never a crash of the consumer.
        raise PoisonMessageError("invalid_json", str(exc)) from exc
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise PoisonMessageError("not_an_object", f"expected a JSON object, got {kind}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PoisonMessageError("schema_violation", describe_validation_error(exc)) from exc


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """A short, payload-free summary: which fields failed and why."""
    parts = []
    for err in exc.errors(include_input=False)[:limit]:
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{where}: {err['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def encode(event: BaseModel) -> bytes:
    """Serialise a contract model to compact UTF-8 JSON (``None`` fields omitted).

    The bytes of ``model_dump_json(exclude_none=True)``, taken from pydantic-core
    as it writes them rather than decoded to ``str`` and encoded back (about
    2 µs less per decision).
    """
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)


def encode_key(key: str | None) -> bytes | None:
    """Message keys are UTF-8 text (``entity_id``)."""
    return key.encode("utf-8") if key is not None else None
