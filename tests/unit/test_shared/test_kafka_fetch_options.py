"""Consumers fetch as their service's settings say: at once by default, fuller for the rest."""

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


def test_the_scorer_waits_briefly_and_sinks_wait_for_fuller_fetches() -> None:
    # The common default answers at once; the scorer's latency allows 20 ms
    # of waiting for a fuller batch (cheaper polls), no more.
    common = ServiceSettings(service_name="demo", _env_file=None)  # type: ignore[call-arg]
    assert (common.kafka_fetch_min_bytes, common.kafka_fetch_max_wait_ms) == (1, 500)
    scorer = ScorerSettings(_env_file=None)  # type: ignore[call-arg]
    assert (scorer.kafka_fetch_min_bytes, scorer.kafka_fetch_max_wait_ms) == (256 * 1024, 20)
    for sink in (IndexerSettings, NotifierSettings, ArchiverSettings):
        settings = sink(_env_file=None)  # type: ignore[call-arg]
        assert settings.kafka_fetch_min_bytes >= 256 * 1024
        # Bounded: a quiet topic still delivers within half a second.
        assert settings.kafka_fetch_max_wait_ms <= 500
