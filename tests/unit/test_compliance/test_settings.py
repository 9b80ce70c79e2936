"""The settings refuse combinations that cannot work, naming the variables."""

from __future__ import annotations

import pytest

from compliance.settings import ComplianceSettings
from fraudstream_shared.config import load_settings
from fraudstream_shared.exceptions import ConfigError


def _problem(monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    monkeypatch.chdir("/")  # no .env file
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(ComplianceSettings)
    return str(caught.value)


def test_defaults_are_local_and_port_8006(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir("/")
    settings = load_settings(ComplianceSettings)
    assert settings.http_port == 8006
    assert settings.compliance_storage == "local"
    assert settings.findings_topic == "compliance_findings"


def test_s3_needs_bucket_key_and_region(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "COMPLIANCE_KMS_KEY_ID" in _problem(monkeypatch, COMPLIANCE_STORAGE="s3",
                                               COMPLIANCE_S3_BUCKET="docs")


def test_sqs_needs_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "COMPLIANCE_SQS_QUEUE_URL" in _problem(
        monkeypatch, COMPLIANCE_SQS_QUEUE_URL="https://sqs.example/q")


def test_model_backend_needs_a_local_path(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "COMPLIANCE_NER_MODEL_PATH" in _problem(monkeypatch,
                                                   COMPLIANCE_NER_BACKEND="transformers")


def test_destinations_must_not_sit_under_the_upload_prefix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert "COMPLIANCE_UPLOAD_PREFIX" in _problem(monkeypatch, COMPLIANCE_PII_PREFIX="uploads/pii/")


def test_overlap_must_be_smaller_than_the_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "COMPLIANCE_CHUNK_OVERLAP_CHARS" in _problem(
        monkeypatch, COMPLIANCE_CHUNK_CHARS="300", COMPLIANCE_CHUNK_OVERLAP_CHARS="300")
