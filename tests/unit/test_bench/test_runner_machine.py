"""The record of the machine a run's figures come from."""

from __future__ import annotations

import os

import pytest

from bench import runner
from bench.procstats import autogroup_enabled


def test_the_machine_record_holds_what_reports_compare_runs_by(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "speed_probe", lambda: 12.5)  # its own test times it

    record = runner.machine()

    assert record["cores"] == os.cpu_count()
    assert record["cpu_model"] == runner.cpu_model()
    assert record["sched_autogroup"] == autogroup_enabled()
    assert record["speed_probe_ms"] == 12.5
    assert len(record["load_average"]) == 3
