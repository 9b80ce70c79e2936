"""How the runner turns a run's files into results, and how it wires the held-latency phase.

The servers and processes are left out: ``stepped_result`` reads the measurer's
arrays and the generator's summary from files written here, and the phase's
call to ``stepped`` is recorded instead of started.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.common import write_json
from bench.runner import LATENCY_WARMUP, Bench, Options
from bench.schedule import Schedule, Step


class StepFigures:
    """Stands in for the runner's ``Monitor``: per-step figures it would have sampled."""

    def step_figures(self, k: int, events: int) -> dict[str, Any]:
        return {"cpu_s_per_1k": {"scorer": 0.1}, "events_seen": events, "k": k}

    def peak_rss(self) -> dict[str, float]:
        return {"scorer": 300.0}


def write_run(work: Path, schedule: Schedule, latency_ms: list[float],
              undecided: set[int]) -> Path:
    """The measurer's arrays and summary and the generator's summary of one run.

    Event ``i`` is decided ``latency_ms[i]`` after its intended time, half of it
    waiting and a quarter scoring, unless ``i`` is in ``undecided``.
    """
    t0 = 1_000.0
    seqs = [i for i in range(schedule.total_events) if i not in undecided]
    intended = np.array([t0 + schedule.offset(i) for i in seqs])
    latency = np.array([latency_ms[i] for i in seqs])
    out = work / "run-measure.npz"
    np.savez(out, seq=np.array(seqs, dtype=np.int64), intended=intended,
             arrival=intended + latency / 1000, scoring=latency / 2,
             decided=latency * 3 / 4)
    write_json(out.with_suffix(".json"), {"received": len(seqs), "duplicates": 0,
                                          "outcomes": {"approve": len(seqs)},
                                          "cpu_seconds": 0.5})
    return out


def generator_summary(schedule: Schedule) -> dict[str, Any]:
    lateness = {"p50": 0.1, "p99": 0.5, "max": 1.0}
    return {"sent": schedule.total_events, "cpu_seconds": 1.0,
            "steps": [{"rate": s.rate, "seconds": s.seconds, "events": s.events,
                       "sent": s.events, "send_lateness_ms": lateness} for s in schedule.steps]}


def test_a_held_run_pools_its_windows_and_leaves_the_warm_up_out(tmp_path: Path) -> None:
    # A warm-up of 100 events at 100/s (900 ms each), then two windows of 200 at
    # 200/s: 10 ms, but the last three of each window 50 ms and two never decided.
    schedule = Schedule((Step(100, 1), Step(200, 1), Step(200, 1)))
    latency = [900.0] * 100 + ([10.0] * 197 + [50.0] * 3) * 2
    out = write_run(tmp_path, schedule, latency, undecided={150, 350})

    result = Bench(Options(), run_id="unit").stepped_result(
        "lat-eos", schedule, 1_000.0, generator_summary(schedule), None, StepFigures(),  # type: ignore[arg-type]
        out, None, exactly_once=True, warmup=True, kind="latency")

    assert result["warmup"]["rate"] == 100
    assert result["warmup"]["decision_ms"]["p50"] == pytest.approx(900.0)
    assert [s["rate"] for s in result["steps"]] == [200, 200]
    assert [s["decision_ms"]["missing"] for s in result["steps"]] == [1, 1]
    assert result["steps"][0]["events_seen"] == 200  # the monitor's figures, per window
    pooled = result["pooled"]
    assert (pooled["windows"], pooled["seconds"], pooled["sent"]) == (2, 2.0, 400)
    ms = pooled["decision_ms"]
    assert ms["missing"] == 2  # the undecided count, as infinitely late
    assert ms["count"] == 398
    # 6 slow and 2 missing of 400: the 396th is slow. With the warm-up's 100 events
    # at 900 ms among them it would be 900.
    assert ms["p99"] == pytest.approx(50.0)
    assert ms["p50"] == pytest.approx(10.0)
    assert (ms["p999"], ms["max"]) == ("inf", "inf")  # as JSON writes an infinity
    breakdown = pooled["breakdown_ms"]
    assert breakdown is not None
    assert breakdown["scoring"]["p50"] == pytest.approx(2.5)  # (10 × 3/4) − (10 / 2)


def test_a_ladder_run_has_no_pooled_figures(tmp_path: Path) -> None:
    schedule = Schedule((Step(100, 1), Step(200, 1)))
    out = write_run(tmp_path, schedule, [10.0] * 300, undecided=set())

    result = Bench(Options(), run_id="unit").stepped_result(
        "pipe-eos", schedule, 1_000.0, generator_summary(schedule), None, StepFigures(),  # type: ignore[arg-type]
        out, None, exactly_once=True, warmup=False, kind="pipeline")

    assert result["pooled"] is None
    assert result["warmup"] is None
    assert [s["rate"] for s in result["steps"]] == [100, 200]
    assert result["steps"][0]["breakdown_ms"] is not None


def test_the_latency_phase_holds_one_rate_per_mode_after_a_slower_warm_up() -> None:
    bench = Bench(Options(latency_rate=2000, latency_windows=4, latency_seconds=20),
                  run_id="unit")
    calls: list[tuple[str, Schedule, dict[str, Any]]] = []

    async def recorded(phase: str, schedule: Schedule, **kwargs: Any) -> dict[str, Any]:
        calls.append((phase, schedule, kwargs))
        return {"phase": phase}

    bench.stepped = recorded  # type: ignore[method-assign]
    asyncio.run(bench.latency_phase())

    assert [phase for phase, _, _ in calls] == ["lat-eos", "lat-alo"]
    assert bench.results["latency"] == [{"phase": "lat-eos"}, {"phase": "lat-alo"}]
    share, seconds = LATENCY_WARMUP
    for (_, schedule, kwargs), eos in zip(calls, (True, False), strict=True):
        assert schedule.steps == (Step(2000, 20),) * 4
        assert kwargs == {"exactly_once": eos, "null": False, "kind": "latency",
                          "warmup_step": Step(2000 * share, seconds)}
