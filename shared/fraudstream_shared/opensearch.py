"""OpenSearch for the services that write to it: one settings base, one client factory.

``OPENSEARCH_AUTH`` chooses how requests authenticate: ``none`` (a local
OpenSearch without security), ``basic`` (``OPENSEARCH_USERNAME`` and
``OPENSEARCH_PASSWORD``, both required) or ``sigv4`` (Amazon OpenSearch
Service: requests signed with the task role's credentials for ``AWS_REGION``).
Needs the ``opensearch`` extra of this package (opensearch-py).
"""

from __future__ import annotations

from typing import Any, Literal

from opensearchpy import AsyncHttpConnection, AsyncOpenSearch, AWSV4SignerAsyncAuth
from pydantic import Field, SecretStr, model_validator

from fraudstream_shared.aws import load_credentials
from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.exceptions import ConfigError

SIGV4_SERVICE = "es"
"""The signing name of Amazon OpenSearch Service domains."""


class OpenSearchSettings(ServiceSettings):
    """The common settings plus where OpenSearch is and how to authenticate to it."""

    opensearch_url: str = Field("http://127.0.0.1:9200", min_length=1)
    opensearch_auth: Literal["none", "basic", "sigv4"] = Field(
        "none",
        description="none | basic (OPENSEARCH_USERNAME/PASSWORD) | sigv4 (Amazon OpenSearch "
        "Service, signed with the task role for AWS_REGION).",
    )
    opensearch_username: str | None = Field(
        None, description="Required with OPENSEARCH_AUTH=basic."
    )
    opensearch_password: SecretStr | None = Field(
        None, description="Required with OPENSEARCH_AUTH=basic."
    )
    opensearch_verify_certs: bool = Field(True, description="Verify the TLS certificate.")
    opensearch_timeout_s: float = Field(30.0, gt=0, description="Per-request timeout.")

    @model_validator(mode="after")
    def _opensearch_auth_is_complete(self) -> OpenSearchSettings:
        problem = opensearch_auth_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def opensearch_auth_problem(settings: OpenSearchSettings) -> str | None:
    """Why the OpenSearch auth settings do not fit together, or ``None`` when they do."""
    credentials = (settings.opensearch_username is not None
                   or settings.opensearch_password is not None)
    if settings.opensearch_auth == "basic":
        if not settings.opensearch_username or settings.opensearch_password is None:
            return "OPENSEARCH_AUTH=basic needs both OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD"
        return None
    if credentials:
        # Silently dropping a configured password would hide a mistake.
        return (f"OPENSEARCH_USERNAME/OPENSEARCH_PASSWORD are set but OPENSEARCH_AUTH="
                f"{settings.opensearch_auth}: set OPENSEARCH_AUTH=basic or unset them")
    if settings.opensearch_auth == "sigv4":
        if not settings.aws_region:
            return ("OPENSEARCH_AUTH=sigv4 needs AWS_REGION, the region of the "
                    "OpenSearch domain the requests are signed for")
        if not settings.opensearch_url.startswith("https://"):
            return "OPENSEARCH_AUTH=sigv4 needs an https:// OPENSEARCH_URL (Amazon OpenSearch)"
    return None


def create_opensearch_client(settings: OpenSearchSettings) -> AsyncOpenSearch:
    """An async client for ``OPENSEARCH_URL``, authenticating as ``OPENSEARCH_AUTH`` says.

    The client's own retries are off: the services retry with backoff where
    they know what is safe to repeat. With ``sigv4`` the credentials are
    resolved here (blocking, once, at start-up) and raise
    :class:`~fraudstream_shared.aws.NoAwsCredentialsError` when there are none.
    """
    return AsyncOpenSearch(
        hosts=[settings.opensearch_url],
        **auth_options(settings),
        verify_certs=settings.opensearch_verify_certs,
        ssl_show_warn=settings.opensearch_verify_certs,
        timeout=settings.opensearch_timeout_s,
        max_retries=0,
        retry_on_timeout=False,
    )


def auth_options(settings: OpenSearchSettings) -> dict[str, Any]:
    """The client options for ``OPENSEARCH_AUTH``: ``http_auth`` and, for SigV4, its connection."""
    if settings.opensearch_auth == "basic":
        if settings.opensearch_username is None or settings.opensearch_password is None:
            raise ConfigError("OPENSEARCH_AUTH=basic needs OPENSEARCH_USERNAME and "
                              "OPENSEARCH_PASSWORD")  # the settings validator refuses this
        return {"http_auth": (settings.opensearch_username,
                              settings.opensearch_password.get_secret_value())}
    if settings.opensearch_auth == "sigv4":
        if not settings.aws_region:
            raise ConfigError("OPENSEARCH_AUTH=sigv4 needs AWS_REGION")
        # Task-role credentials are refreshable: the signer takes a frozen copy per
        # request, so the client keeps working across credential rotations.
        auth = AWSV4SignerAsyncAuth(load_credentials(), settings.aws_region, SIGV4_SERVICE)
        # Only AsyncHttpConnection calls a callable http_auth for each request;
        # the default AIOHttpConnection would send the requests unsigned.
        return {"http_auth": auth, "connection_class": AsyncHttpConnection}
    return {}
