"""Settings of the notifier (environment variables, see ``.env.example``)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.events import Outcome
from fraudstream_shared.events.topics import PROCESSED_TRANSACTIONS

SENT_TOPIC_SUFFIX = ".notified"


def split_csv(value: Any) -> Any:
    """Accept ``"a, b"`` as well as a JSON list (``'["a","b"]'``) or a real list."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class NotifierSettings(ServiceSettings):
    """The notifier's settings: the common ones plus its own.

    ``ALERT_OUTCOMES`` and ``ALERT_TO`` accept a comma-separated list
    (``block,review``) or a JSON list.
    """

    service_name: str = "notifier"
    http_port: int = Field(8003, ge=1, le=65535)
    # Fuller fetches: each answered fetch costs a poll, a batch and an offset
    # commit. Answered at once (1 byte), batches held ~40 decisions at 2,500
    # decisions/s and that overhead was about a third of the notifier's CPU.
    # Waiting up to 250 ms for 512 KiB (~340 decisions) delays an e-mail alert
    # by no more than that.
    kafka_fetch_min_bytes: int = Field(
        512 * 1024, ge=1, le=16 * 1024 * 1024,
        description="Fuller fetches than the common default: an alert waits at most "
        "KAFKA_FETCH_MAX_WAIT_MS more.")
    kafka_fetch_max_wait_ms: int = Field(250, ge=0, le=30_000)

    decisions_topic: str = Field(PROCESSED_TRANSACTIONS, min_length=1)
    notifier_sent_topic: str = Field(
        PROCESSED_TRANSACTIONS + SENT_TOPIC_SUFFIX,
        min_length=1,
        description="Compacted topic of event ids already notified (dedupe across restarts).",
    )
    alert_outcomes: Annotated[list[Outcome], NoDecode] = Field(
        default_factory=lambda: [Outcome.BLOCK], min_length=1,
        description="Outcomes that trigger an alert.",
    )
    notifier_channel: Literal["smtp", "sns"] = "smtp"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(10.0, gt=0, le=120)
    smtp_max_messages_per_connection: int = Field(
        100, ge=1, le=10_000,
        description="Alerts sent over one SMTP session before it is closed and a new one "
        "opened (relays cap messages per session).",
    )
    smtp_idle_close_s: float = Field(
        30.0, gt=0, le=3600,
        description="An SMTP session unused for this long is closed before the next alert "
        "and a fresh one opened (relays drop idle sessions).",
    )
    alert_from: str = Field("fraudstream@localhost", min_length=3)
    alert_to: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["fraud-team@localhost"],
        description="Recipients of SMTP alerts.",
    )

    sns_topic_arn: str | None = None
    aws_region: str = "us-east-1"
    aws_endpoint_url: str | None = Field(
        None, description="Custom SNS endpoint (moto, LocalStack); unset on AWS."
    )
    sns_timeout_s: float = Field(10.0, gt=0, le=120)

    notifier_max_attempts: int = Field(5, ge=1, le=20)
    notifier_backoff_base_s: float = Field(0.5, ge=0, le=60)
    notifier_backoff_cap_s: float = Field(10.0, ge=0, le=300)
    notifier_concurrency: int = Field(
        4, ge=1, le=64,
        description="Alerts in flight at once: each waits for its channel's reply and then "
        "for its sent record's acknowledgement, and serial alerts spent most of their time "
        "waiting. SMTP opens up to this many sessions. It is also how many alerts a crash "
        "can duplicate.",
    )
    notifier_max_batch: int = Field(
        500, ge=1, le=5000,
        description="Decisions per poll. A batch's alerts go out NOTIFIER_CONCURRENCY at a "
        "time, so its alerts times the time a send takes, divided by that, must stay well "
        "under the consumer's max poll interval (300 s): lower it when many outcomes alert "
        "and mail is slow.",
    )

    @field_validator("alert_outcomes", "alert_to", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return split_csv(value)

    @model_validator(mode="after")
    def _channel_is_configured(self) -> NotifierSettings:
        if self.notifier_channel == "sns" and not self.sns_topic_arn:
            raise ValueError("NOTIFIER_CHANNEL=sns needs SNS_TOPIC_ARN (the topic to publish to)")
        if self.notifier_channel == "smtp" and not self.alert_to:
            raise ValueError("NOTIFIER_CHANNEL=smtp needs ALERT_TO (at least one recipient)")
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("SMTP_USERNAME and SMTP_PASSWORD must be set together")
        if self.notifier_sent_topic == self.decisions_topic:
            raise ValueError("NOTIFIER_SENT_TOPIC must differ from DECISIONS_TOPIC")
        return self
