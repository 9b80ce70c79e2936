"""OpenSearch auth chosen by OPENSEARCH_AUTH: none, basic, or SigV4 with the task role."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import AsyncHttpConnection

from fraudstream_shared.aws import NoAwsCredentialsError
from fraudstream_shared.config import load_settings
from fraudstream_shared.exceptions import ConfigError
from fraudstream_shared.opensearch import create_opensearch_client
from indexer.settings import IndexerSettings
from tests.support.aws import FAKE_ACCESS_KEY, FAKE_SESSION_TOKEN, isolate_aws

DOMAIN = "https://vpc-fraudstream-dev-abc123.eu-west-1.es.amazonaws.com"
AUTH_VARIABLES = ("OPENSEARCH_AUTH", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD",
                  "OPENSEARCH_URL", "AWS_REGION")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AUTH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def configure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> IndexerSettings:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return load_settings(IndexerSettings)


async def connection_of(settings: IndexerSettings) -> Any:
    """The HTTP connection the client will send every request through."""
    # Creates the connections, opens no socket.
    async with create_opensearch_client(settings) as client:
        return client.transport.get_connection()


# ----------------------------------------------------------------------------- settings


def test_auth_defaults_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    assert configure(monkeypatch).opensearch_auth == "none"


@pytest.mark.parametrize("variables", [
    {"OPENSEARCH_USERNAME": "indexer"},
    {"OPENSEARCH_PASSWORD": "secret"},
    {},
])
def test_basic_auth_needs_both_username_and_password(monkeypatch: pytest.MonkeyPatch,
                                                     variables: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="OPENSEARCH_AUTH=basic needs both OPENSEARCH_USERNAME "
                                          "and OPENSEARCH_PASSWORD"):
        configure(monkeypatch, OPENSEARCH_AUTH="basic", **variables)


@pytest.mark.parametrize("auth", ["none", "sigv4"])
def test_credentials_without_basic_auth_are_refused(monkeypatch: pytest.MonkeyPatch,
                                                    auth: str) -> None:
    with pytest.raises(ConfigError, match=f"set but OPENSEARCH_AUTH={auth}: set OPENSEARCH_AUTH"):
        configure(monkeypatch, OPENSEARCH_AUTH=auth, OPENSEARCH_URL=DOMAIN, AWS_REGION="eu-west-1",
                  OPENSEARCH_USERNAME="indexer", OPENSEARCH_PASSWORD="secret")


def test_sigv4_needs_a_region(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="OPENSEARCH_AUTH=sigv4 needs AWS_REGION"):
        configure(monkeypatch, OPENSEARCH_AUTH="sigv4", OPENSEARCH_URL=DOMAIN)


def test_sigv4_needs_https(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="sigv4 needs an https:// OPENSEARCH_URL"):
        configure(monkeypatch, OPENSEARCH_AUTH="sigv4", AWS_REGION="eu-west-1",
                  OPENSEARCH_URL="http://127.0.0.1:9200")


def test_unknown_auth_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="OPENSEARCH_AUTH"):
        configure(monkeypatch, OPENSEARCH_AUTH="iam")


# ----------------------------------------------------------------------------- clients


async def test_no_auth_sends_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = await connection_of(configure(monkeypatch))
    assert "authorization" not in {name.lower() for name in connection.headers}
    assert connection._http_auth is None


async def test_basic_auth_sends_the_configured_user(monkeypatch: pytest.MonkeyPatch) -> None:
    connection = await connection_of(configure(
        monkeypatch, OPENSEARCH_AUTH="basic", OPENSEARCH_USERNAME="indexer",
        OPENSEARCH_PASSWORD="s3cret:with-colon"))
    headers = {name.lower(): value for name, value in connection.headers.items()}
    assert headers["authorization"] == "Basic " + base64.b64encode(
        b"indexer:s3cret:with-colon").decode()


async def test_sigv4_signs_each_request_for_es_in_the_region(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=True)
    settings = configure(monkeypatch, OPENSEARCH_AUTH="sigv4", OPENSEARCH_URL=DOMAIN,
                         AWS_REGION="eu-west-1")
    connection = await connection_of(settings)
    # The default AIOHttpConnection ignores a callable http_auth: requests would go unsigned.
    assert isinstance(connection, AsyncHttpConnection)

    body = b'{"index":{"_id":"e1"}}\n{"amount":1}\n'
    signed = connection._http_auth(method="POST", url=f"{connection.host}/_bulk", body=body,
                                   headers={"content-type": "application/json"})

    authorization = signed["Authorization"]
    assert re.fullmatch(
        rf"AWS4-HMAC-SHA256 Credential={FAKE_ACCESS_KEY}/\d{{8}}/eu-west-1/es/aws4_request, "
        r"SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}", authorization)
    signed_headers = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"} <= set(
        signed_headers)
    assert signed["X-Amz-Security-Token"] == FAKE_SESSION_TOKEN


async def test_sigv4_without_credentials_fails_at_client_creation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=False)
    settings = configure(monkeypatch, OPENSEARCH_AUTH="sigv4", OPENSEARCH_URL=DOMAIN,
                         AWS_REGION="eu-west-1")
    with pytest.raises(NoAwsCredentialsError, match="no AWS credentials found"):
        create_opensearch_client(settings)
