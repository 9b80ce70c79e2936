"""What the orchestrator watches while a run is going: consumer lag and searchability.

Lag is measured from outside the services: the group's committed offsets
(admin API) against the last stable offsets of the topic read by a
``read_committed`` reader, summed over partitions. With exactly-once each
committed transaction leaves one marker offset per partition, so a fully
caught-up transactional topic can show a lag of a few offsets.

Searchability is polled: a sample of event ids (about ``SAMPLES_PER_S`` per
second of schedule) is searched for with an ``ids`` query every
``POLL_INTERVAL_S``; an id counts as searchable the first time a search
returns it, i.e. after the indexer's bulk request was acknowledged *and* the
index refreshed (OpenSearch's default refresh interval is 1 s). The figure
therefore includes up to one poll interval of measurement delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opensearchpy import AsyncOpenSearch

from bench.schedule import Schedule

SAMPLES_PER_S = 20.0
POLL_INTERVAL_S = 0.1
MAX_IDS_PER_QUERY = 1000


async def group_lag(admin: AIOKafkaAdminClient, reader: AIOKafkaConsumer, group: str,
                    topic: str, partitions: Sequence[int]) -> int:
    """Messages in ``topic`` not yet committed by ``group`` (summed over ``partitions``)."""
    tps = [TopicPartition(topic, p) for p in partitions]
    if not tps:
        return 0
    ends = await reader.end_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    lag = 0
    for tp in tps:
        done = committed.get(tp)
        offset = done.offset if done is not None and done.offset >= 0 else 0
        lag += max(0, ends[tp] - offset)
    return lag


def sample_every(rate: float, samples_per_s: float = SAMPLES_PER_S) -> int:
    """Sample one event in this many so a step yields about ``samples_per_s`` per second."""
    return max(1, round(rate / samples_per_s))


@dataclass(frozen=True)
class Sample:
    """An event whose searchability is polled."""

    event_id: str
    seq: int
    intended: float
    step: int


def searchable_samples(schedule: Schedule, t0: float, prefix: str,
                       samples_per_s: float = SAMPLES_PER_S) -> list[Sample]:
    """The events whose searchability is polled: evenly spread over each step."""
    samples = []
    for k, step in enumerate(schedule.steps):
        first = schedule.first_events[k]
        every = sample_every(step.rate, samples_per_s)
        for i in range(first, first + step.events, every):
            samples.append(Sample(f"{prefix}-{i}", i, t0 + schedule.offset(i), k))
    return samples


@dataclass
class SearchablePoller:
    """Polls OpenSearch for the sampled ids; ``found`` maps id → seconds after intended.

    ``sent`` (set once the generator has stopped) drops the samples that were
    never sent, so they are neither polled nor counted.
    """

    client: AsyncOpenSearch
    index: str
    samples: Sequence[Sample]
    found: dict[str, float] = field(default_factory=dict)
    errors: int = 0
    sent: int | None = None

    def wanted(self) -> list[Sample]:
        """The samples that were (or will be) sent."""
        return [s for s in self.samples if self.sent is None or s.seq < self.sent]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until every sample is found or ``stop`` is set."""
        while not stop.is_set():
            wanted = self.wanted()
            if len(self.found) >= len(wanted):
                return
            now = time.time()
            by_id = {s.event_id: s.intended for s in wanted
                     if s.intended <= now and s.event_id not in self.found}
            due = list(by_id)
            for chunk_start in range(0, len(due), MAX_IDS_PER_QUERY):
                chunk = due[chunk_start:chunk_start + MAX_IDS_PER_QUERY]
                try:
                    response = await self.client.search(
                        index=self.index,
                        body={"query": {"ids": {"values": chunk}}, "size": len(chunk),
                              "_source": False})
                except Exception:  # a missing index or a hiccup: try again next round
                    self.errors += 1
                    continue
                seen = time.time()
                for hit in response.get("hits", {}).get("hits", []):
                    if hit["_id"] in by_id and hit["_id"] not in self.found:
                        self.found[hit["_id"]] = seen - by_id[hit["_id"]]
            with_wait = POLL_INTERVAL_S - (time.time() - now)
            if with_wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=with_wait)
