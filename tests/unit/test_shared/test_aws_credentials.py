"""The default credentials chain, with a clear error when it is empty or half-set."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudstream_shared.aws import NoAwsCredentialsError, load_credentials
from fraudstream_shared.exceptions import ConfigError
from tests.support.aws import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, isolate_aws


def test_static_credentials_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=True)
    frozen = load_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key) == (FAKE_ACCESS_KEY, FAKE_SECRET_KEY)


def test_no_credentials_explains_where_they_come_from(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=False)
    with pytest.raises(NoAwsCredentialsError, match=r"no AWS credentials found.*task role"):
        load_credentials()
    assert issubclass(NoAwsCredentialsError, ConfigError)


def test_half_set_credentials_are_refused_clearly(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_ACCESS_KEY)
    with pytest.raises(NoAwsCredentialsError,
                       match=r"Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY"):
        load_credentials()
