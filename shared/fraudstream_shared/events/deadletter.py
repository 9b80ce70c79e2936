"""The dead-letter envelope: what a ``<topic>.dlq`` message carries.

Every message a consumer cannot process is wrapped in this envelope with the
original bytes (text when they are valid UTF-8, base64 otherwise), the reason,
and where it came from — so it can be inspected and replayed, and nothing is
lost silently.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from fraudstream_shared.events.transaction import SCHEMA_VERSION


class DeadLetter(BaseModel):
    """A message that could not be processed, with the reason and its origin."""

    model_config = ConfigDict(frozen=True)

    schema_version: int = SCHEMA_VERSION
    service: str
    reason: str = Field(description="Stable code, e.g. invalid_json, schema_violation.")
    error: str = Field(description="Human-readable detail; never the payload itself.")
    source_topic: str
    source_partition: int
    source_offset: int
    source_timestamp_ms: int | None = None
    key: str | None = None
    key_encoding: Literal["utf-8", "base64"] | None = None
    value: str | None = None
    value_encoding: Literal["utf-8", "base64"] | None = None
    value_size: int = 0
    dead_lettered_at: datetime

    @classmethod
    def wrap(
        cls,
        *,
        service: str,
        reason: str,
        error: str,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None = None,
        now: datetime | None = None,
    ) -> DeadLetter:
        """Build the envelope for one failed message, encoding its bytes losslessly."""
        key_text, key_enc = encode_bytes(key)
        value_text, value_enc = encode_bytes(value)
        return cls(
            service=service,
            reason=reason,
            error=error,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            source_timestamp_ms=timestamp_ms,
            key=key_text,
            key_encoding=key_enc,
            value=value_text,
            value_encoding=value_enc,
            value_size=len(value) if value is not None else 0,
            dead_lettered_at=now or datetime.now(UTC),
        )

    def original_value(self) -> bytes | None:
        """The original message value, exactly as it was received."""
        return decode_bytes(self.value, self.value_encoding)

    def original_key(self) -> bytes | None:
        """The original message key, exactly as it was received."""
        return decode_bytes(self.key, self.key_encoding)


def encode_bytes(data: bytes | None) -> tuple[str | None, Literal["utf-8", "base64"] | None]:
    """Text for valid UTF-8, base64 otherwise; ``(None, None)`` for no data."""
    if data is None:
        return None, None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def decode_bytes(text: str | None, encoding: Literal["utf-8", "base64"] | None) -> bytes | None:
    """Invert :func:`encode_bytes`."""
    if text is None:
        return None
    if encoding == "base64":
        return base64.b64decode(text)
    return text.encode("utf-8")
