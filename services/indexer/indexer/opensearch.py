"""OpenSearch I/O: the client, the template and index, and bulk indexing with retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opensearchpy import AsyncOpenSearch, RequestError

from fraudstream_shared.exceptions import RetryableError
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_FAILED
from indexer.bulk import (
    bulk_payload,
    classify_bulk_items,
    error_cause,
    is_transient_error,
    retry_delay,
)
from indexer.mapping import index_mappings, index_template
from indexer.metrics import BULK_RETRIES, BULK_SECONDS, DOCUMENTS_INDEXED, DOCUMENTS_REJECTED

log = logging.getLogger(__name__)

Document = tuple[str, bytes | Mapping[str, Any]]
"""``(document id, source)``: the source as JSON bytes (``document_source``) or a mapping."""


def template_name(index: str) -> str:
    """The name of the index template that governs ``index``."""
    return f"fraudstream-{index}"


async def ensure_index(client: AsyncOpenSearch, index: str) -> None:
    """Put the index template, then create the index or add new fields to its mapping.

    Transient failures (OpenSearch still booting) raise :class:`RetryableError`
    for ``retry_until``; anything else (e.g. an existing index whose mapping
    conflicts) propagates and stops the start.
    """
    try:
        await client.indices.put_index_template(
            name=template_name(index), body=index_template(index)
        )
        if await client.indices.exists(index=index):
            # Mapping changes are additive, so they apply to the live index too.
            await client.indices.put_mapping(index=index, body=index_mappings())
            return
        try:
            await client.indices.create(index=index)
            log_event(log, logging.INFO, "indexer.index.created", index=index)
        except RequestError as exc:
            if exc.error != "resource_already_exists_exception":  # another instance won
                raise
    except Exception as exc:
        if is_transient_error(exc):
            raise RetryableError(f"OpenSearch not available: {error_cause(exc)}: {exc}") from exc
        raise


class BulkIndexer:
    """Indexes documents in one bulk request, retrying failures until each is settled.

    :meth:`index` returns only when every document is acknowledged or
    rejected for good; throttling, 5xx and connection errors are retried
    forever with capped exponential backoff (the consumer stops advancing
    meanwhile, which is the back-pressure). ``last_error`` is the error being
    retried, ``None`` once a request succeeds.
    """

    def __init__(
        self,
        client: AsyncOpenSearch,
        index: str,
        *,
        service: str,
        retry_base_s: float,
        retry_cap_s: float,
        on_wait: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.index = index
        self.last_error: str | None = None
        self._service = service
        self._retry_base_s = retry_base_s
        self._retry_cap_s = retry_cap_s
        self._on_wait = on_wait

    async def index_documents(self, documents: Sequence[Document]) -> list[tuple[int, str]]:
        """Index ``documents``; return ``(position, error)`` for those rejected for good."""
        pending = list(range(len(documents)))
        rejected: list[tuple[int, str]] = []
        replaced = 0
        attempt = 0
        while pending:
            batch = [documents[i] for i in pending]
            started = time.perf_counter()
            try:
                response = await self.client.bulk(body=bulk_payload(self.index, batch))
            except Exception as exc:
                if not is_transient_error(exc):
                    raise
                BULK_SECONDS.labels(self._service).observe(time.perf_counter() - started)
                await self._wait(attempt, len(pending), [error_cause(exc)], f"{exc}")
                attempt += 1
                continue
            BULK_SECONDS.labels(self._service).observe(time.perf_counter() - started)
            outcome = classify_bulk_items(response.get("items", []), expected=len(batch))
            DOCUMENTS_INDEXED.labels(self._service, self.index).inc(len(outcome.indexed))
            replaced += len(outcome.replaced)
            for position, error in outcome.rejected:
                rejected.append((pending[position], error))
            DOCUMENTS_REJECTED.labels(self._service, self.index).inc(len(outcome.rejected))
            pending = [pending[position] for position in outcome.retry]
            if not pending:
                break
            await self._wait(attempt, len(pending), outcome.retry_causes,
                             f"{len(pending)} of {len(batch)} items failed")
            attempt += 1
        self.last_error = None
        log_event(log, logging.INFO, "indexer.bulk.indexed", index=self.index,
                  documents=len(documents), rejected=len(rejected), attempts=attempt + 1,
                  replaced=replaced)
        return rejected

    async def _wait(self, attempt: int, pending: int, causes: list[str], error: str) -> None:
        delay = retry_delay(attempt, self._retry_base_s, self._retry_cap_s)
        for cause in sorted(set(causes)):
            BULK_RETRIES.labels(self._service, cause).inc()
        MESSAGES_FAILED.labels(self._service, "bulk").inc(pending)
        self.last_error = f"bulk retrying ({', '.join(sorted(set(causes)))}): {error}"[:500]
        log_event(log, logging.WARNING, "indexer.bulk.retry", index=self.index,
                  attempt=attempt + 1, pending=pending, causes=sorted(set(causes)),
                  delay_s=round(delay, 3), error=error[:300])
        if self._on_wait is not None:
            self._on_wait()
        await asyncio.sleep(delay)
