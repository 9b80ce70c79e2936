"""The indexer's work loop: decode decisions, bulk-index them, dead-letter what cannot be."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Collection, Sequence
from typing import Any

from aiokafka import TopicPartition
from opensearchpy import AsyncOpenSearch

from fraudstream_shared.events import ProcessedTransaction, decode
from fraudstream_shared.exceptions import PoisonMessageError, RetryableError
from fraudstream_shared.kafka import (
    KafkaWorker,
    Record,
    Settlement,
    dead_letter_spec,
    input_topic,
)
from fraudstream_shared.kafka.worker import START_DEADLINE_S
from fraudstream_shared.logging import log_event
from fraudstream_shared.opensearch import create_opensearch_client
from fraudstream_shared.retry import retry_until
from indexer.bulk import chunked
from indexer.document import document_id, document_source
from indexer.opensearch import BulkIndexer, Document, ensure_index
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)

PING_TIMEOUT_S = 1.0
"""Readiness has a 2 s budget in total, shared with the Kafka check."""

INDEX_REJECTED = "index_rejected"

BULK_IN_FLIGHT = 2
"""Bulk requests out at once, across batches. OpenSearch indexes two requests
concurrently (two write threads on the one shard), and the next one is built
meanwhile (also the first of the next poll: batches are handed off, not waited for)."""

POLL_REQUESTS = 4
"""Bulk requests' worth of records asked of one poll: under load, fewer polls
means fewer idle gaps at batch boundaries (measured: 6,750 → 10,137 docs/s in the
best paired run). A poll returns what has arrived, so light load is not delayed."""

MIN_REQUEST_DOCS = 50
"""A small poll is not split into requests smaller than this (each costs a round trip)."""

YIELD_EVERY = 64
"""Decoded records between two turns of the event loop."""


class IndexerWorker(KafkaWorker):
    """Indexes every decision on ``DECISIONS_TOPIC`` into ``OPENSEARCH_INDEX``.

    The document id is the event id, so at-least-once delivery (a batch is
    re-read after a crash before its commit) overwrites documents and never
    duplicates them.
    """

    settings: IndexerSettings
    client: AsyncOpenSearch
    bulk: BulkIndexer
    _in_flight: set[asyncio.Task[list[tuple[int, str]]]]
    """Bulk requests not yet answered, of every batch handed off."""

    def __init__(self, settings: IndexerSettings) -> None:
        topic = settings.decisions_topic
        partitions, replication = settings.kafka_topic_partitions, settings.kafka_replication_factor
        super().__init__(
            settings,
            input_topics=[topic],
            topics=[
                input_topic(topic, partitions, replication),
                dead_letter_spec(topic, partitions, replication),
            ],
            max_records=settings.indexer_bulk_max_docs * POLL_REQUESTS,
            # The poll timeout bounds how long a partial bulk waits for more.
            poll_timeout_ms=settings.indexer_bulk_max_interval_ms,
        )
        self._in_flight = set()

    async def on_start(self) -> None:
        """Connect to OpenSearch (waiting while it boots), put the template, create the index."""
        self.client = create_opensearch_client(self.settings)
        self.bulk = BulkIndexer(
            self.client, self.settings.opensearch_index, service=self.service,
            retry_base_s=self.settings.indexer_retry_base_s,
            retry_cap_s=self.settings.indexer_retry_cap_s,
            on_wait=self._still_alive,
        )
        await retry_until(lambda: ensure_index(self.client, self.settings.opensearch_index),
                          what="opensearch", deadline_s=START_DEADLINE_S,
                          retry_on=(RetryableError,))
        self.loop.on_assigned.append(self._log_resume_points)

    async def _log_resume_points(self, assigned: list[TopicPartition]) -> None:
        """Log where each assigned partition resumes: everything after it is (re)delivered.

        After a crash the records between this offset and the crashed batch's
        end were indexed but not committed; they come again and overwrite
        their own documents (``replaced`` in ``indexer.bulk.indexed``).
        """
        resume: dict[str, int | None] = {}
        for tp in assigned:
            try:
                resume[f"{tp.topic}:{tp.partition}"] = await self.consumer.committed(tp)
            except Exception as exc:  # only a log line: never fail the assignment for it
                log_event(log, logging.WARNING, "indexer.partitions.resume_unknown",
                          error=f"{type(exc).__name__}: {exc}")
                return
        log_event(log, logging.INFO, "indexer.partitions.resumed", committed=resume)

    async def on_close(self) -> None:
        """Cancel and await requests still out (a failed loop left them), close the client."""
        await _cancel(list(self._in_flight))
        if hasattr(self, "client"):
            await self.client.close()

    def _still_alive(self) -> None:
        # Waiting for OpenSearch is progress, not a stuck loop: keep liveness
        # green so the orchestrator does not restart us into the same outage
        # (readiness reports it instead).
        self.loop.heartbeat = time.monotonic()

    async def extra_readiness(self) -> dict[str, str | None]:
        """OpenSearch answers a ping and no bulk request is being retried."""
        try:
            reachable = await asyncio.wait_for(self.client.ping(), timeout=PING_TIMEOUT_S)
        except Exception as exc:  # any failure means not ready
            return {"opensearch": f"{type(exc).__name__}: {exc}"}
        if not reachable:
            return {"opensearch": "ping failed"}
        return {"opensearch": self.bulk.last_error}

    async def handle_batch(self, records: Sequence[Record]) -> Settlement:
        """Send the batch's bulk requests; return its settlement, done once all are settled.

        The batch is indexed in :func:`request_pieces` pieces with up to
        :data:`BULK_IN_FLIGHT` bulk requests out at once (counting those of
        earlier batches), the next piece being decoded while the previous ones
        are indexed. This returns once every piece is sent, so the loop polls
        and decodes the next batch while the last requests are indexed; the
        returned task completes (and the loop then commits the offsets) only
        when every record is indexed or its dead letter is acknowledged.
        """
        dead_letter_acks: list[asyncio.Future[object]] = []
        requests: list[tuple[list[Record], asyncio.Task[list[tuple[int, str]]]]] = []
        try:
            for piece in request_pieces(records, self.settings.indexer_bulk_max_docs):
                accepted, documents = await self._documents(piece, dead_letter_acks)
                if not documents:
                    continue
                await _room_for_one_more(self._in_flight)
                request = asyncio.create_task(self.bulk.index_documents(documents))
                self._in_flight.add(request)
                request.add_done_callback(self._in_flight.discard)
                requests.append((accepted, request))
        except BaseException:
            await _cancel([task for _, task in requests])
            raise
        settlement = asyncio.create_task(self._settle(requests, dead_letter_acks))
        # A settlement cancelled before its first step never runs its own cleanup.
        settlement.add_done_callback(
            functools.partial(_cancel_unfinished, [task for _, task in requests]))
        return settlement

    async def _settle(self, requests: list[tuple[list[Record],
                                                 asyncio.Task[list[tuple[int, str]]]]],
                      dead_letter_acks: list[asyncio.Future[object]]) -> None:
        """Dead-letter what the requests rejected; return once every dead letter is durable."""
        try:
            for accepted, task in requests:
                for position, error in await task:
                    failure = PoisonMessageError(INDEX_REJECTED, error)
                    dead_letter_acks.append(await self.dead_letters.send(accepted[position],
                                                                         failure))
        except BaseException:
            # Cancelled (the loop is failing) or a request failed: nothing of this
            # batch is committed, so its records are read again.
            await _cancel([task for _, task in requests])
            raise
        # Offsets are committed when this returns: every dead letter must be durable.
        await asyncio.gather(*dead_letter_acks)

    async def _documents(
        self, records: Sequence[Record], dead_letter_acks: list[asyncio.Future[object]]
    ) -> tuple[list[Record], list[Document]]:
        """Decode ``records`` into bulk documents; dead-letter the undecodable ones."""
        accepted: list[Record] = []
        documents: list[Document] = []
        for count, record in enumerate(records, start=1):
            try:
                decision = decode(ProcessedTransaction, record.value)
            except PoisonMessageError as exc:
                dead_letter_acks.append(await self.dead_letters.send(record, exc))
                continue
            accepted.append(record)
            documents.append((document_id(decision), document_source(decision)))
            if count % YIELD_EVERY == 0:
                # Let a request created just before this piece reach the socket
                # (aiohttp needs a few loop turns) instead of waiting for the piece.
                await asyncio.sleep(0)
        return accepted, documents


def request_pieces(records: Sequence[Record], max_docs: int) -> list[Sequence[Record]]:
    """Split a polled batch into the record slices sent as one bulk request each.

    A poll (up to :data:`POLL_REQUESTS` × ``max_docs`` records) is split into
    at least :data:`BULK_IN_FLIGHT` near-equal pieces so that they are indexed
    concurrently; no piece has more than ``max_docs`` records.
    """
    if not records:
        return []
    pieces = max(BULK_IN_FLIGHT, -(-len(records) // max_docs))
    size = max(MIN_REQUEST_DOCS, -(-len(records) // pieces))
    return list(chunked(records, min(size, max_docs)))


async def _room_for_one_more(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Wait until fewer than :data:`BULK_IN_FLIGHT` of ``tasks`` are running."""
    running = {task for task in tasks if not task.done()}
    while len(running) >= BULK_IN_FLIGHT:
        _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)


def _cancel_unfinished(tasks: Sequence[asyncio.Task[Any]], _settlement: object) -> None:
    """Cancel the requests of a settlement that ended without them (cancelled or failed)."""
    for task in tasks:
        task.cancel()


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel the requests still out (the batch failed) and wait for them to end."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
