"""Settings of the producer (environment variables, see ``.env.example`` and the README)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics

MAX_RATE_PER_S = 10_000.0
"""Upper bound of the publishing rate (the API refuses more)."""


class ProducerSettings(ServiceSettings):
    """The producer's settings: the common ones plus its own."""

    service_name: str = "producer"
    http_port: int = Field(8001, ge=1, le=65535)

    transactions_topic: str = Field(topics.TRANSACTIONS, min_length=1)
    labels_topic: str = Field(topics.TRANSACTION_LABELS, min_length=1)

    producer_mode: Literal["simulate", "replay"] = Field(
        "simulate", description="simulate: generate transactions; replay: read a file."
    )
    producer_rate_per_s: float = Field(
        35 / 60, gt=0, le=MAX_RATE_PER_S,
        description="Transactions per second (the original sample made 35 per minute).",
    )
    producer_autostart: bool = Field(True, description="Start publishing at start-up.")
    producer_max_batch: int = Field(
        500, ge=1, le=10_000, description="Most transactions sent before awaiting the acks."
    )
    label_delay_s: float = Field(
        60.0, ge=0, le=30 * 86_400,
        description="How long after a transaction its label is published (chargeback delay).",
    )

    producer_seed: int = Field(42, description="Seed of the simulated population.")
    producer_stream_seed: int | None = Field(
        None, description="Seed of the event stream; unset: a fresh one per run."
    )
    producer_customers: int = Field(5000, ge=2, le=1_000_000)
    producer_merchants: int = Field(10_000, ge=2, le=1_000_000)

    producer_replay_file: Path | None = Field(
        None, description="CSV, JSONL or Parquet file of transactions (replay mode)."
    )
    producer_replay_keep_event_time: bool = Field(
        False, description="Keep the file's event_time instead of stamping the send time."
    )

    @model_validator(mode="after")
    def _replay_needs_file(self) -> ProducerSettings:
        if self.producer_mode == "replay" and self.producer_replay_file is None:
            raise ValueError("PRODUCER_MODE=replay needs PRODUCER_REPLAY_FILE")
        return self
