"""Producer settings from the environment."""

from __future__ import annotations

import pytest

from fraudstream_shared.config import load_settings
from fraudstream_shared.events import topics
from fraudstream_shared.exceptions import ConfigError
from producer.settings import ProducerSettings


def test_defaults_match_the_original(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(ProducerSettings)
    assert settings.producer_rate_per_s == pytest.approx(35 / 60)
    assert settings.transactions_topic == topics.TRANSACTIONS
    assert settings.labels_topic == topics.TRANSACTION_LABELS
    assert settings.producer_autostart is True
    assert settings.label_delay_s == 60


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCER_RATE_PER_S", "2500")
    monkeypatch.setenv("PRODUCER_AUTOSTART", "false")
    monkeypatch.setenv("TRANSACTIONS_TOPIC", "tx-x")
    monkeypatch.setenv("LABEL_DELAY_S", "1.5")
    settings = load_settings(ProducerSettings)
    assert (settings.producer_rate_per_s, settings.producer_autostart) == (2500, False)
    assert (settings.transactions_topic, settings.label_delay_s) == ("tx-x", 1.5)


def test_replay_needs_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCER_MODE", "replay")
    with pytest.raises(ConfigError, match="PRODUCER_REPLAY_FILE"):
        load_settings(ProducerSettings)


def test_rate_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCER_RATE_PER_S", "0")
    with pytest.raises(ConfigError, match="PRODUCER_RATE_PER_S"):
        load_settings(ProducerSettings)
