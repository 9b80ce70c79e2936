"""Percentiles with events that never arrived counted as infinitely late."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.stats import (
    BREAKDOWN_SEGMENTS,
    from_json_number,
    json_number,
    latency_breakdown,
    median_drain,
    paired_shares,
    per_thousand,
    percentile,
    pooled_windows,
    rate,
    summarize,
)


def test_nearest_rank_percentiles_of_one_to_a_hundred() -> None:
    values = [float(v) for v in range(1, 101)]

    assert percentile(values, 0, 50) == 50
    assert percentile(values, 0, 99) == 99
    assert percentile(values, 0, 99.9) == 100
    assert percentile(values, 0, 100) == 100


def test_missing_events_push_the_high_percentiles_to_infinity() -> None:
    values = [float(v) for v in range(1, 99)]  # 98 arrived, 2 never did

    assert percentile(values, 2, 50) == 50
    assert percentile(values, 2, 98) == 98
    assert math.isinf(percentile(values, 2, 99))


def test_no_values_at_all_is_nan_and_all_missing_is_infinite() -> None:
    assert math.isnan(percentile([], 0, 50))
    assert math.isinf(percentile([], 3, 50))


@pytest.mark.parametrize("p", [0, -1, 100.5])
def test_percentile_out_of_range_is_refused(p: float) -> None:
    with pytest.raises(ValueError, match="percentile"):
        percentile([1.0], 0, p)


def test_summary_of_unsorted_latencies() -> None:
    summary = summarize([30.0, 10.0, 20.0, 40.0])

    assert (summary.count, summary.missing) == (4, 0)
    assert (summary.p50, summary.p99, summary.max) == (20.0, 40.0, 40.0)
    assert summary.mean == 25.0


def test_summary_with_missing_events_is_json_ready() -> None:
    summary = summarize([5.0], missing=1).as_dict()

    assert summary["p50"] == 5.0
    assert summary["p99"] == "inf"
    assert summary["max"] == "inf"
    assert summarize([]).as_dict()["p50"] is None


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=300),
       st.integers(min_value=0, max_value=50))
def test_percentiles_are_ordered(values: list[float], missing: int) -> None:
    s = summarize(values, missing)

    assert s.p50 <= s.p95 <= s.p99 <= s.p999 <= s.max


def test_json_numbers_round_trip() -> None:
    for value in (1.5, math.inf, -math.inf):
        assert from_json_number(json_number(value)) == value
    assert math.isnan(from_json_number(json_number(math.nan)))
    assert json_number(3) == 3


def test_rates_and_cost_per_thousand() -> None:
    assert rate(500, 2.0) == 250
    assert rate(5, 0) == 0
    assert per_thousand(3.0, 1500) == 2.0
    assert math.isnan(per_thousand(1.0, 0))


def drain(per_cpu: float | None, per_s: float = 10_000.0) -> dict[str, float | None]:
    """One drain's record, as ``Bench.drain_scorer`` returns it (the fields that matter)."""
    return {"decided": 60_000, "seconds": 6.0, "events_per_s": per_s,
            "cpu_seconds": 60_000 / per_cpu if per_cpu else None,
            "events_per_cpu_second": per_cpu, "peak_rss_mib": 400.0}


def test_the_median_drain_is_reported_whole_with_every_drain_in_running_order() -> None:
    drains = [drain(16_000, 14_000), drain(12_000, 11_000), drain(13_500, 12_500)]

    chosen = median_drain(drains)

    assert chosen["events_per_cpu_second"] == 13_500
    assert chosen["events_per_s"] == 12_500
    assert chosen["peak_rss_mib"] == 400.0
    assert [d["events_per_cpu_second"] for d in chosen["drains"]] == [16_000, 12_000, 13_500]
    assert set(chosen["drains"][0]) == {"events_per_cpu_second", "events_per_s",
                                        "cpu_seconds", "seconds"}


def test_an_even_count_takes_the_lower_middle_and_a_drain_without_cpu_sorts_first() -> None:
    assert median_drain([drain(9_000), drain(15_000)])["events_per_cpu_second"] == 9_000
    assert median_drain([drain(15_000), drain(None), drain(11_000)])[
        "events_per_cpu_second"] == 11_000
    assert median_drain([drain(12_345)])["drains"][0]["events_per_cpu_second"] == 12_345
    with pytest.raises(ValueError, match="no drains"):
        median_drain([])


@given(st.lists(st.floats(min_value=1, max_value=1e6), min_size=1, max_size=9))
def test_the_median_drain_has_as_many_drains_below_as_above_or_one_more_above(
        values: list[float]) -> None:
    chosen = median_drain([drain(v) for v in values])["events_per_cpu_second"]

    below = sum(v < chosen for v in values)
    above = sum(v > chosen for v in values)
    assert chosen in values
    assert below <= (len(values) - 1) // 2
    assert above <= len(values) // 2


def test_the_breakdown_splits_latency_into_waiting_scoring_and_publishing() -> None:
    # 100 events: 99 quick ones and one that waited 300 ms for the scorer.
    latency = [20.0] * 99 + [340.0]
    scoring = [5.0] * 99 + [300.0]
    decided = [9.0] * 99 + [310.0]

    b = latency_breakdown(latency, scoring, decided)

    assert b is not None
    assert b["count"] == 100
    assert b["tail_count"] == 1
    assert b["waiting"] == {"p50": 5.0, "p99": 5.0, "slowest": 300.0}
    assert b["scoring"] == {"p50": 4.0, "p99": 4.0, "slowest": 10.0}
    assert b["publishing"] == {"p50": 11.0, "p99": 11.0, "slowest": 30.0}


def test_the_parts_add_up_to_the_latency_and_events_without_timings_are_left_out() -> None:
    latency = np.array([50.0, 60.0, 70.0, math.inf, 80.0])
    scoring = np.array([10.0, 20.0, math.nan, 1.0, 30.0])
    decided = np.array([15.0, 28.0, math.nan, 2.0, 33.0])

    b = latency_breakdown(latency, scoring, decided)

    assert b is not None
    assert b["count"] == 3  # no timings, or never decided: not in the breakdown
    assert sum(b[name]["slowest"] for name in BREAKDOWN_SEGMENTS) == 80.0


def test_no_breakdown_without_timings() -> None:
    assert latency_breakdown([10.0, 20.0], [math.nan, math.nan], [math.nan, math.nan]) is None
    assert latency_breakdown([], [], []) is None


def test_held_windows_are_pooled_with_their_undecided_events_and_skipped_windows() -> None:
    windows = [{"run": True, "seconds": 30.0, "sent": 100, "decided": 100},
               {"run": True, "seconds": 30.0, "sent": 100, "decided": 99},
               {"run": False, "seconds": 30.0}]
    latency = np.array([float(v) for v in range(1, 200)])  # 199 decided of 200 sent

    pooled = pooled_windows(windows, latency)

    assert (pooled["windows"], pooled["seconds"], pooled["sent"]) == (2, 60.0, 200)
    assert pooled["decision_ms"]["missing"] == 1
    assert pooled["decision_ms"]["p50"] == 100.0
    assert pooled["decision_ms"]["p99"] == 198.0
    assert pooled["decision_ms"]["max"] == "inf"  # the undecided event
    assert pooled["breakdown_ms"] is None  # no timings given


def test_pooled_windows_carry_the_breakdown_of_all_their_events() -> None:
    windows = [{"run": True, "seconds": 30.0, "sent": 2, "decided": 2}]

    pooled = pooled_windows(windows, [20.0, 40.0], [5.0, 25.0], [8.0, 30.0])

    assert pooled["breakdown_ms"]["count"] == 2
    assert pooled["breakdown_ms"]["waiting"]["slowest"] == 25.0


def test_a_drain_keeps_the_figures_asked_for_with_its_key_first() -> None:
    drains = [{"docs_per_s": 9_000.0, "cpu_seconds": 2.0, "seconds": 6.7, "indexed": 60_000},
              {"docs_per_s": 11_000.0, "cpu_seconds": 2.5, "seconds": 5.5, "indexed": 60_000}]

    chosen = median_drain(drains, key="docs_per_s", figures=("cpu_seconds", "docs_per_s"))

    assert chosen["docs_per_s"] == 9_000.0
    assert chosen["indexed"] == 60_000
    assert [list(d) for d in chosen["drains"]] == [["docs_per_s", "cpu_seconds"]] * 2


def test_paired_shares_divide_within_each_pair_and_take_the_lower_middle() -> None:
    shares = paired_shares([8_000, 11_000, 9_000], [10_000, 14_000, 9_000])

    assert [p["share"] for p in shares["pairs"]] == [0.8, 11_000 / 14_000, 1.0]
    assert shares["median"] == 0.8
    assert shares["pairs"][1] == {"ours": 11_000, "ceiling": 14_000, "share": 11_000 / 14_000}
    assert paired_shares([5, 7], [10, 10])["median"] == 0.5


def test_a_pair_without_both_rates_has_no_share_and_does_not_count() -> None:
    shares = paired_shares([8_000, None, 9_000], [10_000, 12_000, 0])

    assert [p["share"] for p in shares["pairs"]] == [0.8, None, None]
    assert shares["median"] == 0.8
    assert paired_shares([None], [1_000])["median"] is None
    with pytest.raises(ValueError, match="2 runs of ours against 1 ceilings"):
        paired_shares([1, 2], [3])
