"""The raw bulk loader: ``python -m bench.bulkload SPEC.json``.

The indexing ceiling the indexer is compared with: the same decisions, turned
into the same documents (``indexer.document``) with the same ids, in the same
bulk size, into an index made from the same template — but read from Kafka and
converted *before* the clock starts, and sent straight to OpenSearch with
opensearch-py's bulk API: once one request at a time (as the indexer does),
once with two requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from opensearchpy import AsyncOpenSearch

from bench.common import bench_settings, read_json, topic_partitions, write_json
from fraudstream_shared.events import ProcessedTransaction, decode
from fraudstream_shared.kafka import create_admin, create_reader
from indexer.bulk import bulk_body, chunked
from indexer.document import document_id, to_document
from indexer.opensearch import ensure_index

Document = tuple[str, dict[str, Any]]


async def read_documents(spec: dict[str, Any]) -> list[Document]:
    """The first ``count`` decisions of the topic, as (id, document)."""
    settings = bench_settings(spec.get("bootstrap"))
    admin = create_admin(settings)
    await admin.start()
    try:
        partitions = await topic_partitions(admin, spec["topic"])
    finally:
        await admin.close()
    reader = create_reader(settings)
    await reader.start()
    documents: list[Document] = []
    try:
        reader.assign([TopicPartition(spec["topic"], p) for p in partitions])
        idle = 0
        while len(documents) < int(spec["count"]) and idle < 20:
            batches = await reader.getmany(timeout_ms=500, max_records=5000)
            idle = 0 if batches else idle + 1
            for batch in batches.values():
                for record in batch:
                    decision = decode(ProcessedTransaction, record.value)
                    documents.append((document_id(decision), to_document(decision)))
    finally:
        await reader.stop()
    return documents[:int(spec["count"])]


async def load(client: AsyncOpenSearch, index: str, documents: list[Document], batch: int,
               in_flight: int) -> dict[str, Any]:
    """Bulk ``documents`` with ``in_flight`` concurrent requests; docs/s and failures."""
    chunks = list(chunked(documents, batch))
    failures = 0
    queue: asyncio.Queue[Sequence[Document]] = asyncio.Queue()
    for chunk in chunks:
        queue.put_nowait(chunk)

    async def worker() -> None:
        nonlocal failures
        while not queue.empty():
            chunk = queue.get_nowait()
            response = await client.bulk(body=bulk_body(index, chunk))
            if response.get("errors"):
                failures += sum(1 for item in response["items"]
                                if next(iter(item.values())).get("status", 500) >= 300)

    cpu0, started = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    seconds = time.perf_counter() - started
    return {"in_flight": in_flight, "documents": len(documents), "seconds": round(seconds, 3),
            "docs_per_s": round(len(documents) / seconds, 1), "failures": failures,
            "client_cpu_seconds": round(time.process_time() - cpu0, 2)}


async def main_async(spec: dict[str, Any]) -> dict[str, Any]:
    """Read, convert, then load twice (1 and 2 requests in flight) into fresh indices."""
    documents = await read_documents(spec)
    client = AsyncOpenSearch(hosts=[spec["opensearch_url"]], timeout=60, max_retries=0)
    runs = []
    try:
        for in_flight in (1, 2):
            index = f"{spec['index']}{in_flight}"  # no name may be a prefix of another
            await ensure_index(client, index)
            runs.append(await load(client, index, documents, int(spec["batch"]), in_flight))
    finally:
        await client.close()
    best = max(runs, key=lambda r: r["docs_per_s"])
    return {"documents": len(documents), "batch": int(spec["batch"]), "runs": runs,
            "docs_per_s": best["docs_per_s"], "best_in_flight": best["in_flight"]}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.bulkload SPEC.json``: writes ``spec['out']``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    write_json(Path(spec["out"]), asyncio.run(main_async(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
