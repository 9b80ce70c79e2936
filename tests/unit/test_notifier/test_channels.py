"""The channels: SNS request shape (botocore's own model), moto, SMTP errors and e-mails."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import aiosmtplib
import boto3
import botocore.session
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from fraudstream_shared.exceptions import RetryableError
from notifier.alerts import format_alert
from notifier.channels import (
    SendRejected,
    SmtpChannel,
    SnsChannel,
    smtp_error_is_permanent,
    sns_error_is_permanent,
    sns_publish_params,
    stable_id,
)
from notifier.settings import NotifierSettings
from tests.support.moto import moto_server, use_fake_credentials
from tests.support.polling import poll_until
from tests.unit.test_notifier.decisions import decision

TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:fraud-alerts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _settings(**values: Any) -> NotifierSettings:
    return NotifierSettings(**values)


# ----------------------------------------------------------------------------- SNS shape


def test_publish_params_match_the_sns_service_model() -> None:
    alert = format_alert(decision(event_id="ev-1"))
    params = sns_publish_params(alert, TOPIC_ARN)
    client = botocore.session.get_session().create_client(
        "sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        stubber.add_response("publish", {"MessageId": "m-1"}, expected_params=params)
        # botocore validates the parameters against the SNS model before the stub answers.
        response = client.publish(**params)
        stubber.assert_no_pending_responses()
    assert response["MessageId"] == "m-1"
    assert params == {"TopicArn": TOPIC_ARN, "Subject": alert.subject, "Message": alert.body}


def test_fifo_topics_get_a_group_and_a_dedup_id() -> None:
    alert = format_alert(decision(event_id="ev-1"))
    params = sns_publish_params(alert, TOPIC_ARN + ".fifo")
    assert params["MessageDeduplicationId"] == stable_id("ev-1")
    client = botocore.session.get_session().create_client(
        "sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        stubber.add_response("publish", {"MessageId": "m-2"}, expected_params=params)
        client.publish(**params)


@pytest.mark.parametrize(
    ("code", "status", "permanent"),
    [
        ("Throttling", 400, False),
        ("InternalError", 500, False),
        ("InvalidParameter", 400, True),
        ("AuthorizationError", 403, True),
    ],
)
def test_sns_error_classification(code: str, status: int, permanent: bool) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Publish",
    )
    assert sns_error_is_permanent(error) is permanent


# ----------------------------------------------------------------------------- SNS on moto


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_fake_credentials(monkeypatch)
    with moto_server() as endpoint:
        yield endpoint


def _topic_to_queue(endpoint: str, name: str) -> tuple[str, Any, str]:
    """An SNS topic on moto with an SQS queue subscribed: its ARN, the SQS client, the queue."""
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=endpoint)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, sqs, queue_url


async def test_sns_channel_publishes_through_aioboto3(moto_endpoint: str) -> None:
    topic_arn, sqs, queue_url = _topic_to_queue(moto_endpoint, "fraud-alerts")

    channel = SnsChannel(_settings(notifier_channel="sns", sns_topic_arn=topic_arn,
                                   aws_endpoint_url=moto_endpoint))
    assert await channel.check() == "sns client not created"
    await channel.start()
    try:
        assert await channel.check() is None
        alert = format_alert(decision(event_id="ev-moto"))
        await channel.send(alert)
    finally:
        await channel.close()

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    envelope = json.loads(messages[0]["Body"])
    assert envelope["Subject"] == "FRAUD ALERT: Transaction has been flagged!"
    assert envelope["Message"] == alert.body
    assert "TransactionID: ev-moto" in envelope["Message"]


async def test_sns_channel_publishes_concurrent_alerts_each_once(moto_endpoint: str) -> None:
    topic_arn, sqs, queue_url = _topic_to_queue(moto_endpoint, "fraud-alerts-burst")

    channel = SnsChannel(_settings(notifier_channel="sns", sns_topic_arn=topic_arn,
                                   aws_endpoint_url=moto_endpoint, notifier_concurrency=16))
    await channel.start()
    try:
        # More at once than botocore's default pool of 10 connections: the pool grows.
        assert channel._client.meta.config.max_pool_connections == 16
        await asyncio.gather(*(channel.send(format_alert(decision(event_id=f"ev-{i}")))
                               for i in range(16)))
    finally:
        await channel.close()

    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10
                                       ).get("Messages", []):
        bodies += [json.loads(m["Body"])["Message"] for m in batch]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(batch)])
    sent = sorted(line for body in bodies for line in body.splitlines()
                  if line.startswith("TransactionID: "))
    assert sent == sorted(f"TransactionID: ev-{i}" for i in range(16))


async def test_sns_channel_rejects_a_missing_topic(moto_endpoint: str) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    channel = SnsChannel(_settings(notifier_channel="sns", sns_topic_arn=missing,
                                   aws_endpoint_url=moto_endpoint))
    await channel.start()
    try:
        with pytest.raises(SendRejected, match="NotFound"):
            await channel.send(format_alert(decision()))
    finally:
        await channel.close()


# ----------------------------------------------------------------------------- SMTP


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (aiosmtplib.SMTPResponseException(550, "no such user"), True),
        (aiosmtplib.SMTPResponseException(451, "try later"), False),
        (aiosmtplib.SMTPConnectError("refused"), False),
        (aiosmtplib.SMTPServerDisconnected("gone"), False),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), True),
        (aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(550, "x", "a@b")]), True),
        (aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(450, "x", "a@b")]), False),
    ],
)
def test_smtp_error_classification(error: BaseException, permanent: bool) -> None:
    assert smtp_error_is_permanent(error) is permanent


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


async def test_smtp_channel_sends_and_probes_a_real_server() -> None:
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        channel = SmtpChannel(_settings(smtp_port=port, alert_to=["soc@bank.test"]))
        assert await channel.check() is None
        await channel.send(format_alert(decision(event_id="ev-smtp")))
    finally:
        controller.stop()
    [(recipients, raw)] = inbox.messages
    assert recipients == ["soc@bank.test"]
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "FRAUD ALERT: Transaction has been flagged!"
    assert "TransactionID: ev-smtp" in parsed.get_body().get_content()  # type: ignore[union-attr]


async def test_smtp_channel_unreachable_is_retryable() -> None:
    channel = SmtpChannel(_settings(smtp_port=_free_port(), smtp_timeout_s=2))
    with pytest.raises(RetryableError):
        await channel.send(format_alert(decision()))
    problem = await channel.check()
    assert problem is not None
    assert "unreachable" in problem


class _CountingInbox(_Inbox):
    """An inbox that also counts SMTP sessions (EHLOs) and polite goodbyes (QUITs)."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0
        self.quits = 0

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if b"ev-reject-me" in envelope.content:
            return "554 rejected as spam"
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def _smtp_server(handler: object, controller: type[Controller] = Controller) -> Iterator[int]:
    """A real SMTP server (aiosmtpd) on a free port, with ``handler``; yields the port."""
    port = _free_port()
    server = controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


@pytest.fixture
def counting_server() -> Iterator[tuple[_CountingInbox, int]]:
    inbox = _CountingInbox()
    with _smtp_server(inbox) as port:
        yield inbox, port


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _send(channel: SmtpChannel, *event_ids: str) -> None:
    for event_id in event_ids:
        await channel.send(format_alert(decision(event_id=event_id)))


async def test_alerts_share_one_smtp_session_until_its_message_cap(
    counting_server: tuple[_CountingInbox, int],
) -> None:
    inbox, port = counting_server
    channel = SmtpChannel(_settings(smtp_port=port, smtp_max_messages_per_connection=3))
    await _send(channel, *(f"ev-{i}" for i in range(7)))
    await channel.close()
    assert len(inbox.messages) == 7
    # 3 + 3 + 1 alerts: a full session is closed with QUIT and a new one opened.
    assert inbox.sessions == channel.sessions_opened == 3
    assert inbox.quits == 3


async def test_an_idle_smtp_session_is_replaced_before_the_next_alert(
    counting_server: tuple[_CountingInbox, int],
) -> None:
    inbox, port = counting_server
    clock = _Clock()
    channel = SmtpChannel(_settings(smtp_port=port, smtp_idle_close_s=30), clock=clock)
    await _send(channel, "ev-1")
    clock.now += 29
    await _send(channel, "ev-2")
    assert inbox.sessions == 1
    clock.now += 31
    await _send(channel, "ev-3")
    await channel.close()
    assert inbox.sessions == 2
    assert [raw.count(b"ev-") > 0 for _, raw in inbox.messages] == [True] * 3


async def test_a_broken_smtp_session_fails_once_then_a_fresh_one_delivers() -> None:
    inbox, port = _CountingInbox(), _free_port()
    first = Controller(inbox, hostname="127.0.0.1", port=port)
    first.start()
    channel = SmtpChannel(_settings(smtp_port=port, smtp_timeout_s=2))
    await _send(channel, "ev-before")
    first.stop()  # the server goes away under the open session, then comes back
    second = Controller(inbox, hostname="127.0.0.1", port=port)
    second.start()
    try:
        with pytest.raises(RetryableError):
            await _send(channel, "ev-lost-session")
        # The delivery policy retries: the retry opens a new session and succeeds.
        await _send(channel, "ev-lost-session")
        await channel.close()
    finally:
        second.stop()
    assert channel.sessions_opened == 2
    delivered = [raw for _, raw in inbox.messages]
    assert sum(b"ev-before" in raw for raw in delivered) == 1
    assert sum(b"ev-lost-session" in raw for raw in delivered) == 1


async def test_a_rejected_alert_closes_the_session_and_the_next_one_opens_another(
    counting_server: tuple[_CountingInbox, int],
) -> None:
    inbox, port = counting_server
    channel = SmtpChannel(_settings(smtp_port=port))
    await _send(channel, "ev-1")
    with pytest.raises(SendRejected, match="554"):
        await _send(channel, "ev-reject-me")
    await _send(channel, "ev-3")
    await channel.close()
    assert channel.sessions_opened == inbox.sessions == 2
    assert len(inbox.messages) == 2


class _SlowInbox(_CountingInbox):
    """Holds each message a moment, so that concurrent sends overlap; counts disconnects."""

    def __init__(self) -> None:
        super().__init__()
        self.disconnected: set[int] = set()
        """The client sessions whose connection went (aiosmtpd may report one twice)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


class _DisconnectCountingSMTP(SMTPServer):
    def connection_lost(self, error: Exception | None) -> None:
        # Only sessions that said EHLO: the controller's own start-up probe
        # connects and leaves too.
        if getattr(self.session, "host_name", None):
            self.event_handler.disconnected.add(id(self))
        super().connection_lost(error)


class _SlowController(Controller):
    def factory(self) -> SMTPServer:
        return _DisconnectCountingSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture
def slow_server() -> Iterator[tuple[_SlowInbox, int]]:
    inbox = _SlowInbox()
    with _smtp_server(inbox, _SlowController) as port:
        yield inbox, port


async def test_concurrent_alerts_open_sessions_up_to_the_concurrency_then_reuse_them(
    slow_server: tuple[_SlowInbox, int],
) -> None:
    inbox, port = slow_server
    channel = SmtpChannel(_settings(smtp_port=port, notifier_concurrency=3))
    await asyncio.gather(*(_send(channel, f"ev-{i}") for i in range(10)))
    assert len(inbox.messages) == 10
    assert inbox.sessions == channel.sessions_opened == 3
    # Light traffic afterwards keeps using the session used last: nothing new opens.
    await _send(channel, "ev-later-1", "ev-later-2")
    assert channel.sessions_opened == 3
    await channel.close()
    assert inbox.quits == 3


async def test_with_a_concurrency_of_one_concurrent_alerts_share_one_session(
    slow_server: tuple[_SlowInbox, int],
) -> None:
    inbox, port = slow_server
    channel = SmtpChannel(_settings(smtp_port=port, notifier_concurrency=1))
    await asyncio.gather(*(_send(channel, f"ev-{i}") for i in range(4)))
    await channel.close()
    assert len(inbox.messages) == 4
    assert inbox.sessions == channel.sessions_opened == 1


async def test_a_send_cancelled_mid_conversation_closes_its_session(
    slow_server: tuple[_SlowInbox, int],
) -> None:
    inbox, port = slow_server
    channel = SmtpChannel(_settings(smtp_port=port))
    await _send(channel, "ev-1")
    cancelled = asyncio.create_task(_send(channel, "ev-cancelled"))
    await asyncio.sleep(0.02)  # inside the server's 50 ms DATA hold
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled

    # The interrupted session is closed at once (the server sees it go), not
    # lent to the next alert nor left open.
    async def closed() -> bool:
        return len(inbox.disconnected) == 1

    await poll_until(closed, "the interrupted session to be closed", timeout=5)
    await _send(channel, "ev-3")
    await channel.close()
    assert channel.sessions_opened == 2
    assert any(b"ev-3" in raw for _, raw in inbox.messages)
