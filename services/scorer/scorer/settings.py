"""Settings of the scorer (environment variables, see ``.env.example``)."""

from pathlib import Path
from typing import Literal

from pydantic import Field

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics
from scorer.backends.settings import BackendSettings

PACKAGE_DATA = Path(__file__).resolve().parent / "data"


class ScorerSettings(ServiceSettings, BackendSettings):  # type: ignore[misc]
    """The scorer's settings: the common ones, the backend options, and its own."""

    service_name: str = "scorer"
    http_port: int = Field(8002, ge=1, le=65535)

    # Fuller fetches than the common default (answered at once): the fetcher
    # otherwise asks again as soon as anything arrives, and every poll costs a
    # model call and a Kafka transaction per partition it holds. At 1,000 tx/s
    # that overhead was most of the scorer's CPU. Waiting at most this long
    # adds that much to a decision's latency under light load, nothing under
    # heavy load (the bytes are there first).
    kafka_fetch_min_bytes: int = Field(
        256 * 1024, ge=1, le=16 * 1024 * 1024,
        description="Fuller fetches than the common default: a decision waits at most "
        "KAFKA_FETCH_MAX_WAIT_MS more for its batch.")
    kafka_fetch_max_wait_ms: int = Field(20, ge=0, le=30_000)

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
