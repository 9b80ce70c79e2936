"""Consumers fetch as their service's settings say: at once by default, fuller for sinks."""

from __future__ import annotations

from archiver.settings import ArchiverSettings
from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka.client import create_consumer
from indexer.settings import IndexerSettings
from notifier.settings import NotifierSettings
from scorer.settings import ScorerSettings


async def test_the_consumer_takes_its_fetch_sizes_from_the_settings() -> None:
    settings = ServiceSettings(service_name="demo", _env_file=None,  # type: ignore[call-arg]
                               kafka_fetch_min_bytes=65536, kafka_fetch_max_wait_ms=40)
    consumer = create_consumer(settings, "topic")
    try:
        assert consumer._fetch_min_bytes == 65536
        assert consumer._fetch_max_wait_ms == 40
    finally:
        await consumer.stop()


def test_latency_bound_services_fetch_at_once_and_sinks_wait_for_fuller_fetches() -> None:
    scorer = ScorerSettings(_env_file=None)  # type: ignore[call-arg]
    assert (scorer.kafka_fetch_min_bytes, scorer.kafka_fetch_max_wait_ms) == (1, 500)
    for sink in (IndexerSettings, NotifierSettings, ArchiverSettings):
        settings = sink(_env_file=None)  # type: ignore[call-arg]
        assert settings.kafka_fetch_min_bytes >= 128 * 1024
        # Bounded: a quiet topic still delivers within half a second.
        assert settings.kafka_fetch_max_wait_ms <= 500
