"""Helpers for the fault-injection tests: a private Kafka/OpenSearch, decisions, mail, logs.

Anything that stops a broker or makes OpenSearch unreachable runs against a
*private* instance started here with ``infra/local/stack.py`` on free ports in
a temporary ``FS_LOCAL_DIR`` — never against the shared servers other people's
tests use. The Maven build of the shared ``.local/build`` is copied (mtimes
kept) so that the private stack starts without rebuilding.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opensearchpy import AsyncOpenSearch

from tests.e2e.processes import REPO, free_port
from tests.unit.test_notifier.decisions import decision_payload

STACK = REPO / "infra" / "local" / "stack.py"
SHARED_BUILD = REPO / ".local" / "build"

# -- size of the fault runs ---------------------------------------------------

CI_EVENTS = 20_000
"""The default of ``FAULT_EVENTS``: the central scenario's size in ``make test``."""


def requested_events() -> int:
    """``FAULT_EVENTS`` from the environment (``make soak`` sets 100,000), else the CI size."""
    value = int(os.environ.get("FAULT_EVENTS", CI_EVENTS))
    if value < 100:
        raise ValueError(f"FAULT_EVENTS={value}: a fault run needs at least 100 events")
    return value


def fault_events(ci_size: int = CI_EVENTS) -> int:
    """Events for one fault test, from the single setting ``FAULT_EVENTS``.

    A test that is too slow to run at the CI size in ``make test`` passes its
    own smaller ``ci_size``: it runs at that size unless ``FAULT_EVENTS`` asks
    for more than the CI size (a soak run), in which case every fault test runs
    at ``FAULT_EVENTS``. A smaller ``FAULT_EVENTS`` (a quick local run) caps
    every test.
    """
    requested = requested_events()
    return requested if requested > CI_EVENTS else min(ci_size, requested)


def scaled_timeout(events: int, base_s: float = 120.0, per_1000_s: float = 15.0) -> float:
    """A wait bound for work proportional to ``events``: generous on a loaded 2-core
    machine (a failure bound, never a speed assertion)."""
    return base_s + per_1000_s * events / 1000


def blocked_every(events: int) -> int:
    """One decision in this many is a block in the sink tests: 1 in 10, but at most
    ~2,000 alerts a run (the notifier sends ~20 mails/s on a loaded 2-core machine,
    so a soak's 10,000 would take ten minutes per test)."""
    return max(10, events // 2000)


def run_timeout(*waits_s: float) -> int:
    """A pytest-timeout for a test whose waits are ``waits_s`` (plus start-ups)."""
    return int(sum(waits_s) + 180)


@dataclass
class PrivateStack:
    """A Kafka and/or OpenSearch of our own, started and stopped with stack.py."""

    local_dir: Path
    kafka_port: int
    kafka_controller_port: int
    opensearch_port: int
    opensearch_transport_port: int

    @classmethod
    def create(cls, local_dir: Path) -> PrivateStack:
        """Free ports and a local dir seeded with the shared build (no Maven run)."""
        if SHARED_BUILD.exists() and not (local_dir / "build").exists():
            shutil.copytree(SHARED_BUILD, local_dir / "build", symlinks=True)
        return cls(local_dir, free_port(), free_port(), free_port(), free_port())

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def opensearch_url(self) -> str:
        return f"http://127.0.0.1:{self.opensearch_port}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "FS_LOCAL_DIR": str(self.local_dir),
                "KAFKA_PORT": str(self.kafka_port),
                "KAFKA_CONTROLLER_PORT": str(self.kafka_controller_port),
                "OPENSEARCH_PORT": str(self.opensearch_port),
                "OPENSEARCH_TRANSPORT_PORT": str(self.opensearch_transport_port)}

    def run(self, command: str, *components: str) -> float:
        """``stack.py <command> <components>`` on this private stack; seconds it took."""
        started = time.monotonic()
        proc = subprocess.run([sys.executable, str(STACK), command, *components],
                              env=self._env(), capture_output=True, text=True, timeout=240)
        if proc.returncode != 0:
            raise AssertionError(f"stack.py {command} {components} failed:\n"
                                 f"{proc.stdout}{proc.stderr}")
        return time.monotonic() - started

    def up(self, *components: str) -> float:
        return self.run("up", *components)

    def down(self, *components: str) -> float:
        return self.run("down", *components)


def start_mailcatcher(directory: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """The local SMTP catcher as a real process: (process, SMTP port, HTTP API URL)."""
    smtp_port, http_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "infra/local/mailcatcher.py", "--smtp-port", str(smtp_port),
         "--http-port", str(http_port), "--dir", str(directory)],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{http_port}"
    for _ in range(100):
        try:
            httpx.get(url + "/api/messages", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    return proc, smtp_port, url


NOTIFIER_CONCURRENCY = 4
"""Alerts in flight at once in the sink fault tests (the default); a crash
duplicates at most this many."""


def sink_environments(*, bootstrap: str, opensearch_url: str, decisions: str, partitions: int,
                      run: str, index: str, sent_topic: str, smtp_port: int
                      ) -> tuple[dict[str, str], dict[str, str]]:
    """The indexer's and the notifier's environments for a sink fault test.

    Small batches (50 documents, 20 mails) keep many commits in flight, so a
    fault always lands between two of them.
    """
    common = {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DECISIONS_TOPIC": decisions,
              "KAFKA_TOPIC_PARTITIONS": str(partitions)}
    indexer = {**common, "KAFKA_CONSUMER_GROUP": f"indexer-{run}",
               "OPENSEARCH_URL": opensearch_url, "OPENSEARCH_INDEX": index,
               "INDEXER_BULK_MAX_DOCS": "50", "INDEXER_BULK_MAX_INTERVAL_MS": "100"}
    notifier = {**common, "KAFKA_CONSUMER_GROUP": f"notifier-{run}",
                "NOTIFIER_SENT_TOPIC": sent_topic, "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(smtp_port), "NOTIFIER_MAX_BATCH": "20",
                "NOTIFIER_CONCURRENCY": str(NOTIFIER_CONCURRENCY)}
    return indexer, notifier


def make_decisions(n: int, blocked_every: int = 10, marker: str | None = None
                   ) -> list[dict[str, Any]]:
    """``n`` ProcessedTransaction payloads (validated by the contract model), 1 in
    ``blocked_every`` of them ``block``; event ids are unique and start with ``marker``."""
    from fraudstream_shared.events import ProcessedTransaction

    marker = marker or uuid.uuid4().hex[:8]
    out: list[dict[str, Any]] = []
    for i in range(n):
        outcome = "block" if i % blocked_every == 0 else ("review" if i % 7 == 0 else "approve")
        payload = decision_payload(outcome, event_id=f"{marker}-{i:06d}",
                                   entity_id=f"{i % 97:03d}-00-{i % 89:04d}")
        ProcessedTransaction.model_validate(payload)  # built with the contract
        out.append(payload)
    return out


async def produce_json(bootstrap: str, topic: str, payloads: list[dict[str, Any]],
                       *, pause_every: int = 0, pause_s: float = 0.0,
                       request_timeout_ms: int = 40_000) -> None:
    """Publish payloads keyed by entity id (idempotent producer), optionally paced.

    ``request_timeout_ms`` also bounds how long a record may wait for a broker
    that is away (aiokafka expires buffered batches after it)."""
    import asyncio

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5,
                                request_timeout_ms=request_timeout_ms)
    await producer.start()
    try:
        for i, payload in enumerate(payloads, 1):
            await producer.send(topic, json.dumps(payload).encode(),
                                key=payload["entity_id"].encode())
            if pause_every and i % pause_every == 0:
                await producer.flush()
                await asyncio.sleep(pause_s)
        await producer.flush()
    finally:
        await producer.stop()


async def indexed_ids(client: AsyncOpenSearch, index: str) -> list[str]:
    """Every document id in ``index`` (a scroll over all of them; duplicates would show)."""
    await client.indices.refresh(index=index)
    ids: list[str] = []
    page = await client.search(index=index, body={"query": {"match_all": {}}, "_source": False,
                                                  "size": 5000}, scroll="1m")
    try:
        while page["hits"]["hits"]:
            ids.extend(hit["_id"] for hit in page["hits"]["hits"])
            page = await client.scroll(scroll_id=page["_scroll_id"], scroll="1m")
    finally:
        await client.clear_scroll(scroll_id=page["_scroll_id"])
    return ids


async def doc_count(client: AsyncOpenSearch, index: str) -> int:
    """Documents in ``index`` after a refresh (0 while it does not exist yet)."""
    try:
        await client.indices.refresh(index=index)
        return int((await client.count(index=index))["count"])
    except Exception:  # not created yet, or OpenSearch restarting
        return 0


def alert_event_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The event id of each alert e-mail (its ``TransactionID:`` line), duplicates kept."""
    ids = []
    for message in messages:
        for line in message["body"].splitlines():
            if line.startswith("TransactionID: "):
                ids.append(line.removeprefix("TransactionID: ").strip())
    return ids


def mails(url: str) -> list[dict[str, Any]]:
    """Every message the catcher holds."""
    result: list[dict[str, Any]] = httpx.get(url + "/api/messages", timeout=10).json()
    return result


def log_events(path: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``path`` whose ``event`` is ``event``."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found


def iter_lines(path: Path) -> Iterator[str]:
    """Lines of a log file (empty if it does not exist yet)."""
    if path.exists():
        yield from path.read_text(errors="replace").splitlines()


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A private stack (nothing started yet); whatever a test started is stopped at the end."""
    stack = PrivateStack.create(tmp_path_factory.mktemp("private-stack"))
    try:
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="session")
def private_opensearch(private_stack: PrivateStack) -> PrivateStack:
    """The private stack with its OpenSearch up (~10-25 s the first time)."""
    private_stack.up("opensearch")
    return private_stack


# -- scorer runs: simulated input, committed output, offline feature replay ---

def simulated_transactions(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` simulated transactions from a small population (customers recur)."""
    return [tx for tx, _label in simulated_labelled(count, seed)]


def simulated_labelled(count: int, seed: int = 7) -> list[tuple[dict[str, Any], str]]:
    """``count`` simulated transactions with their labels (``fraud``/``legit``)."""
    from datetime import UTC, datetime, timedelta

    from producer.simulation import SimulationConfig, Simulator

    simulator = Simulator(SimulationConfig(n_customers=60, n_merchants=40), seed=seed)
    start = datetime.now(UTC) - timedelta(days=10)
    return [(tx, label.label) for tx, label in simulator.events(start, count=count)]


async def publish_transactions(bootstrap: str, topic: str,
                               events: list[dict[str, Any]]) -> None:
    """Publish ``events`` to ``topic`` keyed by ``entity_id`` (as the producer does)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        for tx in events:
            await producer.send(topic, json.dumps(tx).encode(), key=tx["entity_id"].encode())
        await producer.flush()
    finally:
        await producer.stop()


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """Create topics on ``bootstrap`` (auto-create is off on every stack we run)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1)
                                   for n in names])
    finally:
        await admin.close()


async def read_committed(bootstrap: str, topic: str, expected: int, timeout: float,
                         settle_ms: int = 2000) -> list[tuple[int, bytes]]:
    """(partition, value) of every committed record of ``topic``, in offset order per
    partition, once at least ``expected`` arrived (then ``settle_ms`` more for late extras)."""
    from aiokafka import AIOKafkaConsumer

    from tests.conftest import unique_name
    from tests.support.polling import poll_until

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=unique_name("reader"),
        auto_offset_reset="earliest", isolation_level="read_committed",
        enable_auto_commit=False)
    await consumer.start()
    seen: list[tuple[int, bytes]] = []
    try:
        async def enough() -> bool:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for batch in batches.values():
                seen.extend((r.partition, r.value) for r in batch if r.value is not None)
            return len(seen) >= expected
        await poll_until(enough, f"{expected} records on {topic}", timeout)
        batches = await consumer.getmany(timeout_ms=settle_ms, max_records=5000)
        for batch in batches.values():
            seen.extend((r.partition, r.value) for r in batch if r.value is not None)
    finally:
        await consumer.stop()
    return seen


async def committed_count(bootstrap: str, topic: str) -> int:
    """Committed records on ``topic`` right now: everything below each partition's last
    stable offset, read with ``read_committed`` (transaction markers and aborted
    records take offsets too, so the offsets alone cannot say)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed",
                                enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # no public refresh in aiokafka 0.14
        partitions = [TopicPartition(topic, p)
                      for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        stable = await consumer.end_offsets(partitions)  # the last stable offsets
        await consumer.seek_to_beginning(*partitions)
        count = 0

        async def behind() -> bool:
            return any([await consumer.position(tp) < stable[tp] for tp in partitions])
        while await behind():
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            count += sum(1 for batch in batches.values() for r in batch
                         if r.offset < stable[TopicPartition(r.topic, r.partition)])
        return count
    finally:
        await consumer.stop()


def decided_once(outputs: list[tuple[int, bytes]], event_ids: set[str]) -> list[Any]:
    """Assert each of ``event_ids`` was decided exactly once; the decisions, in read order."""
    from collections import Counter

    from fraudstream_shared.events import ProcessedTransaction

    decisions = [ProcessedTransaction.model_validate_json(value) for _p, value in outputs]
    counts = Counter(d.event_id for d in decisions)
    duplicated = {eid: n for eid, n in counts.items() if n > 1}
    assert not duplicated, f"{len(duplicated)} events decided more than once"
    missing = event_ids - set(counts)
    assert not missing, f"{len(missing)} events never decided"
    assert set(counts) == event_ids, "only the published events were decided"
    return decisions


NEVER_EXPIRE_S = str(100 * 365 * 86_400)
"""``SCORER_STATE_TTL_S`` for runs compared with :func:`feature_mismatches`: large runs
span months of event time, and the live store forgets idle entities at wall-clock
paced passes that an offline replay cannot mirror (expiry has its own tests)."""


def in_key_order(outputs: list[tuple[int, bytes]], inputs: list[tuple[int, bytes]]
                 ) -> list[str]:
    """Keys whose decisions are not in their input order (or not all on one partition).

    Both lists are in offset order per partition, as :func:`read_committed` returns them.
    """
    from collections import defaultdict

    def by_key(records: list[tuple[int, bytes]]) -> tuple[dict[str, list[str]],
                                                           dict[str, set[int]]]:
        order: dict[str, list[str]] = defaultdict(list)
        partitions: dict[str, set[int]] = defaultdict(set)
        for partition, value in records:
            payload = json.loads(value)
            order[payload["entity_id"]].append(payload["event_id"])
            partitions[payload["entity_id"]].add(partition)
        return order, partitions

    decided, decided_partitions = by_key(outputs)
    published, _ = by_key(inputs)
    return sorted(key for key in published
                  if decided.get(key) != published[key] or len(decided_partitions[key]) != 1)


def feature_mismatches(decisions: list[Any], inputs: list[tuple[int, bytes]]
                       ) -> list[tuple[str, dict[str, Any]]]:
    """Decisions whose features differ from an offline replay of each input partition
    (in offset order, fresh store per partition); merchant risk is excluded (it
    depends on when labels arrived)."""
    import math
    from collections import defaultdict

    from fraudstream_shared.events import Transaction
    from scorer.features import FEATURE_NAMES, FeatureStore
    from scorer.features.store import MERCHANT_RISK_NAMES, TxEvent

    stores: dict[int, FeatureStore] = defaultdict(FeatureStore)
    expected: dict[str, dict[str, float | None]] = {}
    for partition, value in inputs:
        tx = Transaction.model_validate_json(value)
        event = TxEvent.of(tx)
        row = stores[partition].row(event)
        stores[partition].update(event)
        expected[tx.event_id] = {
            name: (None if math.isnan(v) else v)
            for name, v in zip(FEATURE_NAMES, row, strict=True)
            if name not in MERCHANT_RISK_NAMES}
    mismatched = []
    for decision in decisions:
        online = {k: v for k, v in (decision.fd.features or {}).items()
                  if k not in MERCHANT_RISK_NAMES}
        want = expected[decision.event_id]
        if online != want:
            mismatched.append((decision.event_id,
                               {k: (online.get(k), v) for k, v in want.items()
                                if online.get(k) != v}))
    return mismatched
