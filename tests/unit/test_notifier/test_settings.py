"""Notifier settings: defaults, list parsing, and channel validation."""

from __future__ import annotations

import pytest

from fraudstream_shared.config import load_settings
from fraudstream_shared.events import Outcome
from fraudstream_shared.exceptions import ConfigError
from notifier.settings import NotifierSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("ALERT_OUTCOMES", "ALERT_TO", "NOTIFIER_CHANNEL", "SNS_TOPIC_ARN",
                 "SMTP_USERNAME", "SMTP_PASSWORD", "NOTIFIER_SENT_TOPIC", "DECISIONS_TOPIC"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]  # no stray .env


def test_defaults() -> None:
    s = load_settings(NotifierSettings)
    assert s.alert_outcomes == [Outcome.BLOCK]
    assert s.notifier_channel == "smtp"
    assert (s.smtp_host, s.smtp_port, s.smtp_starttls) == ("127.0.0.1", 1025, False)
    assert s.notifier_max_attempts == 5
    assert s.decisions_topic == "processed_transactions"
    assert s.notifier_sent_topic == "processed_transactions.notified"


def test_comma_separated_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_OUTCOMES", "block, review")
    monkeypatch.setenv("ALERT_TO", "a@example.com,b@example.com")
    s = load_settings(NotifierSettings)
    assert s.alert_outcomes == [Outcome.BLOCK, Outcome.REVIEW]
    assert s.alert_to == ["a@example.com", "b@example.com"]


def test_json_lists_still_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_OUTCOMES", '["review"]')
    assert load_settings(NotifierSettings).alert_outcomes == [Outcome.REVIEW]


def test_unknown_outcome_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_OUTCOMES", "block,maybe")
    with pytest.raises(ConfigError, match="ALERT_OUTCOMES"):
        load_settings(NotifierSettings)


def test_sns_without_topic_arn_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_CHANNEL", "sns")
    with pytest.raises(ConfigError, match="NOTIFIER_CHANNEL=sns needs SNS_TOPIC_ARN"):
        load_settings(NotifierSettings)


def test_sns_with_topic_arn_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_CHANNEL", "sns")
    monkeypatch.setenv("SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:fraud-alerts")
    assert load_settings(NotifierSettings).sns_topic_arn is not None


def test_smtp_password_is_secret_and_paired(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USERNAME", "alerts")
    with pytest.raises(ConfigError, match="SMTP_USERNAME and SMTP_PASSWORD"):
        load_settings(NotifierSettings)
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2")
    s = load_settings(NotifierSettings)
    assert "hunter2" not in repr(s)
    assert s.smtp_password is not None
    assert s.smtp_password.get_secret_value() == "hunter2"


def test_empty_recipients_fail_for_smtp(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_TO", " , ")
    with pytest.raises(ConfigError, match="ALERT_TO"):
        load_settings(NotifierSettings)
