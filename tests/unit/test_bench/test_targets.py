"""The issue's targets checked against results: verdicts and by how much."""

from __future__ import annotations

from typing import Any

from bench.targets import at_least, at_most, evaluate
from tests.unit.test_bench.factories import (
    capacity,
    held,
    not_run,
    paired_capacity,
    results,
    step,
    stepped,
)


def by_id(verdicts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in verdicts}


def test_wording_of_a_shortfall_and_of_an_excess() -> None:
    assert at_least(750, 15000) == (False, "missed: 5.0% of the target (20.0× short)")
    assert at_least(6000, 5000) == (True, "met (1.20× the target)")
    assert at_most(300, 150) == (False, "missed: 2.0× the limit (+150)")
    assert at_most(float("inf"), 150)[0] is False
    assert at_most(None, 150) == (None, "not measured")


def test_a_healthy_fast_run_meets_every_target() -> None:
    ladder = [step(2500, p99=90.0), step(5000, p99=120.0)]
    alo = [step(2500, p99=25.0)]
    data = results(pipeline=[stepped(True, ladder), stepped(False, alo)],
                   sustained=stepped(True, [step(5000, seconds=600)]),
                   capacity=capacity(scorer_per_cpu=20000, indexer_rate=6000, raw_rate=7000))

    verdicts = by_id(evaluate(data))

    assert {v["met"] for v in verdicts.values()} == {True}
    assert verdicts["indexer_vs_raw"]["measured"] == round(6000 / 7000 * 100, 1)
    assert verdicts["indexer_vs_raw"]["note"].startswith("raw bulk loader: 7,000 docs/s ")


def test_a_saturated_ladder_misses_the_latency_targets_it_never_reached() -> None:
    ladder = [step(500), step(1000, achieved=700, saturated=True, p99="inf"),
              not_run(2500), not_run(5000)]
    data = results(pipeline=[stepped(True, ladder, saturated_at=1000),
                             stepped(False, ladder, saturated_at=1000)])

    verdicts = by_id(evaluate(data))

    assert verdicts["p99_2500_eos"]["met"] is False
    assert "saturated below 2,500" in verdicts["p99_2500_eos"]["verdict"]
    sustained = verdicts["sustained_5000"]
    assert sustained["met"] is False
    assert sustained["measured"] == 500  # the highest step that kept up
    assert verdicts["indexer_docs"]["met"] is None  # capacity phase not run


def test_a_short_step_at_5000_is_not_the_ten_minute_run() -> None:
    data = results(pipeline=[stepped(True, [step(5000, seconds=30)])])

    sustained = by_id(evaluate(data))["sustained_5000"]

    assert sustained["met"] is None
    assert "BENCH_SUSTAIN_SECONDS=600" in sustained["verdict"]


def test_lag_over_a_second_fails_the_sustained_target() -> None:
    data = results(sustained=stepped(True, [step(5000, seconds=600, lag_s=2.5)]))

    assert by_id(evaluate(data))["sustained_5000"]["met"] is False


def test_scorer_efficiency_falls_back_to_the_ladder_without_a_capacity_phase() -> None:
    data = results(pipeline=[stepped(True, [step(1000)])])  # 1.5 CPU s per 1,000 events

    scorer = by_id(evaluate(data))["scorer_per_core"]

    assert scorer["measured"] == round(1000 / 1.5, 1)
    assert scorer["met"] is False


def test_a_ladder_that_stopped_short_of_2500_without_saturating_did_not_measure_it() -> None:
    data = results(pipeline=[stepped(True, [step(500), step(1000)])])

    verdict = by_id(evaluate(data))["p99_2500_eos"]

    assert verdict["met"] is None
    assert "not in the ladder" in verdict["verdict"]


def test_when_even_the_first_step_saturates_the_capacity_seen_is_reported() -> None:
    ladder = [step(250, achieved=160, saturated=True, p99="inf"), not_run(500)]
    data = results(pipeline=[stepped(True, ladder, saturated_at=250)])

    sustained = by_id(evaluate(data))["sustained_5000"]

    assert sustained["met"] is False
    assert sustained["measured"] == 160
    assert "first step saturated" in sustained["note"]


def test_the_archivers_buffering_lag_is_not_judged() -> None:
    buffered = step(5000, seconds=600)
    buffered["lag"]["archiver"] = {"max_messages": 300_000, "max_seconds": 60.0}
    data = results(pipeline=[stepped(True, [buffered])],
                   sustained=stepped(True, [buffered]),
                   capacity=capacity(scorer_per_cpu=20000, indexer_rate=6000, raw_rate=7000))

    assert by_id(evaluate(data))["sustained_5000"]["met"] is True

    buffered["lag"]["indexer"]["max_seconds"] = 1.5
    assert by_id(evaluate(data))["sustained_5000"]["met"] is False


def test_the_floor_run_is_named_in_the_sustained_verdict() -> None:
    floor = stepped(True, [step(1000), step(2500, saturated=True), not_run(5000)],
                    saturated_at=2500)
    data = results(pipeline=[stepped(True, [step(500), step(1000, saturated=True)],
                                     saturated_at=1000)], floor=[floor])
    sustained = by_id(evaluate(data))["sustained_5000"]
    assert sustained["met"] is False
    assert sustained["measured"] == 500
    assert sustained["note"].endswith(
        "with no scoring at all (the floor run) the rest of the system "
        "kept up at 1000 tx/s (1.50 busy cores), saturated at 2500")


def test_without_a_floor_run_the_sustained_note_is_unchanged() -> None:
    data = results(pipeline=[stepped(True, [step(500), step(1000, saturated=True)],
                                     saturated_at=1000)])
    assert "floor run" not in by_id(evaluate(data))["sustained_5000"]["note"]


def test_the_plumbing_alone_is_set_against_the_scorers_budget() -> None:
    cap = capacity(scorer_per_cpu=5000.0)
    cap["nullscorer"] = {"decided": 30000, "events_per_cpu_second": 25000.0}
    scorer = by_id(evaluate(results(capacity=cap)))["scorer_per_core"]
    assert scorer["met"] is False
    assert scorer["note"].endswith(
        "passed the backlog through at 25,000 events/CPU-s (40 µs an event of the 67 "
        "the target allows)")


def test_the_scorer_verdict_says_it_is_a_median_and_how_far_the_drains_spread() -> None:
    cap = capacity(scorer_per_cpu=14_000.0)
    cap["scorer"]["drains"] = [{"events_per_cpu_second": v} for v in (16_100.0, 11_900.0,
                                                                     14_000.0)]

    scorer = by_id(evaluate(results(capacity=cap)))["scorer_per_core"]

    assert scorer["measured"] == 14_000.0
    assert scorer["met"] is False
    assert "the median of 3 drains, which ranged 11,900–16,100" in scorer["note"]


def test_the_p99_targets_are_judged_on_the_held_windows_pooled_when_there_are_some() -> None:
    ladder = [step(1000), step(2500, p99=128.0)]
    data = results(pipeline=[stepped(True, ladder), stepped(False, ladder)],
                   latency=[held(True, [120.0, 210.0, 140.0], 190.0),
                            held(False, [35.0, 38.0, 30.0], 37.0)])

    verdicts = by_id(evaluate(data))

    eos = verdicts["p99_2500_eos"]
    assert (eos["measured"], eos["met"]) == (190.0, False)  # the ladder's 128 would have met it
    assert "3 windows of 30 s pooled (225,000 events)" in eos["note"]
    assert "each window's p99: 120, 210, 140 ms" in eos["note"]
    assert "the ladder's 2,500 tx/s step: 128 ms" in eos["note"]
    alo = verdicts["p99_2500_alo"]
    assert (alo["measured"], alo["met"]) == (37.0, True)


def test_a_held_run_that_saturated_misses_the_p99_target_whatever_its_pooled_figure() -> None:
    data = results(latency=[held(True, [90.0, 100.0, "-"], 95.0, saturated_at=2500)])

    eos = by_id(evaluate(data))["p99_2500_eos"]

    assert eos["met"] is False
    assert eos["verdict"] == "missed: the pipeline saturated in window 2 of 3"


def test_a_held_run_at_another_rate_leaves_the_verdict_to_the_ladder() -> None:
    data = results(pipeline=[stepped(True, [step(2500, p99=100.0)])],
                   latency=[held(True, [500.0], 500.0, rate=5000.0)])

    eos = by_id(evaluate(data))["p99_2500_eos"]

    assert (eos["measured"], eos["met"]) == (100.0, True)
    assert eos["note"] == "one step of the ladder"


def test_paired_indexer_runs_are_judged_on_the_median_of_each_pairs_share() -> None:
    # The medians alone (9,000 / 10,000 = 90 %) would meet the target; the pairs'
    # own shares are 75 %, 78.6 % and 100 %, so the verdict is a miss at 78.6 %.
    cap = paired_capacity([7_500, 11_000, 9_000], [10_000, 14_000, 9_000])

    verdicts = by_id(evaluate(results(capacity=cap)))

    share = verdicts["indexer_vs_raw"]
    assert share["met"] is False
    assert share["measured"] == round(11_000 / 14_000 * 100, 1)
    assert "each pair's share: 75.0%, 78.6%, 100.0%" in share["note"]
    assert "the raw bulk loader's median 10,000 docs/s" in share["note"]
    docs = verdicts["indexer_docs"]
    assert docs["measured"] == 9_000
    assert docs["note"].endswith("the median of 3 drains, which ranged 7,500–11,000")


def test_a_failed_raw_load_leaves_its_pair_out_of_the_share() -> None:
    cap = paired_capacity([9_000, 9_500, 9_200], [10_000, None, 10_000])

    share = by_id(evaluate(results(capacity=cap)))["indexer_vs_raw"]

    assert share["met"] is True
    assert share["measured"] == 90.0  # the lower middle of 90 % and 92 %
    assert "each pair's share: 90.0%, –, 92.0%" in share["note"]
