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


def decode(model: type[M], value: bytes | None, max_bytes: int = MAX_VALUE_BYTES) -> M:
    """Parse one message value into ``model`` or raise :class:`PoisonMessageError`.

    Reasons: ``empty_value``, ``oversized``, ``invalid_utf8``, ``invalid_json``,
    ``not_an_object``, ``schema_violation``.
    """
    if value is None or len(value) == 0:
        raise PoisonMessageError("empty_value", "the message has no value")
    if len(value) > max_bytes:
        raise PoisonMessageError(
            "oversized", f"value is {len(value)} bytes, the limit is {max_bytes}"
        )
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PoisonMessageError("invalid_utf8", f"not UTF-8 at byte {exc.start}") from exc
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = str(exc) if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise PoisonMessageError("invalid_json", detail) from exc
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
    """Serialise a contract model to compact UTF-8 JSON (``None`` fields omitted)."""
    return event.model_dump_json(exclude_none=True).encode("utf-8")


def encode_key(key: str | None) -> bytes | None:
    """Message keys are UTF-8 text (``entity_id``)."""
    return key.encode("utf-8") if key is not None else None
