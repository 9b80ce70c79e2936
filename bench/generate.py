"""The open-loop load generator: ``python -m bench.generate SPEC.json``.

Sends event ``i`` at the schedule's intended time ``t0 + offset(i)``, stamped
into the message as ``event_time``. When it falls behind (the machine is
busy, the producer waits for the broker), it does not slow the schedule down:
the late events are sent as soon as possible with their original intended
times, so the delay counts in their latency. Messages are appended to
per-partition batches (the partition Kafka's default partitioner would pick
for the ``entity_id`` key) and handed to the shared idempotent producer once
per tick. SIGUSR1 makes it stop at the end of the current step (the
orchestrator's "this step saturated the system, do not offer more"); SIGTERM
stops it after the current tick. It writes a summary:
events sent per step and how late the generator itself was.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import bench_settings, read_json, write_json
from bench.payloads import Template, read_pool, render, templates
from bench.schedule import Schedule, Step
from bench.stats import json_number, summarize
from fraudstream_shared.kafka import create_producer

TICK_S = 0.002
"""Shortest sleep between sends: events due within it go out together."""

MAX_CHUNK = 5000
"""Most events rendered in one go, so a long stall is caught up in bounded pieces."""


class Generator:
    """Sends the schedule's events to ``topic`` with the given producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, pool: list[Template],
                 schedule: Schedule, t0: float, prefix: str) -> None:
        self.producer = producer
        self.topic = topic
        self.pool = pool
        self.schedule = schedule
        self.t0 = t0
        self.prefix = prefix
        self.sent = 0
        self.stopping = False
        self.limit = schedule.total_events
        # How late each chunk's first event left, per step (seconds).
        self.lateness: list[list[float]] = [[] for _ in schedule.steps]
        self._pending: list[asyncio.Future[Any]] = []

    async def run(self) -> None:
        """Send every event of the schedule (or until stopped), then wait for the acks."""
        schedule = self.schedule
        while self.sent < self.limit and not self.stopping:
            now = time.time()
            due = schedule.due(now - self.t0)
            if due <= self.sent:
                wait = self.t0 + schedule.offset(self.sent) - now
                await asyncio.sleep(max(TICK_S, wait))
                continue
            upto = min(due, self.sent + MAX_CHUNK, self.limit)
            self.lateness[schedule.step_of(self.sent)].append(
                now - (self.t0 + schedule.offset(self.sent)))
            await self._send_range(self.sent, upto)
            self.sent = upto
            self._reap()
            await asyncio.sleep(0)  # let the producer's sender run
        await asyncio.gather(*self._pending)

    def stop_after_step(self) -> None:
        """Send the rest of the current step, then stop."""
        k = self.schedule.step_of(min(self.sent, self.schedule.total_events - 1))
        self.limit = min(self.limit, self.schedule.first_events[k] + self.schedule.steps[k].events)

    async def _send_range(self, first: int, end: int) -> None:
        schedule, pool, n = self.schedule, self.pool, len(self.pool)
        builders: dict[int, Any] = {}
        k = schedule.step_of(first)
        step_first, step_start = schedule.first_events[k], self.t0 + schedule.step_starts[k]
        step_end = step_first + schedule.steps[k].events
        spacing = 1.0 / schedule.steps[k].rate
        for i in range(first, end):
            if i >= step_end:  # the chunk crosses into the next step
                k += 1
                step_first = schedule.first_events[k]
                step_start = self.t0 + schedule.step_starts[k]
                step_end = step_first + schedule.steps[k].events
                spacing = 1.0 / schedule.steps[k].rate
            template = pool[i % n]
            value = render(template, f"{self.prefix}-{i}",
                           step_start + (i - step_first) * spacing)
            builder = builders.get(template.partition)
            if builder is None:
                builder = builders[template.partition] = self.producer.create_batch()
            if builder.append(key=template.key, value=value, timestamp=None) is None:
                # Full: ship it and start the partition's next batch.
                await self._ship(builder, template.partition)
                builder = builders[template.partition] = self.producer.create_batch()
                builder.append(key=template.key, value=value, timestamp=None)
        for partition, builder in builders.items():
            await self._ship(builder, partition)

    async def _ship(self, builder: Any, partition: int) -> None:
        self._pending.append(await self.producer.send_batch(builder, self.topic,
                                                            partition=partition))

    def _reap(self) -> None:
        still = []
        for future in self._pending:
            if future.done():
                future.result()  # a failed send is a failed benchmark: raise it
            else:
                still.append(future)
        self._pending = still

    def summary(self) -> dict[str, Any]:
        """Events sent per step and the generator's own lateness (ms)."""
        steps = []
        for k, step in enumerate(self.schedule.steps):
            first = self.schedule.first_events[k]
            sent = max(0, min(self.sent - first, step.events))
            late = summarize(x * 1000 for x in self.lateness[k])
            steps.append({"rate": step.rate, "seconds": step.seconds, "events": step.events,
                          "sent": sent, "send_lateness_ms": {
                              "p50": json_number(late.p50), "p99": json_number(late.p99),
                              "max": json_number(late.max)}})
        return {"sent": self.sent, "steps": steps}


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the generator described by ``spec`` and return its summary."""
    schedule = Schedule(tuple(Step(float(s["rate"]), float(s["seconds"]))
                              for s in spec["steps"]))
    pool = templates(read_pool(Path(spec["pool"])), int(spec["partitions"]))
    producer = create_producer(bench_settings(spec.get("bootstrap")),
                               linger_ms=int(spec.get("linger_ms", 5)))
    await producer.start()
    await producer.partitions_for(spec["topic"])  # metadata now, not on the first send
    # The schedule starts once everything is loaded and connected, so start-up
    # is never mistaken for the system under test being slow.
    t0 = float(spec["t0"]) if spec.get("t0") else time.time() + float(spec.get("lead_s", 0.5))
    if spec.get("started"):
        write_json(Path(spec["started"]), {"t0": t0})
    generator = Generator(producer, spec["topic"], pool, schedule, t0, spec["prefix"])
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(generator, "stopping", True))
    loop.add_signal_handler(signal.SIGUSR1, generator.stop_after_step)
    cpu0 = time.process_time()
    try:
        await generator.run()
    finally:
        await producer.stop()
    return {**generator.summary(), "t0": t0, "cpu_seconds": time.process_time() - cpu0,
            "send_seconds": time.time() - t0}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.generate SPEC.json``: writes ``spec['out']``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    summary = asyncio.run(main_async(spec))
    write_json(Path(spec["out"]), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
