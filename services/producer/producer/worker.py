"""The producer's work loop."""

from fraudstream_shared.kafka import KafkaWorker
from producer.settings import ProducerSettings


class ProducerWorker(KafkaWorker):
    """Skeleton: connects to Kafka and reports health; the pipeline fills it in."""

    def __init__(self, settings: ProducerSettings) -> None:
        super().__init__(settings, input_topics=[], topics=[])
