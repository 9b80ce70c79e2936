"""Common settings for MSK IAM: OAUTHBEARER needs TLS and AWS_REGION, said plainly."""

from __future__ import annotations

import pytest

from fraudstream_shared.config import ServiceSettings, load_settings
from fraudstream_shared.exceptions import ConfigError


class DemoSettings(ServiceSettings):
    service_name: str = "demo"


@pytest.fixture(autouse=True)
def _msk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "OAUTHBEARER")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    for name in ("KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def test_msk_iam_settings_load_without_username_or_password() -> None:
    settings = load_settings(DemoSettings)
    assert settings.kafka_sasl_mechanism == "OAUTHBEARER"
    assert settings.aws_region == "eu-west-1"


def test_oauthbearer_without_region_names_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigError, match=r"OAUTHBEARER \(MSK IAM\) needs AWS_REGION"):
        load_settings(DemoSettings)


def test_empty_region_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "")
    with pytest.raises(ConfigError, match="AWS_REGION"):
        load_settings(DemoSettings)


def test_oauthbearer_token_never_travels_in_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ConfigError, match=r"OAUTHBEARER .* needs KAFKA_SECURITY_PROTOCOL=SASL_SSL"):
        load_settings(DemoSettings)


def test_region_is_optional_without_msk_iam(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.delenv("KAFKA_SASL_MECHANISM")
    assert load_settings(DemoSettings).aws_region is None
