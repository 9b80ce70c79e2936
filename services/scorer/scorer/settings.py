"""Settings of the scorer (environment variables, see ``.env.example``)."""

from pydantic import Field

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import topics


class ScorerSettings(ServiceSettings):
    """The scorer's settings: the common ones plus its own."""

    service_name: str = "scorer"
    http_port: int = Field(8002, ge=1, le=65535)

    transactions_topic: str = Field(topics.TRANSACTIONS, min_length=1)
    decisions_topic: str = Field(topics.PROCESSED_TRANSACTIONS, min_length=1)
    scorer_max_batch: int = Field(500, ge=1, le=10_000, description="Records per poll.")
    block_score: int = Field(900, ge=0, le=1000, description="Score at or above which to block.")
    review_score: int = Field(700, ge=0, le=1000, description="Score at or above which to review.")
    large_amount: float = Field(
        5000.0, gt=0, description="Amounts at or above this are always reviewed."
    )
