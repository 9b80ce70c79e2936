"""OpenSearch unreachable for a while: the indexer waits, reports not-ready, loses nothing.

Runs against a *private* OpenSearch (stopped for at least 30 s, then started
again with stack.py): the shared one is never touched. Decisions keep arriving
during the outage; the indexer must stay alive (``/healthz`` 200), say why it
is not ready (``/readyz`` 503 naming OpenSearch), and once OpenSearch is back
hold exactly one document per event id.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import (
    PrivateStack,
    doc_count,
    fault_events,
    indexed_ids,
    log_events,
    make_decisions,
    private_opensearch,  # noqa: F401  (fixture)
    private_stack,  # noqa: F401  (fixture)
    produce_json,
    run_timeout,
    scaled_timeout,
)
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

EVENTS = fault_events(2000)
BEFORE = EVENTS // 4
OUTAGE_S = 30  # OpenSearch stays away at least this long
WAIT_S = scaled_timeout(EVENTS)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S))]


async def test_opensearch_outage_is_waited_out_and_nothing_is_lost(
    kafka_bootstrap: str, private_opensearch: PrivateStack,  # noqa: F811
    topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    run = unique_token()
    stack = private_opensearch
    decisions = await topic_factory("faults-os-decisions", partitions=3)
    index = f"faults-os-{run}"
    payloads = make_decisions(EVENTS, marker=run)
    indexer = ServiceProcess("indexer", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DECISIONS_TOPIC": decisions,
        "KAFKA_TOPIC_PARTITIONS": "3", "KAFKA_CONSUMER_GROUP": f"indexer-{run}",
        "OPENSEARCH_URL": stack.opensearch_url, "OPENSEARCH_INDEX": index,
        "INDEXER_BULK_MAX_DOCS": "100", "INDEXER_BULK_MAX_INTERVAL_MS": "100",
        "INDEXER_RETRY_CAP_S": "2", "OPENSEARCH_TIMEOUT_S": "5",
    }, tmp_path).start()
    client = AsyncOpenSearch(hosts=[stack.opensearch_url])
    try:
        indexer.wait_ready()
        await produce_json(kafka_bootstrap, decisions, payloads[:BEFORE])
        await poll_until(lambda: _count_at_least(client, index, BEFORE),
                         f"the first {BEFORE}", WAIT_S)

        stack.down("opensearch")
        outage_started = time.monotonic()
        # Decisions keep coming while OpenSearch is away.
        await produce_json(kafka_bootstrap, decisions, payloads[BEFORE:])

        async def not_ready_naming_opensearch() -> bool:
            response = await asyncio.to_thread(indexer.get, "/readyz")
            return response.status_code == 503 and \
                response.json()["checks"].get("opensearch", "ok") != "ok"
        await poll_until(not_ready_naming_opensearch, "/readyz to report OpenSearch", 30)
        await poll_until(lambda: _retried(indexer), "the indexer to retry its bulk", 30)
        # An outage of tens of seconds, with the indexer alive throughout.
        for _ in range(5):
            assert (await asyncio.to_thread(indexer.get, "/healthz")).status_code == 200
            assert indexer.proc is not None
            assert indexer.proc.poll() is None, indexer.log_tail()
            await asyncio.sleep(2)

        # Hold the outage for OUTAGE_S in all (a fault's length, not a speed assertion).
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - outage_started)))
        stack.up("opensearch")
        await poll_until(lambda: _count_at_least(client, index, EVENTS), f"{EVENTS} docs", WAIT_S)

        async def ready() -> bool:
            return (await asyncio.to_thread(indexer.get, "/readyz")).status_code == 200
        await poll_until(ready, "/readyz 200 once OpenSearch is back", 30)
        ids = await indexed_ids(client, index)
    finally:
        await client.close()
        if indexer.proc is not None and indexer.proc.poll() is None:
            code, _ = indexer.terminate()
            assert code == 0, indexer.log_tail()

    assert len(ids) == EVENTS
    assert set(ids) == {p["event_id"] for p in payloads}


async def _count_at_least(client: AsyncOpenSearch, index: str, n: int) -> bool:
    return await doc_count(client, index) >= n


async def _retried(indexer: ServiceProcess) -> bool:
    return bool(log_events(indexer.log_path, "indexer.bulk.retry"))
