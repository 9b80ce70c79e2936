"""Bench service processes: unique HTTP ports, and readiness answered by the right service."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench import services
from bench.services import Service, ServiceError, free_port, readiness_service


class _FakeSocket:
    """A socket whose ``bind(0)`` gets the next of ``ports``, repeats too (as the kernel may)."""

    ports: Iterator[int] = iter(())

    def __init__(self, *_: Any) -> None:
        self.port = next(self.ports)

    def __enter__(self) -> _FakeSocket:
        return self

    def __exit__(self, *_: Any) -> None:
        return None

    def bind(self, _address: tuple[str, int]) -> None:
        return None

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def test_a_port_is_never_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_HANDED_OUT", set())
    monkeypatch.setattr(_FakeSocket, "ports", iter([41001, 41001, 41001, 41002]))
    monkeypatch.setattr(services.socket, "socket", _FakeSocket)

    assert [free_port(), free_port()] == [41001, 41002]


@pytest.fixture
def readyz_server() -> Iterator[tuple[int, dict[str, Any]]]:
    """A local server: ``/readyz`` answers ``answer['status']``, naming ``answer['service']``."""
    answer: dict[str, Any] = {"service": "indexer", "status": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ready", "service": answer["service"]}).encode()
            self.send_response(answer["status"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], answer
    finally:
        server.shutdown()
        server.server_close()


def test_readiness_counts_only_from_the_service_itself(
        readyz_server: tuple[int, dict[str, Any]], tmp_path: Path) -> None:
    port, answer = readyz_server
    indexer = Service("indexer-floor", {"HTTP_PORT": str(port)}, tmp_path, module="indexer")

    assert indexer.service_name == "indexer"
    assert indexer.ready()
    answer["status"] = 503
    assert not indexer.ready()

    # Another service on the port (it was given the same one): a clear error, not "ready".
    answer.update(service="notifier", status=200)
    with pytest.raises(ServiceError, match="answers as 'notifier', not 'indexer'"):
        indexer.ready()


def test_processes_without_a_service_name_are_not_checked(
        readyz_server: tuple[int, dict[str, Any]], tmp_path: Path) -> None:
    port, answer = readyz_server
    answer["service"] = "something else"
    child = Service("scorer-child", {"HTTP_PORT": str(port)}, tmp_path, argv=["true"])

    assert child.service_name is None
    assert child.ready()
    assert Service("nullscorer-x", {"HTTP_PORT": str(port)}, tmp_path,
                   module="bench.nullscorer").service_name == "nullscorer"


def test_the_service_named_in_a_readiness_answer() -> None:
    assert readiness_service(b'{"status": "ready", "service": "scorer"}') == "scorer"
    assert readiness_service(b'{"status": "ready"}') is None
    assert readiness_service(b"not json") is None
    assert readiness_service(b'["scorer"]') is None
