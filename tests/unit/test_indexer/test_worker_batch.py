"""``IndexerWorker.handle_batch`` with the bulk requests and dead letters recorded in memory.

The concurrency (two requests out at once, across batches) must not change
what is indexed or dead-lettered, nor let a batch's settlement complete before
every one of its requests is settled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from fraudstream_shared.exceptions import PoisonMessageError
from indexer.opensearch import Document
from indexer.settings import IndexerSettings
from indexer.worker import BULK_IN_FLIGHT, INDEX_REJECTED, IndexerWorker
from tests.unit.test_indexer.factories import decision_payload


class RecordingBulk:
    """Rejects the documents whose id is in ``reject``; records the requests in flight."""

    def __init__(self, reject: set[str]) -> None:
        self.reject = reject
        self.in_flight = 0
        self.most_in_flight = 0
        self.indexed: list[str] = []
        self.started: list[str] = []
        """The first document id of each request, when it was sent."""

    async def index_documents(self, documents: Sequence[Document]) -> list[tuple[int, str]]:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.started.append(documents[0][0])
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        self.indexed += [doc_id for doc_id, _ in documents if doc_id not in self.reject]
        return [(i, "mapper_parsing_exception: no") for i, (doc_id, _) in enumerate(documents)
                if doc_id in self.reject]


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, str]] = []

    async def send(self, record: ConsumerRecord[bytes, bytes],
                   error: PoisonMessageError) -> asyncio.Future[object]:
        self.sent.append((record.value, error.reason))
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _record(offset: int, value: bytes) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("decisions", 0, offset, 0, 0, None, value, None, 0, len(value), [])


def _worker(reject: set[str]) -> tuple[IndexerWorker, RecordingBulk, RecordingDeadLetters]:
    worker = IndexerWorker(IndexerSettings(indexer_bulk_max_docs=200))
    bulk, letters = RecordingBulk(reject), RecordingDeadLetters()
    worker.bulk = bulk  # type: ignore[assignment]
    worker.dead_letters = letters  # type: ignore[assignment]
    return worker, bulk, letters


async def test_every_record_is_indexed_or_dead_lettered_with_requests_in_parallel() -> None:
    payloads = [decision_payload() for _ in range(200)]
    values = [json.dumps(p).encode() for p in payloads]
    values[3], values[150] = b"{not json", b""
    rejected_ids = {payloads[i]["event_id"] for i in (10, 120, 199)}
    worker, bulk, letters = _worker(rejected_ids)

    settlement = await worker.handle_batch([_record(i, v) for i, v in enumerate(values)])
    await settlement

    assert bulk.most_in_flight == BULK_IN_FLIGHT
    assert bulk.in_flight == 0  # nothing still out when the batch is settled
    expected = [p["event_id"] for i, p in enumerate(payloads)
                if i not in (3, 150) and p["event_id"] not in rejected_ids]
    assert sorted(bulk.indexed) == sorted(expected)
    assert letters.sent == [(b"{not json", "invalid_json"), (b"", "empty_value")] + [
        (values[i], INDEX_REJECTED) for i in (10, 120, 199)]


async def test_a_failed_request_cancels_the_other_and_fails_the_batch() -> None:
    worker, bulk, _ = _worker(set())
    cancelled: list[str] = []

    async def broken(documents: Sequence[Document]) -> list[tuple[int, Any]]:
        if documents[0][0] == first:
            await asyncio.sleep(0.01)  # the other request is out by now
            raise RuntimeError("permanent")
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(documents[0][0])
            raise
        return []

    payloads = [decision_payload() for _ in range(200)]
    first = payloads[0]["event_id"]
    bulk.index_documents = broken  # type: ignore[method-assign]
    records = [_record(i, json.dumps(p).encode()) for i, p in enumerate(payloads)]
    settlement = await worker.handle_batch(records)
    # Settles at once: the other request (asleep for 10 s) is cancelled, not awaited.
    with pytest.raises(RuntimeError, match="permanent"):
        await asyncio.wait_for(settlement, timeout=5)
    assert cancelled == [payloads[100]["event_id"]]


async def test_the_next_batch_is_sent_while_the_last_requests_of_the_previous_are_out() -> None:
    worker, bulk, letters = _worker(set())
    first = [decision_payload() for _ in range(200)]
    second = [decision_payload() for _ in range(200)]

    settled_first = await worker.handle_batch(
        [_record(i, json.dumps(p).encode()) for i, p in enumerate(first)])
    assert not settled_first.done()  # its two requests are still out
    assert len(worker._in_flight) == BULK_IN_FLIGHT
    settled_second = await worker.handle_batch(
        [_record(200 + i, json.dumps(p).encode()) for i, p in enumerate(second)])
    # The second batch's requests waited for room: never more than two out in all.
    await settled_first
    await settled_second

    assert bulk.most_in_flight == BULK_IN_FLIGHT
    assert bulk.started == [first[0]["event_id"], first[100]["event_id"],
                            second[0]["event_id"], second[100]["event_id"]]
    assert sorted(bulk.indexed) == sorted(p["event_id"] for p in first + second)
    assert letters.sent == []


@pytest.mark.parametrize("started", [False, True], ids=["before-its-first-step", "waiting"])
async def test_a_cancelled_settlement_cancels_its_requests(started: bool) -> None:
    worker, bulk, _ = _worker(set())

    async def slow(documents: Sequence[Document]) -> list[tuple[int, Any]]:
        await asyncio.sleep(10)
        return []

    bulk.index_documents = slow  # type: ignore[method-assign]
    payloads = [decision_payload() for _ in range(200)]
    settlement = await worker.handle_batch(
        [_record(i, json.dumps(p).encode()) for i, p in enumerate(payloads)])
    requests = set(worker._in_flight)
    assert len(requests) == BULK_IN_FLIGHT
    if started:
        await asyncio.sleep(0.01)  # the settlement is waiting for its requests
    settlement.cancel()
    with pytest.raises(asyncio.CancelledError):
        await settlement
    await asyncio.wait(requests, timeout=5)
    assert all(request.cancelled() for request in requests)
    await asyncio.sleep(0)
    assert not worker._in_flight


async def test_close_cancels_and_awaits_requests_still_out() -> None:
    worker, bulk, _ = _worker(set())

    async def slow(documents: Sequence[Document]) -> list[tuple[int, Any]]:
        await asyncio.sleep(10)
        return []

    bulk.index_documents = slow  # type: ignore[method-assign]
    await worker.handle_batch(
        [_record(i, json.dumps(decision_payload()).encode()) for i in range(200)])
    requests = set(worker._in_flight)
    await asyncio.wait_for(worker.on_close(), timeout=5)
    assert requests
    assert all(request.cancelled() for request in requests)
