"""Consumers fetch as their service's settings say: at once by default, fuller for the rest."""

from __future__ import annotations

import pytest

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
    # The common default answers at once; the scorer waits briefly for a
    # fuller batch (cheaper polls), longer where each poll is a transaction.
    common = ServiceSettings(service_name="demo", _env_file=None)  # type: ignore[call-arg]
    assert (common.kafka_fetch_min_bytes, common.kafka_fetch_max_wait_ms) == (1, 500)
    scorer = ScorerSettings(_env_file=None)  # type: ignore[call-arg]
    assert (scorer.kafka_fetch_min_bytes, scorer.kafka_fetch_max_wait_ms) == (256 * 1024, 50)
    for sink in (IndexerSettings, NotifierSettings, ArchiverSettings):
        settings = sink(_env_file=None)  # type: ignore[call-arg]
        assert settings.kafka_fetch_min_bytes >= 256 * 1024
        # Bounded: a quiet topic still delivers within half a second.
        assert settings.kafka_fetch_max_wait_ms <= 500


def test_the_scorers_fetch_wait_follows_exactly_once_unless_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def scorer(**values: object) -> ScorerSettings:
        return ScorerSettings(_env_file=None, **values)  # type: ignore[call-arg]

    assert scorer(scorer_exactly_once=True).kafka_fetch_max_wait_ms == 50
    assert scorer(scorer_exactly_once=False).kafka_fetch_max_wait_ms == 20
    # Set explicitly, the value stands in either mode, even when it is a default's.
    assert scorer(scorer_exactly_once=False, kafka_fetch_max_wait_ms=50
                  ).kafka_fetch_max_wait_ms == 50
    assert scorer(kafka_fetch_max_wait_ms=5).kafka_fetch_max_wait_ms == 5
    # The same from the environment, as a deployment sets them.
    monkeypatch.setenv("SCORER_EXACTLY_ONCE", "false")
    assert scorer().kafka_fetch_max_wait_ms == 20
    monkeypatch.setenv("KAFKA_FETCH_MAX_WAIT_MS", "80")
    assert scorer().kafka_fetch_max_wait_ms == 80
