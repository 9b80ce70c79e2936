"""The notifier against the real Kafka and the real mailcatcher SMTP server.

One e-mail per blocked decision, none for the others; none again when the same
decisions are delivered a second time (same worker) or re-read from the start by
a new consumer group (the sent history is restored from the compacted topic);
and a decision whose alert cannot be sent lands in the real DLQ.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY

from fraudstream_shared.events import DeadLetter, decode
from fraudstream_shared.kafka import create_producer
from notifier.channels import SmtpChannel
from notifier.sent import SentRecord
from notifier.settings import NotifierSettings
from notifier.worker import NotifierWorker
from tests.conftest import TopicFactory, unique_name
from tests.support.polling import poll_until
from tests.unit.test_notifier.decisions import decision_payload

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SUBJECT = "FRAUD ALERT: Transaction has been flagged!"
PARTITIONS = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailCatcher:
    """The real ``infra/local/mailcatcher.py`` running as a subprocess."""

    def __init__(self, smtp_port: int, http_port: int) -> None:
        self.smtp_port = smtp_port
        self.api = f"http://127.0.0.1:{http_port}/api/messages"

    async def messages(self) -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(self.api)
            response.raise_for_status()
            result: list[dict[str, Any]] = response.json()
            return result


@pytest.fixture
def mailcatcher(tmp_path: Path) -> Iterator[MailCatcher]:
    smtp_port, http_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, str(REPO / "infra/local/mailcatcher.py"), "--smtp-port", str(smtp_port),
         "--http-port", str(http_port), "--dir", str(tmp_path / "mail")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    catcher = MailCatcher(smtp_port, http_port)
    try:
        deadline = 200
        for _ in range(deadline):
            assert process.poll() is None, "mailcatcher exited at start"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(catcher.api, timeout=1).status_code == 200:
                    break
            subprocess.run(["sleep", "0.1"], check=True)
        else:
            pytest.fail("mailcatcher did not answer")
        yield catcher
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0, "mailcatcher did not stop cleanly on SIGTERM"


@pytest.fixture
async def extra_topics(kafka_bootstrap: str) -> AsyncIterator[list[str]]:
    """Topics the worker creates itself (sent, DLQ): deleted after the test."""
    names: list[str] = []
    yield names
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


async def _notifier_topics(topic_factory: TopicFactory, extra_topics: list[str]
                           ) -> tuple[str, str, str]:
    """A new decisions topic, and the sent and DLQ topics the worker will create for it.

    The last two are deleted after the test (``extra_topics``).
    """
    decisions = await topic_factory("decisions", partitions=PARTITIONS)
    sent, dlq = unique_name("notified"), f"{decisions}.dlq"
    extra_topics += [sent, dlq]
    return decisions, sent, dlq


def _settings(bootstrap: str, decisions: str, sent: str, **values: Any) -> NotifierSettings:
    return NotifierSettings(
        kafka_bootstrap_servers=bootstrap,
        kafka_consumer_group=unique_name("notifier-group"),
        kafka_topic_partitions=PARTITIONS,
        decisions_topic=decisions,
        notifier_sent_topic=sent,
        alert_to=["soc@bank.test"],
        **values,
    )


@contextlib.asynccontextmanager
async def running(settings: NotifierSettings) -> AsyncIterator[NotifierWorker]:
    """The worker in-process: started, looping, then drained and closed."""
    worker = NotifierWorker(settings)
    try:
        await worker.start()
    except BaseException:
        await worker.close()
        raise
    task = asyncio.create_task(worker.run())
    worker.__dict__["_test_task"] = task
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(task, timeout=30)
        await worker.close()


def _check_alive(worker: NotifierWorker) -> None:
    task: asyncio.Task[None] = worker.__dict__["_test_task"]
    if task.done():
        raise AssertionError(f"worker loop stopped: {task.exception()!r}")


async def _produce(bootstrap: str, topic: str, payloads: list[dict[str, Any] | bytes]) -> dict[
        str, int]:
    """Produce values keyed by entity id; returns event_id → partition."""
    producer = create_producer(NotifierSettings(kafka_bootstrap_servers=bootstrap))
    await producer.start()
    partitions: dict[str, int] = {}
    try:
        for payload in payloads:
            if isinstance(payload, bytes):
                await producer.send_and_wait(topic, value=payload, key=b"junk")
                continue
            meta = await producer.send_and_wait(
                topic, value=json.dumps(payload).encode(), key=payload["entity_id"].encode())
            partitions[payload["event_id"]] = meta.partition
    finally:
        await producer.stop()
    return partitions


async def _read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of ``topic`` up to its current end (group-less)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        # The worker creates its sent and DLQ topics like the decisions topic.
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        remaining = [tp for tp in tps if end[tp] > 0]
        while remaining:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
            remaining = [tp for tp in remaining if await consumer.position(tp) < end[tp]]
        return records
    finally:
        await consumer.stop()


async def _caught_up(bootstrap: str, worker: NotifierWorker, topic: str) -> bool:
    """The worker's group has committed up to the end of every partition of ``topic``."""
    _check_alive(worker)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        end = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(worker.settings.consumer_group)
        # An empty partition has nothing to commit.
        return all((committed[tp].offset if tp in committed else 0) >= end[tp] for tp in tps)
    finally:
        await consumer.stop()
        await admin.close()


def _event_ids(messages: list[dict[str, Any]]) -> list[str]:
    ids = []
    for message in messages:
        match = re.search(r"^TransactionID: (\S+)$", message["body"], re.MULTILINE)
        assert match, message["body"]
        ids.append(match.group(1))
    return ids


def _counter(name: str, **labels: str) -> float:
    """The notifier's counter ``name`` with ``labels`` (0 before its first increment)."""
    value = REGISTRY.get_sample_value(name, {"service": "notifier", **labels})
    return value or 0.0


def _alerts(result: str) -> float:
    return _counter("fraudstream_alerts_total", channel="smtp", result=result)


async def test_one_email_per_blocked_decision_even_when_redelivered(
    kafka_bootstrap: str, topic_factory: TopicFactory, mailcatcher: MailCatcher,
    extra_topics: list[str],
) -> None:
    decisions, sent, _ = await _notifier_topics(topic_factory, extra_topics)
    blocked = [decision_payload("block", entity_id=f"100-00-000{i}") for i in range(3)]
    others = [decision_payload(outcome, entity_id=f"200-00-000{i}")
              for i, outcome in enumerate(["approve", "review", "approve"])]
    partition_of = await _produce(kafka_bootstrap, decisions, [*blocked, *others])
    blocked_ids = sorted(p["event_id"] for p in blocked)
    settings = _settings(kafka_bootstrap, decisions, sent, smtp_port=mailcatcher.smtp_port)

    async with running(settings) as worker:
        async def three_emails() -> list[dict[str, Any]]:
            _check_alive(worker)
            messages = await mailcatcher.messages()
            return messages if len(messages) >= 3 else []

        messages = await poll_until(three_emails, "an e-mail per blocked decision")
        assert await worker.readiness() == {"kafka": None, "partitions": None, "smtp": None}

        # Kafka redelivers: the very same decisions arrive again.
        duplicates_before = _alerts("duplicate")
        await _produce(kafka_bootstrap, decisions, [*blocked, *others])
        await poll_until(lambda: _caught_up(kafka_bootstrap, worker, decisions),
                         "the redelivered decisions to be committed")
        assert _alerts("duplicate") - duplicates_before == 3

    assert sorted(_event_ids(messages)) == blocked_ids
    assert {m["subject"] for m in messages} == {SUBJECT}
    assert all(m["to"] == ["soc@bank.test"] for m in messages)

    # A new group re-reads everything from the start: the sent history is
    # restored from the compacted topic, so nothing is sent again.
    duplicates_before = _alerts("duplicate")
    fresh = _settings(kafka_bootstrap, decisions, sent, smtp_port=mailcatcher.smtp_port)
    async with running(fresh) as again:
        await poll_until(lambda: _caught_up(kafka_bootstrap, again, decisions),
                         "a fresh group to re-read every decision")
    assert _alerts("duplicate") - duplicates_before == 6
    assert sorted(_event_ids(await mailcatcher.messages())) == blocked_ids

    records = await _read_all(kafka_bootstrap, sent)
    assert sorted(r.key.decode() for r in records) == blocked_ids
    for record in records:
        value = decode(SentRecord, record.value)
        assert record.partition == partition_of[value.event_id] == value.source_partition


async def test_a_burst_of_alerts_goes_out_concurrently_once_per_event(
    kafka_bootstrap: str, topic_factory: TopicFactory, mailcatcher: MailCatcher,
    extra_topics: list[str],
) -> None:
    decisions, sent, _ = await _notifier_topics(topic_factory, extra_topics)
    blocked = [decision_payload("block", entity_id=f"300-00-{i:04d}") for i in range(40)]
    others = [decision_payload("approve", entity_id=f"400-00-{i:04d}") for i in range(20)]
    # Every blocked decision twice, before the worker starts: copies share batches.
    await _produce(kafka_bootstrap, decisions, [*blocked, *others, *blocked])
    blocked_ids = sorted(p["event_id"] for p in blocked)
    duplicates_before = _alerts("duplicate")
    settings = _settings(kafka_bootstrap, decisions, sent, smtp_port=mailcatcher.smtp_port,
                         notifier_concurrency=4)

    async with running(settings) as worker:
        await poll_until(lambda: _caught_up(kafka_bootstrap, worker, decisions),
                         "every decision handled and committed")
        channel = worker.channel
        assert isinstance(channel, SmtpChannel)
        # Alerts overlapped (each in-flight alert needs a session of its own),
        # never more than NOTIFIER_CONCURRENCY at once.
        assert 2 <= channel.sessions_opened <= 4

    assert sorted(_event_ids(await mailcatcher.messages())) == blocked_ids
    assert _alerts("duplicate") - duplicates_before == 40
    # One sent record per event: no copy was sent, even concurrently with its first.
    records = await _read_all(kafka_bootstrap, sent)
    assert sorted(r.key.decode() for r in records) == blocked_ids


class Rejecting:
    """An aiosmtpd handler that refuses every message for good (a real SMTP 550 reply)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "550 5.7.1 Message rejected by policy"


@pytest.fixture
def rejecting_smtp() -> Iterator[int]:
    """A real SMTP server (aiosmtpd) that answers 550 to every message; yields its port."""
    from aiosmtpd.controller import Controller

    controller = Controller(Rejecting(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield int(controller.port)
    finally:
        controller.stop()


async def test_rejected_alert_and_poison_go_to_the_dead_letter_topic(
    kafka_bootstrap: str, topic_factory: TopicFactory, extra_topics: list[str],
    rejecting_smtp: int,
) -> None:
    decisions, sent, dlq = await _notifier_topics(topic_factory, extra_topics)
    blocked = decision_payload("block")
    # The same decision twice in one batch: the copy waits for the first and
    # shares its fate (dead-lettered too, not skipped as a duplicate).
    await _produce(kafka_bootstrap, decisions,
                   [blocked, decision_payload("approve"), b"{not json", blocked])
    settings = _settings(kafka_bootstrap, decisions, sent, smtp_port=rejecting_smtp,
                         smtp_timeout_s=2, notifier_max_attempts=2,
                         notifier_backoff_base_s=0.01, notifier_backoff_cap_s=0.05)

    async with running(settings) as worker:
        await poll_until(lambda: _caught_up(kafka_bootstrap, worker, decisions),
                         "every decision handled and committed")
        # A 550 is an answer: the channel itself is up.
        assert (await worker.readiness())["smtp"] is None

    letters = [decode(DeadLetter, r.value) for r in await _read_all(kafka_bootstrap, dlq)]
    assert sorted(letter.reason for letter in letters) == [
        "invalid_json", "notification_failed", "notification_failed"]
    failed = [letter for letter in letters if letter.reason == "notification_failed"]
    assert len({letter.source_offset for letter in failed}) == 2
    for letter in failed:
        assert letter.source_topic == decisions
        assert "rejected by smtp" in letter.error
        assert "550" in letter.error
        assert json.loads(letter.original_value() or b"")["event_id"] == blocked["event_id"]
    assert await _read_all(kafka_bootstrap, sent) == []


def _decisions_seen(outcome: str) -> float:
    return _counter("fraudstream_notifier_decisions_total", outcome=outcome)


async def test_only_alerts_are_decoded_in_full_and_unreadable_outcomes_are_dead_lettered(
    kafka_bootstrap: str, topic_factory: TopicFactory, mailcatcher: MailCatcher,
    extra_topics: list[str],
) -> None:
    decisions, sent, dlq = await _notifier_topics(topic_factory, extra_topics)
    blocked = decision_payload("block", entity_id="400-00-0001")
    broken_block = decision_payload("block", entity_id="400-00-0002", transaction_amt="lots")
    broken_approve = decision_payload("approve", entity_id="400-00-0003", transaction_amt="lots")
    no_outcome = json.dumps({"event_id": "no-outcome", "fd": {"model_version": "m-1"}}).encode()
    await _produce(kafka_bootstrap, decisions,
                   [blocked, broken_block, broken_approve, no_outcome, b"{not json"])
    settings = _settings(kafka_bootstrap, decisions, sent, smtp_port=mailcatcher.smtp_port)
    approve_before, block_before = _decisions_seen("approve"), _decisions_seen("block")

    async with running(settings) as worker:
        await poll_until(lambda: _caught_up(kafka_bootstrap, worker, decisions),
                         "every decision handled and committed")

    assert _event_ids(await mailcatcher.messages()) == [blocked["event_id"]]
    letters = [decode(DeadLetter, r.value) for r in await _read_all(kafka_bootstrap, dlq)]
    reasons = sorted((letter.reason, letter.original_value() or b"") for letter in letters)
    assert [reason for reason, _ in reasons] == [
        "invalid_json", "schema_violation", "schema_violation"]
    schema_values = {value for reason, value in reasons if reason == "schema_violation"}
    assert no_outcome in schema_values
    assert {json.loads(v).get("event_id") for v in schema_values} == {
        "no-outcome", broken_block["event_id"]}
    # The broken approve is read for its outcome only: counted, not dead-lettered
    # (the indexer decodes it in full and dead-letters it).
    assert _decisions_seen("approve") - approve_before == 1
    assert _decisions_seen("block") - block_before == 1


async def test_unreachable_smtp_waits_without_dead_lettering_then_catches_up(
    kafka_bootstrap: str, topic_factory: TopicFactory, extra_topics: list[str], tmp_path: Path,
) -> None:
    decisions, sent, dlq = await _notifier_topics(topic_factory, extra_topics)
    blocked = [decision_payload("block", entity_id=f"300-00-000{i}") for i in range(4)]
    await _produce(kafka_bootstrap, decisions, [*blocked, decision_payload("approve")])
    smtp_port, http_port = _free_port(), _free_port()
    settings = _settings(kafka_bootstrap, decisions, sent, smtp_port=smtp_port,
                         smtp_timeout_s=2, notifier_max_attempts=1,
                         notifier_backoff_base_s=0.05, notifier_backoff_cap_s=0.3)

    retried_before = _alerts_retried()
    async with running(settings) as worker:
        async def down_reported() -> bool:
            _check_alive(worker)
            return worker.channel_down is not None and _alerts_retried() - retried_before >= 10
        # Ten transient failures with max_attempts=1: an outage is not a rejection.
        await poll_until(down_reported, "the notifier to retry the unreachable SMTP server")
        readiness = await worker.readiness()
        assert readiness["smtp"] is not None
        assert "smtp" in readiness["smtp"]
        assert worker.is_alive(), "waiting for the channel is not a stuck loop"
        assert not await _caught_up(kafka_bootstrap, worker, decisions), "nothing committed"
        assert await _read_all(kafka_bootstrap, dlq) == []

        process = _start_catcher(smtp_port, http_port, tmp_path / "mail")
        try:
            catcher = MailCatcher(smtp_port, http_port)
            await poll_until(lambda: _caught_up(kafka_bootstrap, worker, decisions),
                             "the notifier to catch up once SMTP is back")
            assert (await worker.readiness())["smtp"] is None
            assert worker.channel_down is None
            messages = await catcher.messages()
        finally:
            process.terminate()
            process.wait(timeout=10)

    assert sorted(_event_ids(messages)) == sorted(p["event_id"] for p in blocked)
    assert await _read_all(kafka_bootstrap, dlq) == []


def _start_catcher(smtp_port: int, http_port: int, directory: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "infra/local/mailcatcher.py"), "--smtp-port",
         str(smtp_port), "--http-port", str(http_port), "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _alerts_retried() -> float:
    value = REGISTRY.get_sample_value("fraudstream_messages_failed_total",
                                      {"service": "notifier", "stage": "notify"})
    return value or 0.0
