"""opensearch-py's async client against the real local node."""

from __future__ import annotations

import pytest
from opensearchpy import AsyncOpenSearch
from opensearchpy.helpers import async_bulk

from tests.conftest import IndexFactory

pytestmark = pytest.mark.integration


async def test_create_bulk_index_refresh_and_search(
    opensearch_client: AsyncOpenSearch, index_factory: IndexFactory
) -> None:
    index = await index_factory(
        "tx",
        body={"mappings": {"properties": {
            "outcome": {"type": "keyword"},
            "transaction_amt": {"type": "double"},
            "event_time": {"type": "date"},
        }}},
    )
    docs = [
        {"_index": index, "_id": f"e{i}", "_source": {
            "outcome": "block" if i % 4 == 0 else "approve",
            "transaction_amt": float(i),
            "event_time": f"2026-11-25T10:00:{i:02d}Z",
        }}
        for i in range(20)
    ]
    ok, errors = await async_bulk(opensearch_client, docs)
    assert ok == 20
    assert errors == []
    # Same ids again: overwritten, never duplicated.
    await async_bulk(opensearch_client, docs)
    await opensearch_client.indices.refresh(index=index)

    count = await opensearch_client.count(index=index)
    assert count["count"] == 20
    result = await opensearch_client.search(
        index=index,
        body={"query": {"term": {"outcome": "block"}},
              "aggs": {"amount": {"sum": {"field": "transaction_amt"}}}},
    )
    assert result["hits"]["total"]["value"] == 5
    assert result["aggregations"]["amount"]["value"] == sum(range(0, 20, 4))
