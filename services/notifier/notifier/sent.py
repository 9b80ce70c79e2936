"""The durable record of alerts already sent, and its in-memory view.

Every delivered alert is recorded on a compacted topic keyed by event id, in
the *same partition number* as the decision it came from. A member that is
assigned decisions partition *p* therefore only has to read sent-topic
partition *p* to know which of those decisions were already notified — however
often Kafka redelivers them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import BaseModel, ConfigDict

from fraudstream_shared.exceptions import RetryableError

RESTORE_DEADLINE_S = 60.0


class SentRecord(BaseModel):
    """The value of a sent-topic record (the key is the event id)."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    channel: str
    sent_at: datetime
    source_topic: str
    source_partition: int
    source_offset: int

    @classmethod
    def now(cls, event_id: str, channel: str, topic: str, partition: int,
            offset: int) -> SentRecord:
        """A record stamped with the current UTC time."""
        return cls(event_id=event_id, channel=channel, sent_at=datetime.now(UTC),
                   source_topic=topic, source_partition=partition, source_offset=offset)


class SentLedger:
    """Event ids already notified, per decisions partition this member owns.

    A partition is *restored* once its sent-topic partition has been read to
    the end; before that, nothing may be sent for it.
    """

    def __init__(self) -> None:
        self._sent: dict[int, set[str]] = {}

    def is_restored(self, partition: int) -> bool:
        """Whether ``partition``'s history has been loaded."""
        return partition in self._sent

    def restored(self, partition: int, event_ids: Iterable[str]) -> None:
        """Install the history read for ``partition`` (replacing any older view)."""
        self._sent[partition] = set(event_ids)

    def keep_only(self, partitions: Iterable[int]) -> None:
        """Forget partitions no longer assigned, so a later re-assignment reloads them."""
        keep = set(partitions)
        for partition in list(self._sent):
            if partition not in keep:
                del self._sent[partition]

    def contains(self, event_id: str) -> bool:
        """Whether ``event_id`` was notified in any partition we hold."""
        return any(event_id in ids for ids in self._sent.values())

    def add(self, partition: int, event_id: str) -> None:
        """Remember a send once its record is acknowledged."""
        self._sent.setdefault(partition, set()).add(event_id)

    def __len__(self) -> int:
        return sum(len(ids) for ids in self._sent.values())


async def read_sent_ids(
    consumer: AIOKafkaConsumer, topic: str, partitions: Iterable[int],
    *, deadline_s: float = RESTORE_DEADLINE_S,
) -> dict[int, set[str]]:
    """Read ``topic``'s ``partitions`` from the beginning to their current end.

    ``consumer`` must have no group (positions are ours alone). A tombstone
    (null value) removes an id, so an operator can allow a re-send. Raises
    :class:`RetryableError` if the end is not reached within ``deadline_s``.
    """
    tps = [TopicPartition(topic, p) for p in sorted(set(partitions))]
    ids: dict[int, set[str]] = {tp.partition: set() for tp in tps}
    if not tps:
        return ids
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    end = await consumer.end_offsets(tps)
    remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
    started = time.monotonic()
    while remaining:
        if time.monotonic() - started > deadline_s:
            raise RetryableError(f"restoring {topic} did not reach the end in {deadline_s}s")
        batches = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batches.items():
            for record in records:
                if record.key is None:
                    continue
                event_id = record.key.decode("utf-8", errors="replace")
                if record.value is None:
                    ids[tp.partition].discard(event_id)
                else:
                    ids[tp.partition].add(event_id)
        for tp in list(remaining):
            if await consumer.position(tp) >= end[tp]:
                remaining.discard(tp)
        await asyncio.sleep(0)
    return ids
