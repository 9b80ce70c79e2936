"""The measuring consumer: ``python -m bench.measure SPEC.json``.

A separate ``read_committed`` reader (no consumer group, every partition from
the beginning) of the output topic. For each record it takes the arrival time
(wall clock, right after the poll returned) and the stamped intended send
time, and keeps them by sequence number; duplicates are counted, not kept.
A decision's own timings (``proc_time`` and ``ttdf``, ms after the intended
time) are kept beside them, ``nan`` for records that carry none.
It stops when the control file says how many events to expect and all have
arrived, when the control file's deadline passes, or on SIGTERM; then it
writes the arrays (``.npz``) and a small JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import TopicPartition

from bench.common import bench_settings, read_json, topic_partitions, write_json
from bench.payloads import read_stamp, read_timings, seq_of
from fraudstream_shared.kafka import create_admin, create_reader

CONTROL_EVERY_S = 0.5


class Measurer:
    """Collects ``(seq, intended, arrival, scoring, decided)`` per first arrival of our events.

    ``scoring`` and ``decided`` are the decision's ``proc_time`` and ``ttdf``:
    ms after the intended time at which the scorer started on it and decided it.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.seen: set[int] = set()
        self.seqs: list[int] = []
        self.intended: list[float] = []
        self.arrival: list[float] = []
        self.scoring: list[float] = []
        self.decided: list[float] = []
        self.duplicates = 0
        self.foreign = 0
        self.outcomes: Counter[str] = Counter()

    def add(self, value: bytes | None, arrived: float) -> None:
        """Account one record that arrived at ``arrived`` (epoch seconds)."""
        stamp = read_stamp(value) if value else None
        seq = seq_of(stamp.event_id, self.prefix) if stamp else None
        if stamp is None or seq is None:
            self.foreign += 1
            return
        if seq in self.seen:
            self.duplicates += 1
            return
        self.seen.add(seq)
        self.seqs.append(seq)
        self.intended.append(stamp.intended_epoch)
        self.arrival.append(arrived)
        timings = read_timings(value) if value else None
        scoring, decided = timings if timings is not None else (math.nan, math.nan)
        self.scoring.append(scoring)
        self.decided.append(decided)
        if stamp.outcome:
            self.outcomes[stamp.outcome] += 1


def read_control(path: Path) -> dict[str, Any] | None:
    """The orchestrator's instructions (``expected``, ``deadline``), if written yet."""
    return read_json(path) if path.exists() else None


def should_stop(control: dict[str, Any] | None, received: int, now: float) -> bool:
    """Everything expected has arrived, or the deadline has passed."""
    if control is None:
        return False
    return (received >= int(control.get("expected", 1 << 62))
            or now >= float(control.get("deadline", float("inf"))))


def mark_ready(path: Path) -> None:
    """Tell the orchestrator the reader is positioned and fetching."""
    path.write_text("ready\n")


async def consume(spec: dict[str, Any], measurer: Measurer, stop: asyncio.Event) -> None:
    """Read until the control file is satisfied, its deadline passes, or ``stop`` is set."""
    settings = bench_settings(spec.get("bootstrap"))
    admin = create_admin(settings)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, spec["topic"])
    finally:
        await admin.close()
    reader = create_reader(settings, fetch_max_wait_ms=int(spec.get("fetch_max_wait_ms", 20)))
    await reader.start()
    control = Path(spec["control"])
    try:
        if not partitions:
            raise SystemExit(f"topic {spec['topic']} does not exist")
        reader.assign([TopicPartition(spec["topic"], p) for p in partitions])
        for tp in reader.assignment():
            await reader.position(tp)  # resolved now, so the first poll is a real fetch
        if spec.get("ready"):
            mark_ready(Path(spec["ready"]))
        next_check = 0.0
        while not stop.is_set():
            batches = await reader.getmany(timeout_ms=100, max_records=10_000)
            arrived = time.time()
            for batch in batches.values():
                for record in batch:
                    measurer.add(record.value, arrived)
            if arrived >= next_check:
                next_check = arrived + CONTROL_EVERY_S
                if should_stop(read_control(control), len(measurer.seen), arrived):
                    return
    finally:
        await reader.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.measure SPEC.json``: writes ``spec['out']`` (.npz) and its summary."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    measurer = Measurer(spec["prefix"])

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await consume(spec, measurer, stop)

    cpu0 = time.process_time()
    asyncio.run(run())
    out = Path(spec["out"])
    np.savez(out, seq=np.asarray(measurer.seqs, dtype=np.int64),
             intended=np.asarray(measurer.intended, dtype=np.float64),
             arrival=np.asarray(measurer.arrival, dtype=np.float64),
             scoring=np.asarray(measurer.scoring, dtype=np.float64),
             decided=np.asarray(measurer.decided, dtype=np.float64))
    write_json(out.with_suffix(".json"), {
        "received": len(measurer.seen), "duplicates": measurer.duplicates,
        "foreign": measurer.foreign, "outcomes": dict(measurer.outcomes),
        "cpu_seconds": time.process_time() - cpu0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
