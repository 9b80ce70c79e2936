"""The ``transactions`` contract: one card transaction as the producer emits it.

It accepts exactly what the original AWS sample's producer wrote (no key, naive
timestamps in UTC with or without microseconds, integer amounts, coordinates and
zip codes as strings, lower-case currencies) as well as our own, stricter output.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
"""Current version of the event contracts. Changes are additive only."""

ShortText = Annotated[str, Field(max_length=256)]
Identifier = Annotated[str, Field(min_length=1, max_length=128)]

MAX_AMOUNT = 1e12
"""Amounts above this are rejected as corrupt rather than scored."""


def parse_utc(value: Any) -> Any:
    """Interpret naive timestamps as UTC; convert aware ones to UTC.

    Accepts ``datetime`` objects and ISO 8601 strings with or without
    fractional seconds and with or without a zone (``Z`` or an offset).
    Anything else is returned unchanged for pydantic to reject.
    """
    if isinstance(value, str):
        try:
            # Most timestamps are already canonical ("…Z" included, since 3.11):
            # parsed as they are, without the copies below.
            value = datetime.fromisoformat(value)
        except ValueError:
            text = value.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                value = datetime.fromisoformat(text)
            except ValueError as exc:
                raise ValueError(f"not an ISO 8601 timestamp: {value[:40]!r}") from exc
    if isinstance(value, datetime):
        zone = value.tzinfo
        if zone is UTC:
            return value  # what astimezone(UTC) would return: this very object
        if zone is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


class Transaction(BaseModel):
    """A payment event on the ``transactions`` topic.

    Mandatory: ``event_id``, ``event_time``, ``entity_id``, ``transaction_amt``,
    ``transaction_currency``, ``email_address``, ``ip_address``. Unknown fields
    are ignored so that newer producers can add fields without breaking older
    consumers.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    event_id: Identifier
    event_time: datetime
    entity_id: Identifier
    transaction_amt: float = Field(ge=0, le=MAX_AMOUNT, allow_inf_nan=False)
    transaction_currency: str = Field(min_length=3, max_length=3, pattern=r"^[a-z]{3}$")
    email_address: ShortText
    ip_address: Annotated[str, Field(min_length=1, max_length=64)]
    user_agent: Annotated[str, Field(max_length=1024)] | None = None
    product_category: ShortText | None = None
    card_bin: Annotated[str, Field(max_length=32)] | None = None
    customer_name: ShortText | None = None
    billing_street: ShortText | None = None
    billing_city: ShortText | None = None
    billing_state: ShortText | None = None
    billing_zip: Annotated[str, Field(max_length=32)] | None = None
    billing_latitude: float | None = Field(None, ge=-90, le=90, allow_inf_nan=False)
    billing_longitude: float | None = Field(None, ge=-180, le=180, allow_inf_nan=False)
    customer_job: ShortText | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    merchant_id: Identifier | None = None
    schema_version: int = Field(SCHEMA_VERSION, ge=1)

    @field_validator("event_time", mode="before")
    @classmethod
    def _event_time_utc(cls, value: Any) -> Any:
        return parse_utc(value)

    @field_validator("transaction_currency", mode="before")
    @classmethod
    def _currency_lower(cls, value: Any) -> Any:
        # The original sample used lower-case codes (usd, gbp…); we keep that
        # spelling downstream so its dashboards keep working.
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("transaction_amt", mode="before")
    @classmethod
    def _amount_is_number(cls, value: Any) -> Any:
        # Booleans are ints in Python; "true" is never an amount.
        if isinstance(value, bool):
            raise ValueError("amount must be a number, not a boolean")
        if isinstance(value, str):
            raise ValueError("amount must be a JSON number, not a string")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("amount must be finite")
        return value

    @field_validator("card_bin", "billing_zip", "phone", mode="before")
    @classmethod
    def _codes_as_text(cls, value: Any) -> Any:
        # The original CSV-derived data sometimes carried these as numbers.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("event_id", "entity_id", "merchant_id", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value
