"""The indexer's work loop."""

from fraudstream_shared.kafka import KafkaWorker
from indexer.settings import IndexerSettings


class IndexerWorker(KafkaWorker):
    """Skeleton: connects to Kafka and reports health; the pipeline fills it in."""

    def __init__(self, settings: IndexerSettings) -> None:
        super().__init__(settings, input_topics=[], topics=[])
