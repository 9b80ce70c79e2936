"""Per-partition state of the scorer: the feature store and its changelog.

Transactions are keyed by ``entity_id``, so a customer's (and card's) events
always arrive on the same input partition; each owned partition therefore has
its own :class:`FeatureStore`, backed by partition ``p`` of a compacted
changelog topic (``<group>-features-changelog``). The changelog is written in
the same Kafka transaction as the decisions and the input offsets, so after a
crash the restored state matches the committed offsets exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from aiokafka import TopicPartition

from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka import Record, create_reader
from fraudstream_shared.logging import log_event
from scorer.features.native import AnyFeatureStore
from scorer.features.store import HISTORY_PREFIX

log = logging.getLogger(__name__)

_HISTORY_KEY = HISTORY_PREFIX.encode("utf-8")


def changelog_topic(consumer_group: str) -> str:
    """The changelog topic of a scorer group's feature state."""
    return f"{consumer_group}-features-changelog"


@dataclass
class PartitionState:
    """What the scorer holds for one owned input partition."""

    tp: TopicPartition
    store: AnyFeatureStore
    restored_records: int = 0
    next_offset: int | None = None
    """The first input offset not yet reflected in ``store``; earlier records are skipped."""
    last_expiry: float = 0.0
    """Monotonic time of the last expiry pass over ``store``."""
    changelog_partition: int = field(init=False)

    def __post_init__(self) -> None:
        self.changelog_partition = self.tp.partition

    def fresh(self, records: list[Record]) -> list[Record]:
        """Drop records already reflected in the state (fetched before a rewind)."""
        if self.next_offset is None:
            return records
        start = self.next_offset
        return [r for r in records if r.offset >= start]

    def changelog_records(self) -> list[tuple[bytes, bytes | None]]:
        """(key, record-or-tombstone) for every entity changed since the last call.

        See :meth:`FeatureStore.changelog_records`: a head record per entity,
        and its history record when that changed.
        """
        return [(key.encode("utf-8"), value) for key, value in self.store.changelog_records()]


class ChangelogTally(NamedTuple):
    """What a list of changelog records holds, for the scorer's metrics."""

    heads: int
    histories: int
    tombstones: int
    value_bytes: int


def changelog_tally(records: Iterable[tuple[bytes, bytes | None]]) -> ChangelogTally:
    """Count head records, history records (``h/…`` keys), tombstones and value bytes."""
    heads = histories = tombstones = size = 0
    for key, value in records:
        if value is None:
            tombstones += 1
            continue
        size += len(value)
        if key.startswith(_HISTORY_KEY):
            histories += 1
        else:
            heads += 1
    return ChangelogTally(heads, histories, tombstones, size)


def expire_idle(state: PartitionState, now: float, every_s: float) -> int:
    """Drop entities idle past the store's TTL (event time), at most once per ``every_s``.

    Bounds memory. The expired keys become dirty, so the next transaction
    writes tombstones for them to the changelog. ``now`` is a monotonic clock.
    """
    if now - state.last_expiry < every_s:
        return 0
    state.last_expiry = now
    return state.store.expire(state.store.watermark)


def latest_records(records: Iterable[tuple[bytes | None, bytes | None]],
                   into: dict[str, bytes | None]) -> int:
    """Keep each key's last value in ``into`` (what compaction would keep); returns how many."""
    count = 0
    for key, value in records:
        if key is None:
            continue
        into[key.decode("utf-8")] = value
        count += 1
    return count


def apply_changelog(store: AnyFeatureStore, records: Iterable[tuple[bytes | None, bytes | None]]
                    ) -> int:
    """Load a whole changelog's records into ``store`` (later records win); returns how many.

    The records must be complete: a head record and its history record are
    joined only once both have been read.
    """
    latest: dict[str, bytes | None] = {}
    count = latest_records(records, latest)
    store.restore_changelog(latest)
    store.clear_dirty()  # restored state is already in the changelog
    return count


async def restore_partition(
    settings: ServiceSettings, topic: str, partition: int, store: AnyFeatureStore
) -> int:
    """Read changelog ``topic``/``partition`` from the beginning to its end into ``store``.

    Reads committed records only, up to the last stable offset, so state from
    an aborted (or still open, fenced) transaction is never restored.
    """
    reader = create_reader(settings)
    await reader.start()
    try:
        tp = TopicPartition(topic, partition)
        # The end first, while nothing is assigned. Once the partition is assigned
        # the reader's fetcher long-polls it, and a broker answers a connection's
        # requests in order: asked then, the end waited behind that fetch, up to
        # fetch.max.wait.ms (500 ms) for an empty partition, partition after partition.
        end = (await reader.end_offsets([tp]))[tp]
        total = 0
        idle_polls = 0
        # The newest record of each key, loaded once all are read: an entity's
        # head and history records may arrive in different polls.
        latest: dict[str, bytes | None] = {}
        if end > 0:  # an empty changelog has nothing to read
            reader.assign([tp])
            await reader.seek_to_beginning(tp)
        while end > 0 and await reader.position(tp) < end and idle_polls < 5:
            batches = await reader.getmany(tp, timeout_ms=500, max_records=5000)
            records = batches.get(tp, [])
            # Only transaction markers may remain before ``end``; a few empty
            # polls in a row mean there is nothing left to read.
            idle_polls = 0 if records else idle_polls + 1
            total += latest_records(((r.key, r.value) for r in records), latest)
        store.restore_changelog(latest)
        store.clear_dirty()  # restored state is already in the changelog
        log_event(log, logging.INFO, "scorer.state.restored", topic=topic, partition=partition,
                  records=total, entities=len(store))
        return total
    finally:
        await reader.stop()
