"""The end of a phase: buffering services are stopped, not waited for, and their CPU is
counted to their exit."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.runner import Monitor, Options, Watched, pid_of
from bench.schedule import Schedule, Step
from bench.services import Service

STOPS_SLOWLY = """
import signal, sys, time
def stop(*_):
    started = time.process_time()
    while time.process_time() - started < {burn}:  # a flush: CPU spent after SIGTERM
        pass
    sys.exit(0)
signal.signal(signal.SIGTERM, {handler})
print("ready", flush=True)
while True:
    time.sleep(0.05)
"""


def child(tmp_path: Path, name: str, *, burn: float = 0.3,
          ignore_sigterm: bool = False) -> Service:
    """A running process that spends ``burn`` CPU seconds when told to stop (or ignores it)."""
    code = STOPS_SLOWLY.format(burn=burn,
                               handler="signal.SIG_IGN" if ignore_sigterm else "stop")
    service = Service(name, {}, tmp_path, argv=[sys.executable, "-c", code],
                      http=False).start()
    deadline = time.monotonic() + 30
    while "ready" not in service.log_tail():
        assert service.alive(), service.log_tail()
        assert time.monotonic() < deadline, service.log_tail()
        time.sleep(0.02)
    return service


async def test_a_graceful_stop_counts_the_cpu_spent_after_the_signal(tmp_path: Path) -> None:
    service = child(tmp_path, "archiver-x", burn=0.3)
    before = service.sample()
    assert before is not None
    assert before.cpu_seconds < 0.3

    cpu_seconds = await service.stop_counting_cpu()

    assert cpu_seconds is not None
    assert cpu_seconds >= before.cpu_seconds + 0.3
    assert service.exit_code() == 0
    assert not service.alive()
    assert await service.stop_counting_cpu() is None  # already reaped: nothing to count
    assert service.stop() == 0


async def test_a_process_deaf_to_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    service = child(tmp_path, "archiver-y", ignore_sigterm=True)

    cpu_seconds = await service.stop_counting_cpu(timeout=0.3)

    assert cpu_seconds is not None
    assert cpu_seconds >= 0
    assert service.exit_code() == -9


async def test_a_process_reaped_by_someone_else_has_no_cpu_to_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = child(tmp_path, "archiver-z", burn=0.0)
    assert service.proc is not None
    real_wait4 = os.wait4

    def reaped_first(pid: int, options: int) -> tuple[int, int, object]:
        # Another waiter (a SIGCHLD handler, say) collects the exit and its usage first.
        os.waitpid(pid, 0)
        monkeypatch.setattr(os, "wait4", real_wait4)
        return real_wait4(pid, options)

    monkeypatch.setattr(os, "wait4", reaped_first)

    assert await service.stop_counting_cpu() is None
    assert not service.alive()


class ScriptedLags(Monitor):
    """A monitor whose lag samples come from ``lag_of`` instead of the broker."""

    def __init__(self, procs: list[Watched], groups: list[str],
                 lag_of: Callable[[str], int]) -> None:
        bench = SimpleNamespace(opts=Options(partitions=6))
        super().__init__(bench, Schedule((Step(100, 1),)), time.time(), procs,  # type: ignore[arg-type]
                         [(name, f"group-{name}", "decisions") for name in groups])
        self.lag_of = lag_of

    async def sample(self) -> None:
        for proc in self.procs:
            proc.take()
        for name in self.lags:
            self.lags[name].append((time.time(), self.lag_of(name)))


@pytest.mark.parametrize("left", [0, 5_000])
async def test_the_drain_stops_the_archiver_instead_of_waiting_for_its_flush(
        tmp_path: Path, left: int) -> None:
    archiver = child(tmp_path, "archiver-pipe", burn=0.3)
    measurer = Service("measure-pipe", {}, tmp_path, argv=[sys.executable, "-c", "pass"],
                       http=False).start()
    assert await measurer.exited() == 0
    watched = Watched("archiver", pid_of(archiver))
    # Far behind while it runs (it holds a minute of records); after its stop, ``left``.
    monitor = ScriptedLags([watched], ["indexer", "archiver"],
                           lambda name: (left if not archiver.alive() else 90_000)
                           if name == "archiver" else 0)
    started = time.monotonic()

    behind = await monitor.until_drained(measurer, time.time() + 60,
                                         {"archiver": archiver})

    assert time.monotonic() - started < 20  # not the 60 s deadline
    assert not archiver.alive()
    assert archiver.exit_code() == 0
    assert behind == ({"archiver": left} if left else {})
    assert watched.last is not None
    assert watched.last.cpu_seconds >= 0.3
    monitor.boundary(final=True)
    assert watched.boundaries[-1] is watched.last  # the final boundary counts the flush


async def test_without_buffering_services_the_drain_waits_for_every_group(
        tmp_path: Path) -> None:
    measurer = Service("measure-null", {}, tmp_path, argv=[sys.executable, "-c", "pass"],
                       http=False).start()
    assert await measurer.exited() == 0
    lags = iter([500, 500, 0])
    monitor = ScriptedLags([], ["nullscorer"], lambda _name: next(lags))

    assert await monitor.until_drained(measurer, time.time() + 60, {}) == {}
    assert [n for _, n in monitor.lags["nullscorer"]] == [500, 500, 0]
