"""Fixtures for the end-to-end tests: real processes around the real servers."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.processes import REPO, free_port


@pytest.fixture(scope="session")
def mailcatcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """The local SMTP catcher as a real process: (SMTP port, HTTP API URL)."""
    smtp_port, http_port = free_port(), free_port()
    directory = tmp_path_factory.mktemp("mail")
    proc = subprocess.Popen(
        [sys.executable, "infra/local/mailcatcher.py", "--smtp-port", str(smtp_port),
         "--http-port", str(http_port), "--dir", str(directory)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{http_port}"
    try:
        for _ in range(100):
            try:
                httpx.get(url + "/api/messages", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield smtp_port, url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
