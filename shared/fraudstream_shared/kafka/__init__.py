"""Kafka helpers: client factories, topic creation, the batch loop, dead-lettering."""

from fraudstream_shared.kafka.admin import (
    TopicSpec,
    compacted_topic,
    dead_letter_spec,
    ensure_topics,
    input_topic,
)
from fraudstream_shared.kafka.batches import send_batched
from fraudstream_shared.kafka.client import (
    connection_options,
    create_admin,
    create_consumer,
    create_producer,
    create_reader,
)
from fraudstream_shared.kafka.consumer import BatchConsumerLoop, Record, Settlement, next_offsets
from fraudstream_shared.kafka.deadletter import DeadLetterPublisher
from fraudstream_shared.kafka.worker import KafkaWorker

__all__ = [
    "BatchConsumerLoop",
    "DeadLetterPublisher",
    "KafkaWorker",
    "Record",
    "Settlement",
    "TopicSpec",
    "compacted_topic",
    "connection_options",
    "create_admin",
    "create_consumer",
    "create_producer",
    "create_reader",
    "dead_letter_spec",
    "ensure_topics",
    "input_topic",
    "next_offsets",
    "send_batched",
]
