"""Topic creation with explicit partition counts (auto-creation is off)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from fraudstream_shared.events.topics import dead_letter_topic
from fraudstream_shared.exceptions import RetryableError
from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)

LARGE_MESSAGE_BYTES = 16 * 1024 * 1024
"""Topics accept messages this large so that junk can reach us and be dead-lettered."""

DEAD_LETTER_MESSAGE_BYTES = 32 * 1024 * 1024
"""A dead letter carries the original value, base64-encoded when binary (4/3 larger)."""


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create if missing: name, partitions, replication and configs."""

    name: str
    partitions: int
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def input_topic(name: str, partitions: int, replication_factor: int) -> TopicSpec:
    """An input topic that accepts large values, so oversized junk is dead-lettered, not refused."""
    return TopicSpec(
        name, partitions, replication_factor, {"max.message.bytes": str(LARGE_MESSAGE_BYTES)}
    )


def dead_letter_spec(source_topic: str, partitions: int, replication_factor: int) -> TopicSpec:
    """The ``<source>.dlq`` topic: large enough for an oversized input in its envelope."""
    return TopicSpec(
        dead_letter_topic(source_topic), partitions, replication_factor,
        {"max.message.bytes": str(DEAD_LETTER_MESSAGE_BYTES)},
    )


def compacted_topic(name: str, partitions: int, replication_factor: int) -> TopicSpec:
    """A log-compacted topic (changelogs, sent-notification records)."""
    return TopicSpec(name, partitions, replication_factor, {"cleanup.policy": "compact"})


async def ensure_topics(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Create the topics in ``specs`` that do not exist yet; return the created names.

    A topic that another instance created concurrently counts as existing;
    any other broker error raises :class:`RetryableError` naming the topic.
    """
    existing = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in existing]
    if not missing:
        return []
    response = await admin.create_topics(
        [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in missing
        ]
    )
    created = []
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        if code == 0:
            created.append(name)
            log_event(log, logging.INFO, "kafka.topic.created", topic=name)
        elif code != TopicAlreadyExistsError.errno:
            message = topic_error[2] if len(topic_error) > 2 else ""
            raise RetryableError(f"could not create topic {name}: error {code} {message}")
    return created
