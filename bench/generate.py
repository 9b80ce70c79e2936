"""The open-loop load generator: ``python -m bench.generate SPEC.json``.

Sends event ``i`` at the schedule's intended time ``t0 + offset(i)``, stamped
into the message as ``event_time``. When it falls behind (the machine is
busy, the producer waits for the broker), it does not slow the schedule down:
the late events are sent as soon as possible with their original intended
times, so the delay counts in their latency. Messages are appended to
per-partition batches (the partition Kafka's default partitioner would pick
for the ``entity_id`` key) and handed to the shared idempotent producer, closed,
once the batch's first event is ``linger_ms`` old (5 ms, as our producers'
``linger_ms``), counted from its intended time: the generator stands in for a
producer whose ``send()`` is called at the intended time and which lingers as
ours do. (It used to hand open batches over every tick: the producer then
lingered on each for another 5 ms, and the next tick's hand-over waited for
that, so events reached the broker ~15 ms after their intended time where
such a producer takes ~4 ms; measured at 2,500 tx/s, median, intended time to
the broker's LogAppendTime: 15.8 → 3.9 ms.) SIGUSR1 makes it stop at the end
of the current step (the orchestrator's "this step saturated the system, do
not offer more"); SIGTERM stops it after the current tick, sending what it
holds. It writes a summary: events sent per step and how late the generator
itself was.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.common import bench_settings, read_json, write_json
from bench.payloads import Template, read_pool, render, templates
from bench.schedule import Schedule, Step
from bench.stats import json_number, summarize
from fraudstream_shared.kafka import create_producer

TICK_S = 0.002
"""Shortest sleep waiting for the next event: events due within it are appended together."""

MIN_SLEEP_S = 0.0002
"""Shortest sleep waiting for a batch's linger to end."""

MAX_CHUNK = 5000
"""Most events rendered in one go, so a long stall is caught up in bounded pieces."""


def ripe(deadlines: Mapping[int, float], now: float, together_s: float = TICK_S) -> list[int]:
    """The partitions whose open batch is to be sent now.

    Those whose linger has ended (deadline ≤ ``now``) and, when there are any,
    those whose linger ends within ``together_s`` as well: one produce request
    for them instead of one each a few hundred microseconds apart (a producer
    under load groups them the same way, behind its request in flight).
    """
    if not any(deadline <= now for deadline in deadlines.values()):
        return []
    return [partition for partition, deadline in deadlines.items()
            if deadline <= now + together_s]


def sleep_for(now: float, next_event_at: float | None, deadlines: Iterable[float]) -> float:
    """Seconds to sleep: until the next event is due (≥ ``TICK_S``) or a batch ripens.

    ``next_event_at`` is ``None`` when no event is left to send.
    """
    wake = [max(TICK_S, next_event_at - now)] if next_event_at is not None else []
    wake += [max(MIN_SLEEP_S, deadline - now) for deadline in deadlines]
    return min(wake, default=TICK_S)


@dataclass
class OpenBatch:
    """A partition's batch being filled, and when it is to be sent (epoch seconds)."""

    builder: Any
    deadline: float


class Generator:
    """Sends the schedule's events to ``topic`` with the given producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str, pool: list[Template],
                 schedule: Schedule, t0: float, prefix: str, linger_s: float = 0.005) -> None:
        self.producer = producer
        self.linger_s = linger_s
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
        self._open: dict[int, OpenBatch] = {}

    async def run(self) -> None:
        """Send every event of the schedule (or until stopped), then wait for the acks."""
        schedule = self.schedule
        while self.sent < self.limit and not self.stopping:
            now = time.time()
            due = min(schedule.due(now - self.t0), self.limit)
            if due > self.sent:
                upto = min(due, self.sent + MAX_CHUNK)
                self.lateness[schedule.step_of(self.sent)].append(
                    now - (self.t0 + schedule.offset(self.sent)))
                await self._append_range(self.sent, upto)
                self.sent = upto
            await self._ship_ripe()
            self._reap()
            if self.sent < due:
                await asyncio.sleep(0)  # catching up: let the producer's sender run
                continue
            next_event_at = (self.t0 + schedule.offset(self.sent)
                             if self.sent < self.limit else None)
            await asyncio.sleep(sleep_for(time.time(), next_event_at,
                                          (b.deadline for b in self._open.values())))
        for partition in list(self._open):
            await self._ship(partition)
        await asyncio.gather(*self._pending)

    def stop_after_step(self) -> None:
        """Send the rest of the current step, then stop."""
        k = self.schedule.step_of(min(self.sent, self.schedule.total_events - 1))
        self.limit = min(self.limit, self.schedule.first_events[k] + self.schedule.steps[k].events)

    async def _append_range(self, first: int, end: int) -> None:
        schedule, pool, n = self.schedule, self.pool, len(self.pool)
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
            intended = step_start + (i - step_first) * spacing
            value = render(template, f"{self.prefix}-{i}", intended)
            batch = self._open.get(template.partition)
            if batch is None:
                batch = self._start_batch(template.partition, intended)
            if batch.builder.append(key=template.key, value=value, timestamp=None) is None:
                # Full: ship it and start the partition's next batch.
                await self._ship(template.partition)
                batch = self._start_batch(template.partition, intended)
                batch.builder.append(key=template.key, value=value, timestamp=None)

    def _start_batch(self, partition: int, intended: float) -> OpenBatch:
        # It lingers from its first event's intended time, as a producer's batch
        # lingers from the send() that opened it.
        batch = self._open[partition] = OpenBatch(self.producer.create_batch(),
                                                  intended + self.linger_s)
        return batch

    async def _ship_ripe(self) -> None:
        for partition in ripe({p: b.deadline for p, b in self._open.items()}, time.time()):
            await self._ship(partition)

    async def _ship(self, partition: int) -> None:
        builder = self._open.pop(partition).builder
        # Closed: the producer sends it at once (it has lingered here already).
        builder.close()
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
    linger_ms = int(spec.get("linger_ms", 5))
    producer = create_producer(bench_settings(spec.get("bootstrap")), linger_ms=linger_ms)
    await producer.start()
    await producer.partitions_for(spec["topic"])  # metadata now, not on the first send
    # The schedule starts once everything is loaded and connected, so start-up
    # is never mistaken for the system under test being slow.
    t0 = float(spec["t0"]) if spec.get("t0") else time.time() + float(spec.get("lead_s", 0.5))
    if spec.get("started"):
        write_json(Path(spec["started"]), {"t0": t0})
    generator = Generator(producer, spec["topic"], pool, schedule, t0, spec["prefix"],
                          linger_s=linger_ms / 1000)
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
