"""moto's server for the AWS services that cannot run here (S3, SQS, SNS, SageMaker).

Unit tests (and the compliance e2e test's S3 path) talk to it over HTTP through
the real botocore/aioboto3 clients, so the request shapes are the service
models' own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from moto.server import ThreadedMotoServer


def use_fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials moto accepts; never a profile or a real credential lookup."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port; yields its endpoint URL, stops it after."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
