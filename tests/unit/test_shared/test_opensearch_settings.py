"""Both OpenSearch writers refuse the same incomplete auth settings (one shared base)."""

from __future__ import annotations

import pytest

from compliance.settings import ComplianceSettings
from fraudstream_shared.config import load_settings
from fraudstream_shared.exceptions import ConfigError
from fraudstream_shared.opensearch import OpenSearchSettings
from indexer.settings import IndexerSettings


@pytest.mark.parametrize("cls", [IndexerSettings, ComplianceSettings])
def test_every_writer_refuses_basic_auth_without_a_password(
        cls: type[OpenSearchSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSEARCH_AUTH", "basic")
    monkeypatch.setenv("OPENSEARCH_USERNAME", "writer")
    monkeypatch.delenv("OPENSEARCH_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="OPENSEARCH_AUTH=basic needs both"):
        load_settings(cls)


@pytest.mark.parametrize("cls", [IndexerSettings, ComplianceSettings])
def test_every_writer_refuses_sigv4_over_plain_http(
        cls: type[OpenSearchSettings], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENSEARCH_AUTH", "sigv4")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("OPENSEARCH_URL", "http://search.internal:9200")
    with pytest.raises(ConfigError, match="needs an https:// OPENSEARCH_URL"):
        load_settings(cls)
