"""CPU time and memory of a process, read from ``/proc`` (Linux); what the broker holds.

``utime + stime`` from ``/proc/<pid>/stat`` is the CPU the process used (all
threads), ``VmHWM`` from ``/proc/<pid>/status`` its peak resident set. The
parsers are pure; :func:`sample` does the reading. :func:`internal_log_bytes`
reads the local broker's data folder, :func:`autogroup_enabled` a kernel setting.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class ProcSample:
    """CPU seconds used so far, current and peak resident memory (MiB)."""

    cpu_seconds: float
    rss_mib: float
    peak_rss_mib: float


def parse_cpu_seconds(stat_line: str, ticks: int = CLOCK_TICKS) -> float:
    """User + system CPU seconds from a ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may contain spaces, so
    fields are counted after its closing parenthesis: utime and stime are the
    12th and 13th fields after it.
    """
    rest = stat_line[stat_line.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / ticks


def parse_memory_mib(status_text: str) -> tuple[float, float]:
    """``(VmRSS, VmHWM)`` in MiB from a ``/proc/<pid>/status`` text (0 when absent)."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    for line in status_text.splitlines():
        key, _, value = line.partition(":")
        if key in values:
            values[key] = int(value.split()[0]) / 1024  # reported in kB
    return values["VmRSS"], values["VmHWM"]


def parse_start_seconds(stat_line: str, ticks: int = CLOCK_TICKS) -> float:
    """When the process started, in seconds after boot, from a ``/proc/<pid>/stat`` line.

    ``starttime`` is the 20th field after the command name's closing parenthesis.
    """
    rest = stat_line[stat_line.rindex(")") + 2:].split()
    return int(rest[19]) / ticks


def server_state(pid: int) -> dict[str, float] | None:
    """How long a server has been up and the CPU it has used: ``{"up_s", "cpu_s"}``.

    ``None`` if the process is gone. A JVM spends its first minutes of real load
    compiling its hot paths, so a run on freshly started servers pays for that.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            line = f.read()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return {"up_s": round(uptime - parse_start_seconds(line), 1),
                "cpu_s": round(parse_cpu_seconds(line), 1)}
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return None


INTERNAL_TOPICS = ("__consumer_offsets", "__transaction_state")
"""The broker's compacted internal topics that exactly-once writes to on every poll."""


def internal_log_bytes(data_dir: Path) -> dict[str, int] | None:
    """Bytes of record logs (``*.log``) each of :data:`INTERNAL_TOPICS` holds in ``data_dir``.

    Index files are left out: the active segment's are preallocated (sparse), so
    their size says nothing. ``None`` when ``data_dir`` does not exist (a broker
    that is not the local stack's). A topic not created yet holds 0.
    """
    if not data_dir.is_dir():
        return None
    held = dict.fromkeys(INTERNAL_TOPICS, 0)
    for partition in data_dir.iterdir():
        topic, _, number = partition.name.rpartition("-")
        if topic in held and number.isdigit():
            for log in partition.glob("*.log"):
                with contextlib.suppress(FileNotFoundError):  # a cleaning swapped it out
                    held[topic] += log.stat().st_size
    return held


AUTOGROUP_SETTING = Path("/proc/sys/kernel/sched_autogroup_enabled")
"""Linux's switch for sharing CPU between sessions before threads (``sched(7)``)."""


def autogroup_enabled(setting: Path = AUTOGROUP_SETTING) -> bool | None:
    """Whether the kernel shares CPU between sessions first; ``None`` where it cannot tell.

    With it on, every session (``setsid``) is a group that gets an even share
    of a busy machine, whatever it runs, and niceness orders threads only
    within their own session. The local Kafka and OpenSearch each run in a
    session of their own, so that changes what a run measures.
    """
    try:
        return setting.read_text().strip() != "0"
    except OSError:  # another kernel, or not Linux
        return None


def sample(pid: int) -> ProcSample | None:
    """The process's CPU and memory now, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            cpu = parse_cpu_seconds(f.read())
        with open(f"/proc/{pid}/status") as f:
            rss, peak = parse_memory_mib(f.read())
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return ProcSample(cpu, rss, peak)


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()


def machine_cpu_seconds() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


PROBE_PAYLOAD = {
    "event_id": "probe-0001", "event_time": "2026-11-26T10:00:00.123456Z",
    "entity_id": "063-04-6760", "transaction_amt": 14.08, "transaction_currency": "usd",
    "email_address": "someone@example.com", "ip_address": "212.24.190.161",
    "billing_latitude": 42.167, "billing_longitude": -93.7749, "merchant_id": "m-00685",
    "fd": {"outcome": "review", "model_scores": {"fraudstream": 770},
           "reasons": ["ip_mean_30d=unknown (+0.73)", "cust_sum_30d=0 (-0.28)"]},
}
"""A decision-sized document: the probe's JSON and string work is of the services' kind."""


def speed_probe(rounds: int = 1_000, repeats: int = 9) -> float:
    """CPU milliseconds of a fixed pure-Python workload: the machine's speed right now.

    The same work every time (JSON encode and decode of a decision-sized
    document, CRC-32 of its bytes, dict and string handling), so a run that
    reports a higher figure ran on a slower machine: another tenant, a lower
    clock. The best of ``repeats`` is kept, which leaves out a repeat that was
    descheduled. Only comparisons between runs mean anything, not the value.
    """
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        checksum = 0
        for i in range(rounds):
            document = dict(PROBE_PAYLOAD, event_id=f"probe-{i:04d}")
            text = json.dumps(document, separators=(",", ":"))
            checksum ^= zlib.crc32(text.encode())
            checksum ^= len(json.loads(text)["fd"]["reasons"][0].upper())
        best = min(best, time.process_time() - started)
    return round(best * 1000, 2)
