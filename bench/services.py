"""The services under test as real processes (``python -m <service>``), like ``make run``.

Each gets its own environment (bench-unique topics, index and consumer
group), a free HTTP port for ``/readyz`` and its output in a log file.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import REPO
from bench.procstats import ProcSample, sample

_HANDED_OUT: set[int] = set()
"""Ports :func:`free_port` has returned in this process."""


def free_port() -> int:
    """A TCP port nobody listens on right now, and never one this process handed out before.

    The kernel may give the same free port to two ``bind(0)`` calls in a row,
    and a port handed to a service is not bound until that service starts: two
    services could be given one port, the second would fail to bind, and the
    first would answer the second's readiness checks.
    """
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def readiness_service(body: bytes) -> str | None:
    """The ``service`` a ``/readyz`` answer names (``None`` if it names none)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    service = parsed.get("service") if isinstance(parsed, dict) else None
    return service if isinstance(service, str) else None


class ServiceError(RuntimeError):
    """A service did not start or stop as it should (the message has its log tail)."""


class Service:
    """One process: ``argv`` (default ``python -m <module>``) with ``env`` and a log file."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, *,
                 module: str | None = None, argv: list[str] | None = None,
                 http: bool = True) -> None:
        self.name = name
        self.port = int(env.get("HTTP_PORT") or free_port()) if http else None
        # Who must answer on the port: a service reports its SERVICE_NAME, by
        # default its package's name.
        self.service_name: str | None = None
        if module and http:
            self.service_name = env.get("SERVICE_NAME") or module.rsplit(".", 1)[-1]
        self.log_path = log_dir / f"{name}.log"
        self.argv = argv or [sys.executable, "-m", module or name]
        extra = {"HTTP_PORT": str(self.port), "HTTP_HOST": "127.0.0.1"} if http else {}
        self.env = {**os.environ, **env, **extra, "PYTHONUNBUFFERED": "1"}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id (the service's own Python process)."""
        if self.proc is None:
            raise ServiceError(f"{self.name} was not started")
        return self.proc.pid

    def start(self) -> Service:
        """Start the process, appending its output to the log file."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT)
        return self

    def alive(self) -> bool:
        """Still running."""
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """``/readyz`` answers 200, from this service.

        Raises :class:`ServiceError` when another service answers on its port.
        """
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz",
                                        timeout=2) as response:
                body = response.read()
                ok = bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False
        if self.service_name is not None:
            answered = readiness_service(body)
            if answered != self.service_name:
                raise ServiceError(f"{self.name}: port {self.port} answers as {answered!r}, "
                                   f"not {self.service_name!r}:\n{self.log_tail()}")
        return ok

    def wait_ready(self, timeout: float = 120) -> None:
        """Block until ready, or raise with the log tail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceError(f"{self.name} exited ({self.exit_code()}):\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.3)
        raise ServiceError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def exit_code(self) -> int | None:
        """The exit status once it has exited."""
        return None if self.proc is None else self.proc.poll()

    async def exited(self) -> int | None:
        """Wait (without blocking the event loop) until the process exits; its status."""
        if self.proc is None:
            return None
        return await asyncio.to_thread(self.proc.wait)

    def sample(self) -> ProcSample | None:
        """CPU and memory of the process now (``None`` once it has exited)."""
        return sample(self.pid) if self.alive() else None

    def signal(self, signum: int) -> None:
        """Send ``signum`` if the process is still running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signum)

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); return the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    async def stop_counting_cpu(self, timeout: float = 30) -> float | None:
        """SIGTERM, wait for the exit (SIGKILL after ``timeout``); the CPU seconds of its life.

        The process is reaped with ``wait4``, whose resource usage counts the process
        to its last instruction: a ``/proc`` sample taken before the exit misses the
        work a graceful stop does (an archiver writing the records it still holds).
        ``None`` when the process had already exited, or was never started.
        """
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        kill_at = time.monotonic() + timeout
        while True:
            try:
                # WNOHANG: returns at once, so the loop is never blocked.
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)  # noqa: ASYNC222
            except ChildProcessError:  # reaped by someone else: the usage is gone
                self.proc.poll()
                return None
            if pid:
                # Popen's own bookkeeping: with a returncode set it never waits again.
                self.proc.returncode = os.waitstatus_to_exitcode(status)
                return usage.ru_utime + usage.ru_stime
            if time.monotonic() > kill_at:
                self.proc.kill()
                kill_at = float("inf")
            await asyncio.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        """The end of the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
