"""Per-environment settings of the AWS deployment (sizes, counts, retention, names).

Two example environments, ``dev`` and ``prod``, live here as plain data so a
test can synthesize both. Any field can be overridden at synth time with CDK
context: ``-c fraudstream:dev:scorer_backend=frauddetector`` (see README).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

ScorerBackend = Literal["embedded", "frauddetector", "sagemaker"]
SERVICES: tuple[str, ...] = ("producer", "scorer", "notifier", "indexer", "archiver",
                             "compliance")
"""Every service, in pipeline order; each gets one ECR repository and one Fargate service."""

CONSUMERS: tuple[str, ...] = ("scorer", "notifier", "indexer", "archiver")
"""Services that consume a topic in a group and therefore scale on consumer lag."""


@dataclass(frozen=True)
class TaskSize:
    """Fargate size and task count of one service."""

    cpu: int = 256
    memory_mib: int = 512
    desired: int = 1
    max_count: int = 1


@dataclass(frozen=True)
class EnvironmentConfig:
    """Everything that differs between environments, plus the original's parameters."""

    name: str
    # Topic and Fraud Detector names mirror the original template's parameters.
    transactions_topic: str = "transactions"
    decisions_topic: str = "processed_transactions"
    labels_topic: str = "transaction_labels"
    findings_topic: str = "compliance_findings"
    """The compliance service's findings: topic and OpenSearch index."""
    fraud_detector_name: str = "transaction_fraud_detector"
    fraud_detector_event_name: str = "transaction_event"
    fraud_detector_entity_type: str = "customer"
    scorer_backend: ScorerBackend = "embedded"
    sagemaker_endpoint_name: str = "fraudstream-scorer"
    image_tag: str = "0.1.0"
    log_level: str = "INFO"

    vpc_cidr: str = "10.40.0.0/16"
    nat_gateways: int = 1
    bastion: bool = True

    kafka_version: str = "3.9.x"
    kafka_instance_type: str = "kafka.t3.small"
    kafka_brokers: int = 2
    kafka_volume_gib: int = 20
    kafka_partitions: int = 6
    kafka_replication_factor: int = 2
    kafka_min_insync_replicas: int = 1
    kafka_enhanced_monitoring: str = "PER_TOPIC_PER_BROKER"

    opensearch_version: str = "OpenSearch_2.19"
    opensearch_data_instance_type: str = "t3.medium.search"
    opensearch_data_nodes: int = 2
    opensearch_master_instance_type: str | None = None
    opensearch_volume_gib: int = 20

    log_retention_days: int = 14
    data_lake_transition_days: int = 30
    data_lake_expiration_days: int = 365
    retain_data: bool = False

    lag_scale_out: int = 1000
    lag_alarm: int = 10_000
    tasks: dict[str, TaskSize] = field(default_factory=dict)

    def task(self, service: str) -> TaskSize:
        """The size of ``service``'s task (defaults when the environment does not say)."""
        return self.tasks.get(service, TaskSize())

    @property
    def stack_name(self) -> str:
        """Lower case and short, like the original's stack-name rule."""
        return f"fraudstream-{self.name}"

    @property
    def metrics_namespace(self) -> str:
        """CloudWatch namespace of the metrics the services publish (``ConsumerLag``)."""
        return f"fraudstream/{self.name}"


ENVIRONMENTS: dict[str, EnvironmentConfig] = {
    "dev": EnvironmentConfig(
        name="dev",
        tasks={svc: TaskSize(desired=1, max_count=3) for svc in SERVICES}
        | {"compliance": TaskSize(cpu=256, memory_mib=1024, desired=1, max_count=1)},
    ),
    "prod": EnvironmentConfig(
        name="prod",
        vpc_cidr="10.41.0.0/16",
        nat_gateways=2,
        bastion=False,
        kafka_instance_type="kafka.m7g.large",
        kafka_brokers=4,
        kafka_volume_gib=500,
        kafka_partitions=12,
        kafka_replication_factor=3,
        kafka_min_insync_replicas=2,
        kafka_enhanced_monitoring="PER_TOPIC_PER_PARTITION",
        opensearch_data_instance_type="r7g.large.search",
        opensearch_data_nodes=4,
        opensearch_master_instance_type="m7g.large.search",
        opensearch_volume_gib=200,
        log_retention_days=90,
        data_lake_transition_days=30,
        data_lake_expiration_days=2555,
        retain_data=True,
        lag_scale_out=5000,
        lag_alarm=50_000,
        tasks={
            "producer": TaskSize(cpu=512, memory_mib=1024, desired=1, max_count=1),
            # Never more consumers than partitions: extra ones would sit idle.
            "scorer": TaskSize(cpu=1024, memory_mib=2048, desired=3, max_count=12),
            "notifier": TaskSize(cpu=256, memory_mib=512, desired=2, max_count=6),
            "indexer": TaskSize(cpu=512, memory_mib=1024, desired=2, max_count=12),
            "archiver": TaskSize(cpu=512, memory_mib=1024, desired=2, max_count=6),
            # PDF text extraction and the name dictionaries want memory, not many tasks.
            "compliance": TaskSize(cpu=512, memory_mib=2048, desired=2, max_count=2),
        },
    ),
}


def _coerce(current: Any, raw: Any) -> Any:
    """Context values arrive as strings from ``-c``; convert them to the field's type."""
    if isinstance(current, bool):
        return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
    if isinstance(current, int):
        return int(raw)
    return raw


def resolve(name: str, context: dict[str, Any]) -> EnvironmentConfig:
    """``ENVIRONMENTS[name]`` with overrides from context keys ``fraudstream:<name>:<field>``."""
    base = ENVIRONMENTS[name]
    prefix = f"fraudstream:{name}:"
    overrides = {}
    for f in fields(base):
        key = prefix + f.name
        if key in context and f.name not in ("name", "tasks"):
            overrides[f.name] = _coerce(getattr(base, f.name), context[key])
    return validate(replace(base, **overrides))


def validate(config: EnvironmentConfig) -> EnvironmentConfig:
    """Refuse settings the deployment cannot honour, naming the offending field."""
    if config.scorer_backend not in ("embedded", "frauddetector", "sagemaker"):
        raise ValueError(f"scorer_backend: unknown backend {config.scorer_backend!r}")
    if config.kafka_brokers % 2:
        raise ValueError("kafka_brokers: MSK needs a multiple of the AZ count (2)")
    if config.opensearch_data_nodes % 2:
        raise ValueError("opensearch_data_nodes: zone awareness over 2 AZs needs an even count")
    for svc in CONSUMERS:
        if config.task(svc).max_count > config.kafka_partitions:
            raise ValueError(f"tasks[{svc}].max_count: more consumers than partitions sit idle")
    return config
