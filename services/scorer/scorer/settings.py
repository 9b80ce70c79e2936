"""Settings of the scorer (environment variables, see ``.env.example``)."""

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, model_validator

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics
from scorer.backends.settings import BackendSettings

EXACTLY_ONCE_FETCH_WAIT_MS = 50
"""The scorer's default KAFKA_FETCH_MAX_WAIT_MS with exactly-once on."""
AT_LEAST_ONCE_FETCH_WAIT_MS = 20
"""The scorer's default KAFKA_FETCH_MAX_WAIT_MS with exactly-once off."""

PACKAGE_DATA = Path(__file__).resolve().parent / "data"


class ScorerSettings(ServiceSettings, BackendSettings):  # type: ignore[misc]
    """The scorer's settings: the common ones, the backend options, and its own."""

    service_name: str = "scorer"
    http_port: int = Field(8002, ge=1, le=65535)

    # Fuller fetches than the common default (answered at once): the fetcher
    # otherwise asks again as soon as anything arrives, and every poll costs a
    # model call and, with exactly-once, a Kafka transaction per partition it
    # holds. At 1,000 tx/s that overhead was most of the scorer's CPU. 256 KiB
    # takes about 150 ms to arrive at 2,500 tx/s, so in practice the wait ends
    # each fetch, and it adds up to that much to a decision's latency.
    kafka_fetch_min_bytes: int = Field(
        256 * 1024, ge=1, le=16 * 1024 * 1024,
        description="Fuller fetches than the common default: a decision waits at most "
        "KAFKA_FETCH_MAX_WAIT_MS more for its batch.")
    # Longer with exactly-once, where each poll's transactions cost the broker
    # and the scorer most. At 2,500 tx/s on 2 shared cores (the bench's held
    # windows, three interleaved pairs), 50 ms instead of 20 freed 0.22-0.27 of
    # a core and cut p99 from 364-497 ms to 179-285; without exactly-once it
    # freed nothing and p99 rose (two pairs: 169 and 158 ms to 260 and 230),
    # hence the two defaults. The price: a decision under light load waits up
    # to the full 50 ms.
    kafka_fetch_max_wait_ms: int = Field(
        EXACTLY_ONCE_FETCH_WAIT_MS, ge=0, le=30_000,
        description=f"The longest the broker holds a fetch for KAFKA_FETCH_MIN_BYTES; "
        f"default {EXACTLY_ONCE_FETCH_WAIT_MS} with SCORER_EXACTLY_ONCE, "
        f"{AT_LEAST_ONCE_FETCH_WAIT_MS} without.")

    transactions_topic: str = Field(topics.TRANSACTIONS, min_length=1)
    decisions_topic: str = Field(topics.PROCESSED_TRANSACTIONS, min_length=1)
    labels_topic: str = Field(topics.TRANSACTION_LABELS, min_length=1)
    # A poll returns what has arrived, so under light load batches stay small
    # (and latency low); the cap matters when the scorer is behind, where larger
    # batches cost less per event: one transaction per partition per batch, and
    # one changelog record per entity touched in the batch however often.
    scorer_max_batch: int = Field(
        2000, ge=1, le=10_000,
        description="Most records per poll; larger batches catch up on a backlog with less CPU.",
    )

    scorer_exactly_once: bool = Field(
        True, description="Decisions, state and offsets in one Kafka transaction per partition."
    )
    scorer_commit_interval_ms: int = Field(
        100, ge=1, le=10_000, description="Longest wait for a batch (= transaction cadence)."
    )
    scorer_transaction_timeout_ms: int = Field(
        10_000, ge=1_000, le=900_000,
        description="How long readers wait on a killed scorer's open transaction.",
    )

    scorer_model_path: Path = Field(
        PACKAGE_DATA / "models", description="Model version folder, or a registry with CURRENT."
    )
    scorer_rules_path: Path = Field(
        PACKAGE_DATA / "rules" / "default.yaml", description="The rule set (hot-reloaded)."
    )
    scorer_rules_reload_s: float = Field(
        2.0, ge=0, description="Minimum seconds between checks of the rules file."
    )
    scorer_emit_features: bool = Field(
        False, description="Add every feature value to fd.features (debugging, tests)."
    )
    scorer_lateness_s: float = Field(
        3600.0, ge=0, description="Out-of-order events this late still update the features."
    )
    scorer_state_ttl_s: float = Field(
        35 * 86400.0, gt=0, description="Entities idle this long are forgotten."
    )
    scorer_feature_store: Literal["auto", "native", "python"] = Field(
        "auto", description="Feature store: native (compiled, Rust), python (the reference, "
        "same features, more CPU per event), or auto (native when installed)."
    )

    @model_validator(mode="after")
    def _fetch_wait_follows_the_mode(self) -> Self:
        # Not set explicitly: the default of the mode (see kafka_fetch_max_wait_ms).
        # The settings are frozen, so the field is written past pydantic's guard,
        # once, while the instance is being validated.
        if "kafka_fetch_max_wait_ms" not in self.model_fields_set and not self.scorer_exactly_once:
            object.__setattr__(self, "kafka_fetch_max_wait_ms", AT_LEAST_ONCE_FETCH_WAIT_MS)
        return self
