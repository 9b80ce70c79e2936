"""Session-wide fixtures: one real Kafka and one real OpenSearch for the whole run.

The servers are the ones ``make infra-up`` (or ``make test``) started; their
addresses come from ``KAFKA_BOOTSTRAP_SERVERS`` and ``OPENSEARCH_URL``.
Every test gets unique topic and index names from the factories, so tests never
see each other's data.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import urllib.request
import uuid
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
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


_TOKENS: set[str] = set()
"""Every token :func:`unique_token` handed out in this session."""


def unique_token() -> str:
    """8 random hex digits for names of this test run (remembered for the clean-up)."""
    token = uuid.uuid4().hex[:8]
    _TOKENS.add(token)
    return token


def unique_name(prefix: str) -> str:
    """A name no other test (or earlier run) uses: ``prefix-<8 hex>``."""
    return f"{prefix}-{unique_token()}"


def left_by_tests(before: set[str], now: set[str]) -> list[str]:
    """Names that appeared during the session and hold one of its tokens.

    A token is in every name derived from one (a service's ``<topic>.dlq``, its
    ``<group>-changelog``, an indexer's template). Anything else (the pipeline's
    own topics of a ``make run`` beside the tests, another test session's names,
    names that existed before) is left alone.
    """
    return sorted(name for name in now - before if any(t in name for t in _TOKENS))


async def _kafka_topics(bootstrap: str, delete: Callable[[set[str]], list[str]] | None = None
                        ) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = set(await admin.list_topics())
        if delete is not None:
            doomed = delete(names)
            if doomed:
                await admin.delete_topics(doomed)
        return names
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The real local Kafka's bootstrap address; fails clearly when it is down.

    Topics the session's tests and the services they started created (those
    with a unique-name token) are deleted at the end, so a long-lived local
    broker does not pile up thousands of partitions over many runs.
    """
    host, _, port = KAFKA_BOOTSTRAP.split(",")[0].rpartition(":")
    if not _reachable(host, int(port)):
        pytest.fail(f"Kafka is not reachable at {KAFKA_BOOTSTRAP}: run `make infra-up` first")
    before = asyncio.run(_kafka_topics(KAFKA_BOOTSTRAP))
    yield KAFKA_BOOTSTRAP
    try:
        asyncio.run(_kafka_topics(KAFKA_BOOTSTRAP, lambda now: left_by_tests(before, now)))
    except Exception as exc:  # housekeeping: never fail the tests' outcome over it
        warnings.warn(f"could not delete the session's topics: {exc!r}", stacklevel=1)


def _opensearch(url: str, method: str, path: str) -> object:
    request = urllib.request.Request(url.rstrip("/") + path, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"null")


def _indices_and_templates(url: str) -> tuple[set[str], set[str]]:
    indices = _opensearch(url, "GET", "/_cat/indices?format=json&h=index")
    templates = _opensearch(url, "GET", "/_index_template")
    return ({str(i["index"]) for i in indices},  # type: ignore[attr-defined]
            {str(t["name"]) for t in templates["index_templates"]})  # type: ignore[index]


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """The real local OpenSearch's URL; fails clearly when it is down.

    Indices and index templates that tests created during the session (those
    with a unique-name token) are deleted at the end.
    """
    parsed = urlparse(OPENSEARCH_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 9200):
        pytest.fail(f"OpenSearch is not reachable at {OPENSEARCH_URL}: run `make infra-up` first")
    indices, templates = _indices_and_templates(OPENSEARCH_URL)
    yield OPENSEARCH_URL
    try:
        indices_now, templates_now = _indices_and_templates(OPENSEARCH_URL)
        for name in left_by_tests(indices, indices_now):
            _opensearch(OPENSEARCH_URL, "DELETE", f"/{name}?ignore_unavailable=true")
        for name in left_by_tests(templates, templates_now):
            _opensearch(OPENSEARCH_URL, "DELETE", f"/_index_template/{name}")
    except Exception as exc:  # housekeeping: never fail the tests' outcome over it
        warnings.warn(f"could not delete the session's indices: {exc!r}", stacklevel=1)


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
