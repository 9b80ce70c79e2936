"""The PNG plot and the command line's option parsing."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from bench.__main__ import floats, machine_change_note, parser, phases, previous_run
from bench.common import DEFAULT_PARTITIONS
from bench.plot import plot, points, series
from tests.unit.test_bench.factories import not_run, results, step, stepped


def test_plot_points_skip_steps_not_run_and_infinite_latencies() -> None:
    run = stepped(True, [step(500, p99=80.0), step(1000, achieved=700, p99="inf"),
                         not_run(2500)])

    assert points(run, "achieved") == ([500.0, 1000.0], [500.0, 700.0])
    assert points(run, "p99") == ([500.0], [80.0])


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    data = results(pipeline=[stepped(True, [step(500), step(1000, p99=200.0)]),
                             stepped(False, [step(500, p99=20.0)])],
                   null_scorer=[stepped(True, [step(500, p99=15.0)])])
    path = tmp_path / "bench.png"

    plot(data, path)

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_empty_run_still_plots(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"

    plot(results(), path)

    assert path.stat().st_size > 0


def test_rates_and_phases_options() -> None:
    assert floats("1000, 2500,5000") == (1000.0, 2500.0, 5000.0)
    assert phases("pipeline,micro") == ("pipeline", "micro")
    for bad in ("", "0,100", "x"):
        with pytest.raises((argparse.ArgumentTypeError, ValueError)):
            floats(bad)
    with pytest.raises(argparse.ArgumentTypeError, match="phases are"):
        phases("pipeline,warp")


def test_run_defaults_follow_the_options() -> None:
    args = parser().parse_args(["run", "--rates", "100,200", "--sustain-seconds", "600"])

    assert args.rates == (100.0, 200.0)
    assert args.sustain_seconds == 600
    assert args.floor_rates == (1000.0, 2500.0, 5000.0, 7500.0)
    assert parser().parse_args(["run", "--floor-rates", "2500"]).floor_rates == (2500.0,)
    assert args.step_seconds == 30
    assert args.capacity_repeats == 3
    assert parser().parse_args(["run", "--capacity-repeats", "5"]).capacity_repeats == 5
    assert (args.latency_rate, args.latency_windows, args.latency_seconds) == (2500, 5, 30)
    held = parser().parse_args(["run", "--latency-windows", "3", "--latency-seconds", "20"])
    assert (held.latency_windows, held.latency_seconds) == (3, 20.0)
    assert args.partitions == DEFAULT_PARTITIONS == 6
    assert parser().parse_args(["run", "--partitions", "1"]).partitions == 1


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "inf", "fast"])
def test_the_latency_rate_and_window_are_positive(bad: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    for option in ("--latency-rate", "--latency-seconds"):
        with pytest.raises(SystemExit):
            parser().parse_args(["run", option, bad])
        assert "expected a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5"])
def test_drains_and_partitions_are_whole_numbers_of_one_or_more(
        bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    for option in ("--capacity-repeats", "--partitions"):
        with pytest.raises(SystemExit):
            parser().parse_args(["run", option, bad])
        assert "expected a whole number of 1 or more" in capsys.readouterr().err


def test_earlier_runs_kept_is_a_whole_number_of_zero_or_more(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert parser().parse_args(["run"]).keep_runs == 5
    assert parser().parse_args(["run", "--keep-runs", "0"]).keep_runs == 0
    for bad in ("-1", "all", "2.5"):
        with pytest.raises(SystemExit):
            parser().parse_args(["run", "--keep-runs", bad])
        assert "expected a whole number of 0 or more" in capsys.readouterr().err


def test_the_floor_run_is_drawn_after_the_others() -> None:
    floor = stepped(True, [step(2500)])
    data = results(pipeline=[stepped(True, [step(1000)])], floor=[floor])
    assert [label for label, _ in series(data)] == [
        "pipeline, exactly-once", "floor: pass-through scorer + every sink"]


def test_the_previous_run_is_the_newest_results_file_with_a_machine(tmp_path: Path) -> None:
    assert previous_run(tmp_path / "absent", "") is None
    files = {"2026-11-27-1740": {"machine_before": {"cpu_model": "AMD EPYC", "cores": 2}},
             "2026-11-27-2235": {"machine_before": {"cpu_model": "Intel", "cores": 2}},
             "broken": None, "old-format": {"version": 1}}
    for age, (stem, body) in enumerate(reversed(list(files.items()))):
        path = tmp_path / f"{stem}.json"
        path.write_text("{not json" if body is None else json.dumps(body))
        os.utime(path, (1_000_000 - age, 1_000_000 - age))  # the dict's order, oldest first
    (tmp_path / "notes.md").write_text("not a results file")

    # The newest two cannot say where they ran; 2235 is the newest that can.
    assert previous_run(tmp_path, "") == {
        "file": "2026-11-27-2235", "machine": {"cpu_model": "Intel", "cores": 2}}
    # A run named like an existing file is about to overwrite it: not its own predecessor.
    assert previous_run(tmp_path, "2026-11-27-2235") == {
        "file": "2026-11-27-1740", "machine": {"cpu_model": "AMD EPYC", "cores": 2}}


def test_a_run_after_one_on_another_cpu_is_told_so_before_it_starts() -> None:
    amd = {"cpu_model": "AMD EPYC 7R13 Processor", "cores": 2}
    intel = {"cpu_model": "Intel(R) Xeon(R) Processor", "cores": 2}
    previous = {"file": "2026-11-27-1740", "machine": amd}

    note = machine_change_note(previous, Path("bench/results"), intel)

    assert note == ("note: 2026-11-27-1740 in bench/results ran on AMD EPYC 7R13 Processor "
                    "(2 cores), this machine is Intel(R) Xeon(R) Processor (2 cores): "
                    "the two runs' figures do not compare")
    assert machine_change_note(previous, Path("bench/results"), dict(amd)) is None
    assert machine_change_note(None, Path("bench/results"), intel) is None
    # The same CPU with another core count is another machine too.
    assert machine_change_note(previous, Path("out"), {**amd, "cores": 4}) == (
        "note: 2026-11-27-1740 in out ran on AMD EPYC 7R13 Processor (2 cores), this machine "
        "is AMD EPYC 7R13 Processor (4 cores): the two runs' figures do not compare")
