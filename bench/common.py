"""What the benchmark's own processes share: settings for the shared Kafka factories, paths."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from pydantic import Field

from fraudstream_shared.config import ServiceSettings

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WORK = REPO / ".local" / "bench"
DEFAULT_PARTITIONS: int = ServiceSettings.model_fields["kafka_topic_partitions"].default
"""The services' own default partition count (``KAFKA_TOPIC_PARTITIONS``), the bench's too."""


class BenchSettings(ServiceSettings):
    """Connection settings of the load generator and the measuring consumer.

    The bench clients are made by the same factories as the services'
    (``fraudstream_shared.kafka``), so they share their options (idempotent
    ``acks=all`` producer, ``read_committed`` reader).
    """

    service_name: str = "bench"
    http_port: int = Field(8099, ge=1, le=65535)


def bench_settings(bootstrap: str | None = None) -> BenchSettings:
    """Bench settings for ``bootstrap`` (default: ``KAFKA_BOOTSTRAP_SERVERS`` or local)."""
    servers = bootstrap or os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    return BenchSettings(kafka_bootstrap_servers=servers)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (atomically: readers never see half a file)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    """The JSON in ``path``."""
    return json.loads(path.read_text(encoding="utf-8"))


async def topic_partitions(admin: AIOKafkaAdminClient, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (empty when it does not exist).

    Asked of the admin API because a group-less consumer only learns about a
    topic's partitions once it fetches from it.
    """
    described = await admin.describe_topics([topic])
    if not described or described[0].get("error_code"):
        return []
    return sorted(int(p["partition"]) for p in described[0]["partitions"])
