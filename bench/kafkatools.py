"""Kafka's own performance tools (``org.apache.kafka:kafka-tools``), run with java.

The jar and its dependencies are resolved by Maven from ``bench/pom.xml`` (the
broker's version), the way ``infra/local/stack.py`` resolves the broker: only
the runtime classpath is asked for, cached in ``.local/bench/kafka-tools.classpath``.
``ProducerPerformance`` gives the broker's produce ceiling on this machine and
``EndToEndLatency`` the round trip of one message at a time (produce, commit,
fetch). The parsers of their output are pure.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import REPO, WORK

POM = REPO / "bench" / "pom.xml"
CLASSPATH_FILE = WORK / "kafka-tools.classpath"
PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"
END_TO_END_LATENCY = "org.apache.kafka.tools.EndToEndLatency"
JVM = ["java", "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true"]

_SUMMARY = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec \((?P<mb>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency, (?P<p50>\d+) ms 50th, "
    r"(?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, (?P<p999>\d+) ms 99.9th")
_E2E_AVG = re.compile(r"Avg latency: (?P<avg>[\d.]+) ms")
_E2E_PCT = re.compile(
    r"Percentiles: 50th = (?P<p50>\d+), 99th = (?P<p99>\d+), 99\.9th = (?P<p999>\d+)")


class ToolError(RuntimeError):
    """Maven or a tool failed (the message has the end of its output)."""


@dataclass(frozen=True)
class ProducerPerformanceResult:
    """The final line of ``ProducerPerformance``."""

    records: int
    records_per_s: float
    mb_per_s: float
    avg_ms: float
    max_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float


def parse_producer_performance(output: str) -> ProducerPerformanceResult:
    """The summary (last matching line) of ``ProducerPerformance``'s output."""
    matches = list(_SUMMARY.finditer(output))
    if not matches:
        raise ToolError("no summary line in ProducerPerformance's output:\n" + output[-2000:])
    m = matches[-1]
    return ProducerPerformanceResult(
        int(m["records"]), float(m["rate"]), float(m["mb"]), float(m["avg"]), float(m["max"]),
        float(m["p50"]), float(m["p95"]), float(m["p99"]), float(m["p999"]))


def parse_end_to_end_latency(output: str) -> dict[str, float]:
    """Average and percentiles (ms) from ``EndToEndLatency``'s output."""
    avg, pct = _E2E_AVG.search(output), _E2E_PCT.search(output)
    if avg is None or pct is None:
        raise ToolError("no latency summary in EndToEndLatency's output:\n" + output[-2000:])
    return {"avg_ms": float(avg["avg"]), "p50_ms": float(pct["p50"]),
            "p99_ms": float(pct["p99"]), "p999_ms": float(pct["p999"])}


def classpath() -> str:
    """The tools' runtime classpath (resolved by Maven once, then cached)."""
    if not CLASSPATH_FILE.exists() or CLASSPATH_FILE.stat().st_mtime < POM.stat().st_mtime:
        CLASSPATH_FILE.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:build-classpath",
               "-Dmdep.includeScope=runtime", f"-Dmdep.outputFile={CLASSPATH_FILE}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
        CLASSPATH_FILE.touch()
    return CLASSPATH_FILE.read_text().strip()


def _run(main_class: str, args: list[str], timeout: float) -> str:
    cmd = [*JVM, "-cp", classpath(), main_class, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise ToolError(f"{main_class} exited {proc.returncode}:\n{output[-2000:]}")
    return output


def producer_performance(bootstrap: str, topic: str, records: int, payload_file: Path, *,
                         transaction_ms: int | None = None,
                         timeout: float = 300) -> dict[str, Any]:
    """Produce ``records`` payloads as fast as possible with the broker's own producer.

    Same producer options as our services (``acks=all``, idempotent,
    ``linger.ms=5``, no compression); with ``transaction_ms`` it commits a
    transaction that often (the scorer commits every poll, 100 ms by default).
    """
    args = ["--topic", topic, "--num-records", str(records), "--throughput", "-1",
            "--payload-file", str(payload_file), "--producer-props",
            f"bootstrap.servers={bootstrap}", "acks=all", "enable.idempotence=true",
            "linger.ms=5", "compression.type=none"]
    if transaction_ms is not None:
        args += ["--transaction-duration-ms", str(transaction_ms)]
    result = parse_producer_performance(_run(PRODUCER_PERFORMANCE, args, timeout))
    return {**result.__dict__, "transaction_ms": transaction_ms}


def end_to_end_latency(bootstrap: str, topic: str, messages: int, size: int,
                       timeout: float = 300) -> dict[str, Any]:
    """Round trips of one ``size``-byte message at a time (``acks=all``)."""
    output = _run(END_TO_END_LATENCY, [bootstrap, topic, str(messages), "all", str(size)],
                  timeout)
    return {"messages": messages, "size_bytes": size, **parse_end_to_end_latency(output)}
