"""The notifier's work loop."""

from fraudstream_shared.kafka import KafkaWorker
from notifier.settings import NotifierSettings


class NotifierWorker(KafkaWorker):
    """Skeleton: connects to Kafka and reports health; the pipeline fills it in."""

    def __init__(self, settings: NotifierSettings) -> None:
        super().__init__(settings, input_topics=[], topics=[])
