"""An AWS environment for unit tests: static fake credentials or none, never a real lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

FAKE_ACCESS_KEY = "AKIAFRAUDSTREAMTEST1"
FAKE_SECRET_KEY = "fake-secret-key-for-local-signing-only"
FAKE_SESSION_TOKEN = "fake-session-token"

_CREDENTIAL_SOURCES = (
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
    "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


def isolate_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *,
                credentials: bool, session_token: bool = True) -> None:
    """Make botocore's default chain see only what the test sets.

    Every credential variable is removed, the config files point at a missing
    file and the instance metadata lookup is disabled (no network, no wait);
    with ``credentials`` the fake static keys are set.
    """
    for name in _CREDENTIAL_SOURCES:
        monkeypatch.delenv(name, raising=False)
    missing = str(tmp_path / "no-aws-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", missing)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    if credentials:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET_KEY)
        if session_token:
            monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_SESSION_TOKEN)
