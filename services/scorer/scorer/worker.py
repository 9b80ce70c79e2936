"""The scorer's work loop."""

from fraudstream_shared.kafka import KafkaWorker
from scorer.settings import ScorerSettings


class ScorerWorker(KafkaWorker):
    """Skeleton: connects to Kafka and reports health; the pipeline fills it in."""

    def __init__(self, settings: ScorerSettings) -> None:
        super().__init__(settings, input_topics=[], topics=[])
