"""Settings: typed, frozen, fail-fast with the variable named."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.exceptions import ConfigError


class DemoSettings(ServiceSettings):
    service_name: str = "demo"
    required_thing: int


def test_required_value_missing_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUIRED_THING", raising=False)
    with pytest.raises(ConfigError, match="REQUIRED_THING"):
        load_settings(DemoSettings)


def test_malformed_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_THING", "1")
    monkeypatch.setenv("HTTP_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="HTTP_PORT"):
        load_settings(DemoSettings)


def test_values_come_from_environment_and_are_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_THING", "7")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker-1:9092,broker-2:9092")
    settings = load_settings(DemoSettings)
    assert settings.required_thing == 7
    assert settings.kafka_bootstrap_servers == "broker-1:9092,broker-2:9092"
    with pytest.raises(ValidationError):
        settings.http_port = 1  # type: ignore[misc]


def test_group_and_client_id_default_to_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_THING", "1")
    monkeypatch.delenv("KAFKA_CONSUMER_GROUP", raising=False)
    settings = load_settings(DemoSettings)
    assert settings.consumer_group == "demo"
    assert settings.client_id == "demo"


def test_sasl_password_is_secret_and_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUIRED_THING", "1")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "svc")
    with pytest.raises(ConfigError, match="KAFKA_SASL_PASSWORD"):
        load_settings(DemoSettings)
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "hunter2")
    settings = load_settings(DemoSettings)
    assert isinstance(settings.kafka_sasl_password, SecretStr)
    assert "hunter2" not in repr(settings)
