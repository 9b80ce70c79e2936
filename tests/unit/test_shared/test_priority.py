"""A service's CPU priority: set before its threads start, never raised, per service."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from archiver.settings import ArchiverSettings
from indexer.settings import IndexerSettings
from notifier.settings import NotifierSettings
from producer.settings import ProducerSettings
from scorer.settings import ScorerSettings

PROBE = """
import os, threading
from fraudstream_shared.priority import run_at_niceness

def niceness_of_a_thread(started_before):
    seen, go = {{}}, threading.Event()
    def run():
        if started_before:
            go.wait()
        seen["n"] = os.getpriority(os.PRIO_PROCESS, 0)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, go, seen

early, go, early_seen = niceness_of_a_thread(True)  # like a library's, started at import
got = run_at_niceness({wanted})
go.set()
early.join()
late, _, late_seen = niceness_of_a_thread(False)
late.join()
print(got, os.getpriority(os.PRIO_PROCESS, 0), early_seen["n"], late_seen["n"])
"""


def niceness_in_child(wanted: int, started_at: int = 0) -> list[int]:
    """What a fresh process started ``started_at`` nicer than us reports after the call."""
    def start_nicer() -> None:
        if started_at:
            os.nice(started_at)

    out = subprocess.run([sys.executable, "-c", PROBE.format(wanted=wanted)], check=True,
                         capture_output=True, text=True, preexec_fn=start_nicer)
    return [int(n) for n in out.stdout.split()]


def test_every_thread_runs_at_the_niceness_those_started_before_and_after() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = max(own, 7)
    assert niceness_in_child(wanted) == [wanted] * 4


def test_a_process_started_nicer_keeps_its_niceness() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    started = min(own + 12, 19)
    assert niceness_in_child(min(own + 3, 19), started_at=started - own) == [started] * 4


def test_zero_leaves_the_priority_alone() -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness_in_child(0) == [own] * 4


def test_every_service_leaves_its_priority_alone_by_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CPU_NICE", raising=False)
    for settings in (ScorerSettings, ProducerSettings, IndexerSettings, NotifierSettings,
                     ArchiverSettings):
        assert settings().cpu_nice == 0


def test_cpu_nice_is_read_from_the_environment_and_bounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPU_NICE", "3")
    assert IndexerSettings().cpu_nice == 3
    assert ScorerSettings().cpu_nice == 3
    monkeypatch.setenv("CPU_NICE", "20")
    with pytest.raises(ValidationError):
        IndexerSettings()
    monkeypatch.setenv("CPU_NICE", "-1")
    with pytest.raises(ValidationError):
        ScorerSettings()
