"""The Markdown report: tables, infinities, targets, profiles."""

from __future__ import annotations

import math

from bench.report import fmt_ms, fmt_num, render_markdown
from bench.targets import evaluate
from tests.unit.test_bench.factories import (
    capacity,
    held,
    not_run,
    paired_capacity,
    results,
    step,
    stepped,
)


def test_numbers_and_infinities() -> None:
    assert fmt_num(12345.6) == "12,346"
    assert fmt_num("inf") == "∞"
    assert fmt_num(None) == "–"
    assert fmt_num(math.nan) == "–"
    assert fmt_ms(3.25) == "3.2"
    assert fmt_ms(1234.4) == "1,234"
    assert fmt_ms("inf") == "∞"


def test_the_report_names_the_machine_the_targets_and_each_step() -> None:
    ladder = [step(1000, p99=80.0), step(2500, achieved=1900, saturated=True, p99="inf",
                                         missing=40), not_run(5000)]
    data = results(pipeline=[stepped(True, ladder, saturated_at=2500)],
                   capacity=capacity())
    data["targets"] = evaluate(data)

    text = render_markdown(data, "run.png")

    assert "2 cores (AMD EPYC)" in text
    assert "1.5, 1.2, 1 before" in text
    assert "![throughput and latency against offered load](run.png)" in text
    assert "## Targets" in text
    assert "❌ missed" in text
    assert "| 2,500 ⚠ | 75,000 | 1,900 |" in text
    assert "| ∞ | ∞ | 40 |" in text  # p99, p99.9 and the events never decided
    assert "| 5,000 | not run (saturated below)" in text
    assert "saturated at 2,500 tx/s" in text


def test_the_run_line_names_a_partition_count_other_than_the_default() -> None:
    default = render_markdown(results(options={"partitions": 6}))
    one = render_markdown(results(options={"partitions": 1}))
    older = render_markdown(results())  # written before the option existed

    assert "partition" not in default
    assert "partition" not in older
    assert "every topic with **1 partition**, not the default 6 (`--partitions`)." in one
    assert "**3 partitions**" in render_markdown(results(options={"partitions": 3}))


def test_profiles_are_shown_only_when_a_target_was_missed() -> None:
    data = results(capacity=capacity(scorer_per_cpu=900))
    data["targets"] = evaluate(data)

    text = render_markdown(data)

    assert "## Where the time goes (py-spy)" in text
    assert "`predict (lightgbm)` | 61.5" in text
    assert "run (uvicorn)" not in text  # the event loop's frames are everywhere: left out

    fast = results(capacity=capacity(scorer_per_cpu=20000, indexer_rate=9000, raw_rate=9000))
    fast["targets"] = [v for v in evaluate(fast) if v["met"] is not None]
    assert "Where the time goes" not in render_markdown(fast)


def test_sections_of_phases_that_did_not_run_are_left_out() -> None:
    text = render_markdown(results())

    assert "Null scorer" not in text
    assert "Kafka's tools" not in text
    assert text.endswith("\n")


def test_the_warm_up_is_reported_apart_from_the_ladder() -> None:
    run = stepped(True, [step(1000)])
    run["warmup"] = step(1000, seconds=5, p99=400.0)

    text = render_markdown(results(pipeline=[run]))

    assert "Warm-up before the ladder (not in the table): 5,000 events at 1,000 tx/s" in text
    assert "p99 400 ms" in text


def test_opensearchs_own_cost_is_turned_into_cores_at_the_target_rate() -> None:
    cap = capacity()
    cap["indexer"]["opensearch_cpu_per_1k_docs"] = 0.31
    cap["raw_bulk"]["opensearch_cpu_per_1k_docs"] = 0.25
    text = render_markdown(results(capacity=cap))
    assert ("OpenSearch's own CPU, seconds per 1,000 documents: 0.31 while the indexer "
            "drained; 0.25 while the raw loader loaded. At 5,000 documents/s indexing alone "
            "keeps 1.25 cores busy") in text
    assert "OpenSearch's own CPU" not in render_markdown(results(capacity=capacity()))


def test_the_cpu_budget_sums_every_process_and_converts_it_to_a_rate() -> None:
    first = step(1000)
    first["cpu_s_per_1k"] = {"scorer": 0.3, "indexer": 0.1, "kafka": 0.2, "opensearch": 0.3,
                             "generator": 0.05, "measurer": 0.05}
    data = results(pipeline=[stepped(True, [first, not_run(2500)]),
                             stepped(False, [step(1000)])])
    data["machine_before"] = {"cores": 2}
    text = render_markdown(data)
    assert "## CPU budget" in text
    # 0.4 ours + 0.5 servers + 0.1 tools = 1.0 CPU s per 1,000 → 5 cores at 5,000 tx/s,
    # and 2 cores carry 2,000 tx/s.
    assert "| 1,000 | 0.40 | 0.50 | 0.10 | 1.00 | 5.00 | 2,000 |" in text


def test_the_floor_run_gets_its_own_table_and_budget() -> None:
    floor_step = step(2500)
    floor_step["cpu_s_per_1k"] = {"nullscorer": 0.05, "indexer": 0.1, "notifier": 0.05,
                                  "archiver": 0.05, "kafka": 0.1, "opensearch": 0.15,
                                  "generator": 0.03, "measurer": 0.02}
    floor = stepped(True, [floor_step, not_run(5000)], saturated_at=2500)
    floor["kind"] = "floor"
    data = results(floor=[floor])
    data["machine_before"] = {"cores": 2}
    text = render_markdown(data)
    assert "## Floor: the pipeline with a pass-through scorer (no scoring)" in text
    assert "| nullscorer CPU s/1k | indexer CPU s/1k | notifier CPU s/1k |" in text
    # 0.25 ours + 0.25 servers + 0.05 tools = 0.55 → 2.75 cores at 5,000; 2 cores carry 3,636.
    assert "| 2,500 | 0.25 | 0.25 | 0.05 | 0.55 | 2.75 | 3,636 |" in text
    assert "The same for the floor run" in text


def test_the_null_scorer_drain_is_a_row_of_the_capacity_table() -> None:
    cap = capacity()
    cap["nullscorer"] = {"decided": 30000, "seconds": 2.0, "events_per_s": 15000.0,
                         "cpu_seconds": 1.2, "events_per_cpu_second": 25000.0,
                         "peak_rss_mib": 66.0}
    text = render_markdown(results(capacity=cap))
    assert ("| null scorer (exactly-once), the same backlog passed through unscored | 30,000 "
            "| 2.0 | 15,000 | 1.2 | 25,000 | 66 |") in text


def test_each_notifier_drain_is_a_row_with_its_alert_rate_below() -> None:
    cap = capacity()
    cap["notifier"] = [
        {"concurrency": 1, "block_every": 10, "decisions": 60000, "alerts": 900, "seconds": 6.0,
         "decisions_per_s": 10000.0, "alerts_per_s": 150.0, "cpu_seconds": 3.0,
         "mailcatcher_cpu_seconds": 1.8, "peak_rss_mib": 120.0},
        {"concurrency": 4, "block_every": 10, "decisions": 60000, "alerts": 900, "seconds": 4.0,
         "decisions_per_s": 15000.0, "alerts_per_s": 225.0, "cpu_seconds": 2.5,
         "mailcatcher_cpu_seconds": 1.7, "peak_rss_mib": 125.0}]
    text = render_markdown(results(capacity=cap))
    assert "| notifier, 1 alert in flight | 60,000 | 6.0 | 10,000 | 3.0 | 20,000 | 120 |" in text
    assert "| notifier, 4 alerts in flight | 60,000 | 4.0 | 15,000 | 2.5 | 24,000 | 125 |" in text
    assert "60,000 of these decisions again, one in 10 made a block" in text
    assert ("1 alert in flight: 900 alerts at 150/s (the mail catcher used 1.8 CPU s); "
            "4 alerts in flight: 900 alerts at 225/s") in text


def test_no_notifier_line_without_notifier_drains() -> None:
    text = render_markdown(results(capacity=capacity()))
    assert "alert in flight" not in text
    assert "alerts in flight" not in text


def test_the_scorer_changelog_bytes_per_decision_are_reported_when_measured() -> None:
    cap = capacity()
    assert "feature-state changelog" not in render_markdown(results(capacity=cap))
    cap["scorer"]["changelog_bytes_per_event"] = 412.5
    text = render_markdown(results(capacity=cap))
    assert "The scorer's feature-state changelog: 412 bytes of record values per decision" in text


def test_the_speed_probe_is_reported_before_and_after_when_taken() -> None:
    data = results(capacity=capacity())
    assert "Machine speed" not in render_markdown(data, "run.png")  # older results: no probe

    data["machine_before"]["speed_probe_ms"] = 41.5
    data["machine_after"] = {**data["machine_before"], "speed_probe_ms": 52.25}
    text = render_markdown(data, "run.png")

    assert "CPU ms, lower is faster): 41.5 before, 52.2 after." in text


def test_the_kernels_cpu_sharing_is_reported_when_recorded() -> None:
    data = results(capacity=capacity())
    assert "CPU sharing" not in render_markdown(data, "run.png")  # older results: not recorded

    data["machine_before"]["sched_autogroup"] = True
    on = render_markdown(data, "run.png")
    data["machine_before"]["sched_autogroup"] = False
    off = render_markdown(data, "run.png")

    assert "autogroup scheduling was on. A busy machine's CPU is shared evenly between " \
        "sessions first" in on
    assert "Niceness (`CPU_NICE`) orders threads only within their session." in on
    assert "autogroup scheduling was off" in off


def test_a_previous_report_on_another_cpu_is_called_out() -> None:
    data = results(capacity=capacity())
    assert "previous report" not in render_markdown(data, "run.png")  # none recorded

    intel = {"cores": 2, "cpu_model": "Intel(R) Xeon(R) Processor", "speed_probe_ms": 15.34}
    data["previous_run"] = {"file": "2026-11-27-2235", "machine": intel}
    other = render_markdown(data, "run.png")
    data["previous_run"] = {"file": "2026-11-27-1740",
                            "machine": {**data["machine_before"], "speed_probe_ms": 10.1}}
    same = render_markdown(data, "run.png")

    assert ("**The previous report** in this folder: `2026-11-27-2235` ran on Intel(R) "
            "Xeon(R) Processor, 2 cores, speed probe 15.3. **Another CPU than this run's") in other
    assert ("`2026-11-27-1740` ran on AMD EPYC, 2 cores, speed probe 10.1, the same CPU as "
            "this run.") in same
    assert "Another CPU" not in same


def test_how_long_the_servers_had_been_up_is_reported_when_recorded() -> None:
    data = results(capacity=capacity())
    assert "Servers at the start" not in render_markdown(data, "run.png")  # older results

    data["servers_before"] = {"kafka": {"up_s": 1620.0, "cpu_s": 579.0}, "opensearch": None}
    text = render_markdown(data, "run.png")

    assert "**Servers at the start**: kafka up 27 min (9.7 CPU-min used)." in text
    assert "opensearch up" not in text  # its process was not found


def test_what_the_brokers_internal_topics_held_is_reported_when_recorded() -> None:
    data = results(capacity=capacity())
    assert "internal topics" not in render_markdown(data, "run.png")  # older results
    data["kafka_internal_log_bytes"] = None  # a broker that is not the local stack's
    assert "internal topics" not in render_markdown(data, "run.png")

    data["kafka_internal_log_bytes"] = {"__consumer_offsets": 10_066_330,
                                        "__transaction_state": 70_254_592}
    text = render_markdown(data, "run.png")

    assert ("**Kafka's internal topics at the start**: `__consumer_offsets` 9.6 MiB, "
            "`__transaction_state` 67.0 MiB of record logs.") in text


def test_repeated_scorer_drains_show_the_median_in_the_table_and_each_drain_below() -> None:
    cap = capacity(scorer_per_cpu=13_500)
    cap["scorer"]["drains"] = [
        {"events_per_cpu_second": 16_000, "events_per_s": 14_000, "cpu_seconds": 3.75,
         "seconds": 4.3},
        {"events_per_cpu_second": 12_000, "events_per_s": 11_000, "cpu_seconds": 5.0,
         "seconds": 5.5},
        {"events_per_cpu_second": 13_500, "events_per_s": 750, "cpu_seconds": 4.44,
         "seconds": 40.0}]

    text = render_markdown(results(capacity=cap))

    assert "| scorer (exactly-once), the median of 3 drains | 30,000 |" in text
    assert ("The scorer's 3 drains, in the order they ran: 16,000 events/CPU-s (14,000/s); "
            "12,000 events/CPU-s (11,000/s); 13,500 events/CPU-s (750/s).") in text
    single = render_markdown(results(capacity=capacity()))
    assert "| scorer (exactly-once) | 30,000 |" in single
    assert "drains, in the order they ran" not in single


def test_where_the_latency_goes_is_a_table_per_mode_of_the_steps_that_carry_it() -> None:
    timed = step(2500, p99=240.0)
    timed["breakdown_ms"] = {
        "count": 75_000, "tail_count": 750,
        "waiting": {"p50": 30.0, "p99": 180.0, "slowest": 170.0},
        "scoring": {"p50": 4.5, "p99": 12.0, "slowest": 8.0},
        "publishing": {"p50": 25.0, "p99": 70.0, "slowest": 62.0}}
    data = results(pipeline=[stepped(True, [step(1000), timed, not_run(5000)]),
                             stepped(False, [step(1000)])])

    text = render_markdown(data)

    assert "## Where the latency goes" in text
    assert "| 2,500 | 240 | 30 / 180 | 4.5 / 12 | 25 / 70 | 170 / 8.0 / 62 |" in text
    section = text.split("## Where the latency goes")[1].split("\n## ")[0]
    assert "### exactly-once on" in section
    assert "| 1,000 |" not in section  # no timings: no row
    assert "### exactly-once off" not in section  # no timed step: no table
    assert "Where the latency goes" not in render_markdown(
        results(pipeline=[stepped(True, [step(1000)])]))


def test_the_held_latency_runs_are_one_row_per_mode_with_each_windows_p99() -> None:
    eos = held(True, [120.0, 210.0, 140.0], 190.0)
    eos["steps"][1]["lag"]["indexer"] = {"max_messages": 1500, "max_seconds": 0.6}
    # The archiver buffers by design: its lag is never the worst one reported.
    eos["steps"][2]["lag"]["archiver"] = {"max_messages": 100_000, "max_seconds": 40.0}
    data = results(latency=[eos, held(False, [35.0, 38.0, "-"], 37.0, saturated_at=2500)])

    text = render_markdown(data)

    section = text.split("## Latency at 2,500 tx/s, held")[1].split("\n## ")[0]
    assert ("| exactly-once on | 3 × 30 s | 225,000 | 40 | 80 | 190 | 190 | 0 | "
            "120, 210, 140 | 0.60 (indexer) | 1.50 | 95 / 21 / 31 |") in section
    assert "| exactly-once off | 2 × 30 s ⚠ | 150,000 |" in section
    assert "| 35, 38 |" in section
    assert "⚠ saturated" in section
    assert "Latency at" not in render_markdown(results(pipeline=[stepped(True, [step(2500)])]))


def test_paired_indexer_runs_show_medians_in_the_table_and_each_pair_below() -> None:
    cap = paired_capacity([7_500, 11_000, 9_000], [10_000, None, 9_000])

    text = render_markdown(results(capacity=cap))

    assert "| indexer (bulk 500), the median of 3 drains | 30,000 |" in text
    assert "| raw bulk loader, 2 in flight, the median of 3 loads | 30,000 |" in text
    assert ("3 pairs run back to back (the order alternating), in the order they ran: "
            "7,500 against 10,000 docs/s (75.0%); 11,000 against – docs/s (–); "
            "9,000 against 9,000 docs/s (100.0%). The target's verdict takes the median "
            "share, 75.0%") in text
    assert "Raw bulk loader failed: `bulk load failed: connection refused`" in text
    single = render_markdown(results(capacity=capacity()))
    assert "| indexer (bulk 500) | 30,000 |" in single
    assert "pairs run back to back" not in single
