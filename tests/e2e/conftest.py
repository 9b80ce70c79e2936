"""Fixtures for the end-to-end tests: real processes around the real servers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.faults import start_mailcatcher


@pytest.fixture(scope="session")
def mailcatcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """The local SMTP catcher as a real process, for the whole session: (SMTP port, API URL)."""
    proc, smtp_port, url = start_mailcatcher(tmp_path_factory.mktemp("mail"))
    try:
        yield smtp_port, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
