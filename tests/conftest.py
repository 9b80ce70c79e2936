"""Session-wide fixtures: one real Kafka and one real OpenSearch for the whole run.

The servers are the ones ``make infra-up`` (or ``make test``) started; their
addresses come from ``KAFKA_BOOTSTRAP_SERVERS`` and ``OPENSEARCH_URL``.
Every test gets unique topic and index names from the factories, so tests never
see each other's data.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlparse

import pytest

KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def unique_name(prefix: str) -> str:
    """A name no other test (or earlier run) uses: ``prefix-<8 hex>``."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real local Kafka's bootstrap address; fails clearly when it is down."""
    host, _, port = KAFKA_BOOTSTRAP.split(",")[0].rpartition(":")
    if not _reachable(host, int(port)):
        pytest.fail(f"Kafka is not reachable at {KAFKA_BOOTSTRAP}: run `make infra-up` first")
    return KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def opensearch_url() -> str:
    """The real local OpenSearch's URL; fails clearly when it is down."""
    parsed = urlparse(OPENSEARCH_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 9200):
        pytest.fail(f"OpenSearch is not reachable at {OPENSEARCH_URL}: run `make infra-up` first")
    return OPENSEARCH_URL


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def topic_factory(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """Create uniquely named topics on the real broker; deleted after the test."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def make(prefix: str = "test", partitions: int = 3, **config: str) -> str:
        name = unique_name(prefix)
        await admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1,
                      topic_configs=config)]
        )
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


IndexFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def opensearch_client(opensearch_url: str) -> AsyncIterator[object]:
    """An async opensearch-py client for the real local node."""
    from opensearchpy import AsyncOpenSearch

    client = AsyncOpenSearch(hosts=[opensearch_url], timeout=30)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def index_factory(opensearch_client: object) -> AsyncIterator[IndexFactory]:
    """Create uniquely named indices; deleted after the test."""
    created: list[str] = []

    async def make(prefix: str = "test", body: dict[str, object] | None = None) -> str:
        name = unique_name(prefix)
        await opensearch_client.indices.create(index=name, body=body or {})  # type: ignore[attr-defined]
        created.append(name)
        return name

    try:
        yield make
    finally:
        for name in created:
            await opensearch_client.indices.delete(index=name, ignore_unavailable=True)  # type: ignore[attr-defined]
