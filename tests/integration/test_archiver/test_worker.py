"""The archiver worker in-process against the real Kafka, writing a local lake."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aiokafka import AIOKafkaConsumer

from archiver.buffer import Marker, PartitionBuffer
from archiver.layout import OffsetRange, marker_key, parse_file_name
from archiver.schema import DECISIONS, decision_row, to_table
from archiver.settings import ArchiverSettings
from archiver.store import LocalStore
from archiver.worker import ArchiverWorker, parquet_bytes
from fraudstream_shared.events import DeadLetter, ProcessedTransaction
from fraudstream_shared.events.topics import dead_letter_topic
from fraudstream_shared.kafka import create_admin, create_producer
from tests.conftest import TopicFactory, unique_name
from tests.support.polling import poll_until
from tests.unit.test_archiver.factories import decision_payload, label

pytestmark = pytest.mark.integration



class Workers:
    """Archivers started in this process; each one stopped (final flush) and closed."""

    def __init__(self) -> None:
        self.running: list[tuple[ArchiverWorker, asyncio.Task[None]]] = []

    async def run(self, settings: ArchiverSettings) -> ArchiverWorker:
        worker = ArchiverWorker(settings)
        await worker.start()
        self.running.append((worker, asyncio.create_task(worker.run())))
        return worker

    async def stop(self, worker: ArchiverWorker) -> None:
        """Graceful stop: the loop finishes, buffers are written, the member leaves."""
        for candidate, task in list(self.running):
            if candidate is worker:
                worker.stop()
                await asyncio.wait_for(task, timeout=30)
                await worker.close()
                self.running.remove((candidate, task))


def _settings(kafka: str, decisions: str, labels: str, lake: Path, group: str,
              **overrides: Any) -> ArchiverSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": kafka, "kafka_consumer_group": group,
        "kafka_topic_partitions": 3, "decisions_topic": decisions, "labels_topic": labels,
        "archiver_lake_dir": lake, "archiver_max_rows": 7, "archiver_flush_interval_s": 0.5,
        "archiver_retry_base_s": 0.05, "archiver_retry_cap_s": 0.5,
    }
    return ArchiverSettings(**(values | overrides))


async def _produce(settings: ArchiverSettings, topic: str,
                   values: list[tuple[int | None, bytes]]) -> None:
    """Send each value (to an explicit partition when given) and wait for the acks."""
    producer = create_producer(settings)
    await producer.start()
    try:
        for partition, value in values:
            await producer.send(topic, value=value, key=b"k", partition=partition)
        await producer.flush()
    finally:
        await producer.stop()


def lake_files(lake: Path, table: str = "decisions") -> list[Path]:
    return sorted((lake / table).glob("dt=*/hour=*/*.parquet"))


def lake_ids(lake: Path, table: str = "decisions") -> list[str]:
    """Every event id stored in ``table``, duplicates kept."""
    return [eid for path in lake_files(lake, table)
            for eid in pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()]


def ranges(lake: Path) -> list[OffsetRange]:
    found = [parse_file_name(path.name) for path in lake_files(lake)]
    return sorted({r for r in found if r is not None})


async def _committed(settings: ArchiverSettings, topic: str) -> int:
    admin = create_admin(settings)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.consumer_group)
    finally:
        await admin.close()
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic)


async def _count_is(lake: Path, expected: int) -> bool:
    return len(lake_ids(lake)) >= expected


@pytest.fixture
async def workers() -> AsyncIterator[Workers]:
    """Start archivers in this process; stop and close them, drop their DLQ topics."""
    started = Workers()
    try:
        yield started
    finally:
        dlqs: set[str] = set()
        settings = [worker.settings for worker, _ in started.running]
        for worker, _task in list(started.running):
            await started.stop(worker)
        for s in settings:
            dlqs |= {dead_letter_topic(t) for t in s.input_topics}
        if settings:
            admin = create_admin(settings[0])
            await admin.start()
            await admin.delete_topics(sorted(dlqs))
            await admin.close()


async def test_every_decision_and_label_is_archived_once_and_poison_dead_lettered(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path, workers: Workers,
) -> None:
    decisions, labels = await topic_factory("decisions"), await topic_factory("labels")
    settings = _settings(kafka_bootstrap, decisions, labels, tmp_path / "lake",
                         unique_name("archiver"))
    now = datetime.now(UTC)
    payloads = [decision_payload("block" if i % 4 == 0 else "approve",
                                 event_time=now - timedelta(hours=i % 3))  # late ones too
                for i in range(40)]
    too_large = decision_payload(fd={"model_scores": {"fraudstream": 10**12}})
    values: list[tuple[int | None, bytes]] = [(None, json.dumps(p).encode()) for p in payloads]
    values[10:10] = [(None, b"{not json"), (None, json.dumps(too_large).encode())]
    await _produce(settings, decisions, values)
    truth = [label(p["event_id"], i % 4 == 0) for i, p in enumerate(payloads[:15])]
    await _produce(settings, labels, [(None, t.model_dump_json().encode()) for t in truth])

    worker = await workers.run(settings)
    await poll_until(lambda: _count_is(settings.archiver_lake_dir, 40), "40 decisions archived")
    await poll_until(lambda: _is(_committed(settings, decisions), 42),
                     "offsets committed past every decision and dead letter")
    await poll_until(lambda: _is(_committed(settings, labels), 15), "label offsets committed")
    assert (await worker.readiness())["lake"] is None

    lake = settings.archiver_lake_dir
    assert Counter(lake_ids(lake)) == Counter(p["event_id"] for p in payloads)
    assert sorted(lake_ids(lake, "labels")) == sorted(t.event_id for t in truth)
    # Late events sit in the folder of their own hour.
    hours = {path.parent.name for path in lake_files(lake)}
    assert len(hours) == 3
    for path in lake_files(lake):
        times = pq.read_table(path, columns=["event_time"]).column("event_time").to_pylist()
        assert {f"hour={t:%H}" for t in times} == {path.parent.name}
    dead = await _read_dead_letters(kafka_bootstrap, dead_letter_topic(decisions), 2)
    assert sorted(d.reason for d in dead) == ["archive_rejected", "invalid_json"]


async def test_an_uncommitted_flush_is_deleted_before_its_records_are_archived_again(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path, workers: Workers,
) -> None:
    decisions = await topic_factory("decisions", partitions=1)
    labels = await topic_factory("labels")
    lake = tmp_path / "lake"
    settings = _settings(kafka_bootstrap, decisions, labels, lake, unique_name("archiver"),
                         archiver_max_rows=5)
    payloads = [decision_payload(event_time=datetime.now(UTC) - timedelta(hours=i % 2))
                for i in range(23)]
    await _produce(settings, decisions, [(0, json.dumps(p).encode()) for p in payloads])
    # What an archiver killed between writing a flush of offsets 0-12 and committing
    # it leaves behind: the marker and every file of that flush, nothing committed.
    crashed = PartitionBuffer(decisions, 0, "decisions")
    for offset, payload in enumerate(payloads[:13]):
        d = ProcessedTransaction.model_validate(payload)
        crashed.add(offset, 1, 0.0, decision_row(d, topic=decisions, partition=0, offset=offset,
                                                 archived_at=datetime.now(UTC)), d.event_time)
    store = LocalStore(lake)
    await store.start()
    files = crashed.files()
    marker = Marker(crashed.source, [key for key, _ in files])
    await store.put(marker_key(decisions, 0), marker.encode())
    for key, rows in files:
        await store.put(key, parquet_bytes(to_table(rows, DECISIONS)))
    assert len(lake_ids(lake)) == 13

    # The restarted archiver flushes every 5 records: other boundaries than 0-12.
    await workers.run(settings)
    await poll_until(lambda: _is(_committed(settings, decisions), 23), "all 23 committed")
    assert Counter(lake_ids(lake)) == Counter(p["event_id"] for p in payloads)
    found = ranges(lake)
    assert OffsetRange(decisions, 0, 0, 12) not in found
    assert all(not a.overlaps(b) for a, b in itertools.pairwise(found))
    assert sum(r.last - r.first + 1 for r in found) == 23


async def test_a_restart_keeps_committed_files_and_continues_after_them(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path, workers: Workers,
) -> None:
    decisions, labels = await topic_factory("decisions"), await topic_factory("labels")
    lake = tmp_path / "lake"
    settings = _settings(kafka_bootstrap, decisions, labels, lake, unique_name("archiver"))
    first = [decision_payload() for _ in range(30)]
    await _produce(settings, decisions, [(None, json.dumps(p).encode()) for p in first])
    worker = await workers.run(settings)
    await poll_until(lambda: _is(_committed(settings, decisions), 30), "first 30 committed")
    await workers.stop(worker)
    before = set(lake_files(lake))

    second = [decision_payload() for _ in range(20)]
    await _produce(settings, decisions, [(None, json.dumps(p).encode()) for p in second])
    await workers.run(settings)
    await poll_until(lambda: _is(_committed(settings, decisions), 50), "all 50 committed")
    assert before <= set(lake_files(lake))
    assert Counter(lake_ids(lake)) == Counter(p["event_id"] for p in first + second)


async def test_a_rebalance_hands_partitions_over_without_loss_or_duplicates(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path, workers: Workers,
) -> None:
    decisions, labels = await topic_factory("decisions"), await topic_factory("labels")
    lake = tmp_path / "lake"
    # A long age limit: records sit in buffers when the second member joins, so
    # the revocation has to write them.
    settings = _settings(kafka_bootstrap, decisions, labels, lake, unique_name("archiver"),
                         archiver_max_rows=1000, archiver_flush_interval_s=600)
    payloads = [decision_payload() for _ in range(60)]
    await _produce(settings, decisions, [(None, json.dumps(p).encode()) for p in payloads[:30]])
    first = await workers.run(settings)
    await poll_until(lambda: _buffered(first, 30), "30 records buffered by the first member")
    second = await workers.run(settings)
    await _produce(settings, decisions, [(None, json.dumps(p).encode()) for p in payloads[30:]])
    await poll_until(lambda: _count_is(lake, 30), "the revoked buffers written")
    # Stopping writes what each member still holds (the age limit never fires).
    await workers.stop(first)
    await workers.stop(second)
    assert await _committed(settings, decisions) == 60
    assert Counter(lake_ids(lake)) == Counter(p["event_id"] for p in payloads)


async def _buffered(worker: ArchiverWorker, expected: int) -> bool:
    return sum(b.records for b in worker.buffers.values()) >= expected


async def _is(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _read_dead_letters(bootstrap: str, topic: str, expected: int) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                group_id=unique_name("dlq-reader"))
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        async def enough() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            found.extend(DeadLetter.model_validate_json(r.value) for b in batches.values()
                         for r in b if r.value is not None)
            return len(found) >= expected
        await poll_until(enough, f"{expected} dead letters on {topic}")
    finally:
        await consumer.stop()
    return found
