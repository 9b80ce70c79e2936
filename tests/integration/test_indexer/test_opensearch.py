"""The template, idempotent bulk indexing and retries, against the real OpenSearch."""

from __future__ import annotations

import asyncio

import pytest
from opensearchpy import AsyncOpenSearch

from indexer.document import document_id, to_document
from indexer.opensearch import BulkIndexer, Document, ensure_index, template_name
from tests.support.polling import poll_until
from tests.unit.test_indexer.factories import make_decision

pytestmark = pytest.mark.integration


def _documents(count: int) -> list[Document]:
    decisions = [make_decision(outcome="block" if i % 3 == 0 else "approve", score=10 * i)
                 for i in range(count)]
    return [(document_id(d), to_document(d)) for d in decisions]


def _indexer(client: AsyncOpenSearch, index: str) -> BulkIndexer:
    return BulkIndexer(client, index, service="itest", retry_base_s=0.05, retry_cap_s=0.5)


async def _count(client: AsyncOpenSearch, index: str) -> int:
    await client.indices.refresh(index=index)
    result = await client.count(index=index)
    return int(result["count"])


async def test_template_maps_dates_geo_points_keywords_and_new_fields(
    opensearch_client: AsyncOpenSearch, index_name: str
) -> None:
    await ensure_index(opensearch_client, index_name)
    await ensure_index(opensearch_client, index_name)  # idempotent: second start of the service
    (_, source), = _documents(1)
    source = {**source, "new_string_field": "2026-11-25T10:00:00Z"}  # looks like a date
    assert await _indexer(opensearch_client, index_name).index_documents([("e1", source)]) == []

    mapping = await opensearch_client.indices.get_mapping(index=index_name)
    properties = mapping[index_name]["mappings"]["properties"]
    fd = properties["fd"]["properties"]
    assert properties["event_time"]["type"] == "date"
    assert properties["billing_location"]["type"] == "geo_point"
    assert properties["transaction_currency"]["type"] == "keyword"
    assert properties["ip_address"]["type"] == "keyword"
    assert fd["outcome"]["type"] == "keyword"
    assert fd["scored_at"]["type"] == "date"
    assert fd["ttdf"]["type"] == "long"
    assert fd["model_scores"]["properties"]["fraudstream"]["type"] == "integer"
    assert fd["model_scores"]["properties"]["fraudstream"]["type"] == "integer"
    assert fd["rule_results"]["properties"]["high_score"]["type"] == "keyword"
    assert fd["contributions"]["properties"]["feature"]["type"] == "keyword"
    # Additive contract changes are accepted, as keywords (no date detection).
    assert properties["new_string_field"]["type"] == "keyword"


async def test_indices_whose_names_share_a_prefix_each_get_their_template(
    opensearch_client: AsyncOpenSearch, index_name: str
) -> None:
    regional = f"{index_name}-eu"
    try:
        await ensure_index(opensearch_client, index_name)
        # A second deployment's indexer on the same cluster (OpenSearch refuses
        # overlapping template patterns of the same priority).
        await ensure_index(opensearch_client, regional)
        mappings = await opensearch_client.indices.get_mapping(index=f"{index_name},{regional}")
        for name in (index_name, regional):
            assert mappings[name]["mappings"]["properties"]["event_time"]["type"] == "date"
    finally:
        await opensearch_client.indices.delete(index=regional, ignore_unavailable=True)
        await opensearch_client.indices.delete_index_template(
            name=template_name(regional), ignore=[404])


async def test_replayed_decisions_overwrite_and_never_duplicate(
    opensearch_client: AsyncOpenSearch, index_name: str
) -> None:
    await ensure_index(opensearch_client, index_name)
    documents = _documents(12)
    indexer = _indexer(opensearch_client, index_name)
    assert await indexer.index_documents(documents) == []
    assert await indexer.index_documents(documents) == []  # the replay

    assert await _count(opensearch_client, index_name) == 12
    result = await opensearch_client.search(
        index=index_name, body={"size": 50, "_source": ["event_id"]})
    hits = result["hits"]["hits"]
    assert sorted(hit["_id"] for hit in hits) == sorted(doc_id for doc_id, _ in documents)
    assert all(hit["_id"] == hit["_source"]["event_id"] for hit in hits)
    blocked = await opensearch_client.count(
        index=index_name, body={"query": {"term": {"fd.outcome": "block"}}})
    assert blocked["count"] == 4


async def test_a_document_that_violates_the_mapping_is_rejected_and_the_rest_indexed(
    opensearch_client: AsyncOpenSearch, index_name: str
) -> None:
    await ensure_index(opensearch_client, index_name)
    documents = _documents(5)
    too_large = make_decision(score=10**12)  # valid for the contract, not for an integer
    documents.insert(2, (document_id(too_large), to_document(too_large)))

    rejected = await _indexer(opensearch_client, index_name).index_documents(documents)

    assert [position for position, _ in rejected] == [2]
    assert "mapper_parsing_exception" in rejected[0][1]
    assert "fd.model_scores.fraudstream" in rejected[0][1]
    assert await _count(opensearch_client, index_name) == 5


async def test_throttled_items_are_retried_until_the_index_accepts_them(
    opensearch_client: AsyncOpenSearch, index_name: str
) -> None:
    await ensure_index(opensearch_client, index_name)
    # The flood-stage block makes OpenSearch answer every item with 429.
    await opensearch_client.indices.put_settings(
        index=index_name, body={"index.blocks.read_only_allow_delete": True})
    indexer = _indexer(opensearch_client, index_name)
    task = asyncio.create_task(indexer.index_documents(_documents(8)))
    try:
        error = await poll_until(lambda: _last_error(indexer), "the bulk request to be retried")
        assert "429" in str(error)
        assert not task.done()
    finally:
        await opensearch_client.indices.put_settings(
            index=index_name, body={"index.blocks.read_only_allow_delete": None})
    assert await asyncio.wait_for(task, timeout=30) == []
    assert indexer.last_error is None
    assert await _count(opensearch_client, index_name) == 8


async def _last_error(indexer: BulkIndexer) -> str | None:
    error: str | None = indexer.last_error
    return error
