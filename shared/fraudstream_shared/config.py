"""The settings base class every service extends.

Settings are read from the environment (and a ``.env`` file if present), are
typed and frozen, and fail fast: a missing or malformed value stops the service
at start-up with a message naming the variable.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from fraudstream_shared.exceptions import ConfigError

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


class ServiceSettings(BaseSettings):
    """Settings common to every fraudstream service.

    Subclasses add their own fields and set ``service_name``'s default. Field
    names map to upper-case environment variables (``kafka_bootstrap_servers``
    ← ``KAFKA_BOOTSTRAP_SERVERS``).
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
    )

    service_name: str = Field(description="Name used in logs, metrics and the DLQ envelope.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    cpu_nice: int = Field(
        0, ge=0, le=19,
        description="Unix niceness to run at (0-19; higher is lower CPU priority), set at "
        "start. Matters only when services share one host as processes (make run): 10 for "
        "the indexer, notifier and archiver schedules the scorer first, at the price of the "
        "sinks' lag when the host is full (README, Performance). Linux applies it within the "
        "process's session only (autogroup), so not against the local Kafka or OpenSearch.")
    http_host: str = Field("0.0.0.0", description="Address the health/metrics server binds.")
    http_port: int = Field(8080, ge=1, le=65535)
    shutdown_timeout_s: float = Field(
        25.0,
        gt=0,
        le=60,
        description="Budget for draining and committing on SIGTERM (ECS stops at 30 s).",
    )

    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", min_length=1, description="Comma-separated host:port list."
    )
    kafka_security_protocol: KafkaSecurityProtocol = Field(
        "PLAINTEXT", description="SASL_SSL on Amazon MSK (IAM auth over TLS)."
    )
    kafka_sasl_mechanism: KafkaSaslMechanism | None = Field(
        None,
        description="OAUTHBEARER = MSK IAM: a token signed with the task role's credentials "
        "(needs SASL_SSL and AWS_REGION); PLAIN/SCRAM need the username and password.",
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_client_id: str | None = Field(None, description="Defaults to the service name.")
    kafka_consumer_group: str | None = Field(None, description="Defaults to the service name.")
    kafka_topic_partitions: int = Field(
        6, ge=1, le=1000, description="Partitions for topics this service creates."
    )
    kafka_replication_factor: int = Field(
        1, ge=1, le=10, description="Replication factor for topics this service creates."
    )
    kafka_create_topics: bool = Field(
        True, description="Create missing topics at start (off where infra creates them)."
    )
    kafka_request_timeout_s: float = Field(30.0, gt=0)
    kafka_fetch_min_bytes: int = Field(
        1, ge=1, le=16 * 1024 * 1024,
        description="The broker answers this consumer's fetch once this many bytes are "
        "ready (or KAFKA_FETCH_MAX_WAIT_MS passed): 1 = at once, for the lowest latency; "
        "larger = fewer, fuller fetches (less CPU on both sides) for services that batch.",
    )
    kafka_fetch_max_wait_ms: int = Field(
        500, ge=0, le=30_000,
        description="The longest the broker holds a fetch waiting for KAFKA_FETCH_MIN_BYTES.",
    )

    aws_region: str | None = Field(
        None,
        min_length=1,
        description="AWS region of the MSK cluster and other AWS services (ECS sets it); "
        "required with KAFKA_SASL_MECHANISM=OAUTHBEARER.",
    )

    cloudwatch_namespace: str | None = Field(
        None,
        min_length=1,
        description="Publish this task's consumer lag to CloudWatch under this namespace "
        "every minute (the AWS deployment sets it and scales on it; needs AWS_REGION).",
    )

    @model_validator(mode="after")
    def _cloudwatch_needs_region(self) -> ServiceSettings:
        if self.cloudwatch_namespace and not self.aws_region:
            raise ValueError("CLOUDWATCH_NAMESPACE needs AWS_REGION, where the metric goes")
        return self

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> ServiceSettings:
        plain = self.kafka_sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
        if plain and (self.kafka_sasl_username is None or self.kafka_sasl_password is None):
            raise ValueError(
                f"KAFKA_SASL_MECHANISM={self.kafka_sasl_mechanism} needs "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if self.kafka_sasl_mechanism and not self.kafka_security_protocol.startswith("SASL"):
            raise ValueError("KAFKA_SASL_MECHANISM needs KAFKA_SECURITY_PROTOCOL=SASL_SSL")
        if self.kafka_sasl_mechanism == "OAUTHBEARER":
            # The MSK IAM token is a bearer credential: it must never travel in clear.
            if self.kafka_security_protocol != "SASL_SSL":
                raise ValueError(
                    "KAFKA_SASL_MECHANISM=OAUTHBEARER (MSK IAM) needs "
                    "KAFKA_SECURITY_PROTOCOL=SASL_SSL"
                )
            if not self.aws_region:
                raise ValueError(
                    "KAFKA_SASL_MECHANISM=OAUTHBEARER (MSK IAM) needs AWS_REGION, "
                    "the region of the MSK cluster the token is signed for"
                )
        return self

    @property
    def client_id(self) -> str:
        """The Kafka client id: configured, or the service name."""
        return self.kafka_client_id or self.service_name

    @property
    def consumer_group(self) -> str:
        """The consumer group: configured, or the service name."""
        return self.kafka_consumer_group or self.service_name


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S]) -> S:
    """Build ``cls`` from the environment or raise :class:`ConfigError`.

    The error lists every invalid variable by its environment name, so an
    operator can fix them all in one go.
    """
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = "_".join(str(part) for part in err["loc"]).upper() or "(settings)"
            problems.append(f"{name}: {err['msg']}")
        raise ConfigError(
            f"invalid configuration for {cls.__name__}: " + "; ".join(problems)
        ) from exc
