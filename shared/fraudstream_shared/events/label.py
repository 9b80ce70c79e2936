"""The ``transaction_labels`` contract: ground truth that arrives later.

A bank learns whether a transaction was fraud days or weeks afterwards
(chargebacks, customer claims). Labels are their own events so that the scorer
can only ever use a label after it has arrived.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fraudstream_shared.events.transaction import SCHEMA_VERSION, Identifier, parse_utc


class TransactionLabel(BaseModel):
    """The true class of one transaction, known as of ``labelled_at``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: Identifier
    entity_id: Identifier
    label: Literal["fraud", "legit"]
    labelled_at: datetime
    merchant_id: Identifier | None = None
    scenario: str | None = Field(None, description="Simulation scenario that made it, if any.")
    schema_version: int = SCHEMA_VERSION

    @field_validator("labelled_at", mode="before")
    @classmethod
    def _labelled_at_utc(cls, value: Any) -> Any:
        return parse_utc(value)
