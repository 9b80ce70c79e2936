"""Fixtures for the indexer's integration tests: a unique index, cleaned up with its template."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opensearchpy import AsyncOpenSearch

from indexer.opensearch import template_name
from tests.conftest import unique_name


@pytest.fixture
async def index_name(opensearch_client: AsyncOpenSearch) -> AsyncIterator[str]:
    """A unique index name; the index and its template are deleted after the test."""
    name = unique_name("itest-indexer")
    try:
        yield name
    finally:
        await opensearch_client.indices.delete(index=f"{name}*", ignore_unavailable=True)
        await opensearch_client.indices.delete_index_template(
            name=template_name(name), ignore=[404]
        )
