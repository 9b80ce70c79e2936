"""Parsing CPU time and memory out of /proc texts."""

from __future__ import annotations

import os
from pathlib import Path

from bench.procstats import (
    autogroup_enabled,
    internal_log_bytes,
    parse_cpu_seconds,
    parse_memory_mib,
    parse_start_seconds,
    sample,
    server_state,
    speed_probe,
)

STAT = ("4242 (python -m scorer) S 1 4242 4242 0 -1 4194560 9000 0 0 0 "
        "1250 375 0 0 20 0 3 0 100 1000000 5000 18446744073709551615")


def test_cpu_seconds_are_utime_plus_stime_even_with_spaces_in_the_name() -> None:
    assert parse_cpu_seconds(STAT, ticks=100) == 16.25


def test_start_time_is_the_twentieth_field_after_the_name() -> None:
    assert parse_start_seconds(STAT, ticks=100) == 1.0


def test_this_process_has_been_up_for_no_longer_than_the_machine() -> None:
    state = server_state(os.getpid())

    assert state is not None
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    assert 0 <= state["up_s"] <= uptime
    assert state["cpu_s"] >= 0
    assert server_state(2**22 + 12345) is None


def test_memory_in_mib() -> None:
    status = "Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\nThreads:\t3\n"

    assert parse_memory_mib(status) == (100.0, 200.0)
    assert parse_memory_mib("Name:\tkthreadd\n") == (0.0, 0.0)


def test_sampling_this_process() -> None:
    now = sample(os.getpid())

    assert now is not None
    assert now.cpu_seconds > 0
    assert now.peak_rss_mib >= now.rss_mib > 0


def test_a_process_that_is_gone_samples_as_none() -> None:
    assert sample(2**22 + 12345) is None


def test_the_speed_probe_measures_cpu_milliseconds_of_its_fixed_work() -> None:
    small = speed_probe(rounds=50, repeats=1)
    assert small > 0
    assert isinstance(small, float)


def test_the_internal_topics_are_measured_by_their_record_logs_only(tmp_path: Path) -> None:
    assert internal_log_bytes(tmp_path / "no-broker-here") is None
    assert internal_log_bytes(tmp_path) == {"__consumer_offsets": 0, "__transaction_state": 0}

    def segment(directory: str, name: str, size: int) -> None:
        (tmp_path / directory).mkdir(exist_ok=True)
        (tmp_path / directory / name).write_bytes(b"x" * size)

    segment("__consumer_offsets-0", "00000000000000000000.log", 1_000)
    segment("__consumer_offsets-0", "00000000000000004242.log", 500)
    segment("__consumer_offsets-0", "00000000000000004242.index", 10_000)  # preallocated
    segment("__consumer_offsets-1", "00000000000000000000.log", 250)
    segment("__transaction_state-0", "00000000000000000000.log", 70)
    segment("__transaction_state-0", "00000000000000000000.snapshot", 10)
    segment("transactions-0", "00000000000000000000.log", 9_999)  # not internal
    segment("__consumer_offsets-2.1f2e-delete", "00000000000000000000.log", 9_999)

    assert internal_log_bytes(tmp_path) == {"__consumer_offsets": 1_750,
                                            "__transaction_state": 70}


def test_the_autogroup_setting_is_read_as_on_off_or_unknown(tmp_path: Path) -> None:
    setting = tmp_path / "sched_autogroup_enabled"
    assert autogroup_enabled(setting) is None  # no such setting: another kernel

    setting.write_text("1\n")
    assert autogroup_enabled(setting) is True
    setting.write_text("0\n")
    assert autogroup_enabled(setting) is False
