"""Reading the results out of Kafka's tools' output."""

from __future__ import annotations

import pytest

from bench.kafkatools import ToolError, parse_end_to_end_latency, parse_producer_performance

PRODUCER_OUTPUT = """\
SLF4J: Defaulting to no-operation (NOP) logger implementation
41234 records sent, 8246.8 records/sec (6.29 MB/sec), 310.2 ms avg latency, 902.0 ms max latency.
300000 records sent, 18719.6 records/sec (14.28 MB/sec), 599.98 ms avg latency, 1010.00 ms max \
latency, 681 ms 50th, 820 ms 95th, 834 ms 99th, 847 ms 99.9th.
"""

E2E_OUTPUT = """\
0\t180.509602
Avg latency: 3.5242 ms
Percentiles: 50th = 1, 99th = 29, 99.9th = 180
"""


def test_the_final_producer_performance_summary() -> None:
    result = parse_producer_performance(PRODUCER_OUTPUT)

    assert result.records == 300_000
    assert result.records_per_s == 18719.6
    assert result.mb_per_s == 14.28
    assert (result.p50_ms, result.p95_ms, result.p99_ms, result.p999_ms) == (681, 820, 834, 847)


def test_end_to_end_latency_summary() -> None:
    assert parse_end_to_end_latency(E2E_OUTPUT) == {
        "avg_ms": 3.5242, "p50_ms": 1.0, "p99_ms": 29.0, "p999_ms": 180.0}


@pytest.mark.parametrize("parse", [parse_producer_performance, parse_end_to_end_latency])
def test_output_without_a_summary_is_an_error(parse: object) -> None:
    with pytest.raises(ToolError, match="no"):
        parse("Exception in thread main")  # type: ignore[operator]
