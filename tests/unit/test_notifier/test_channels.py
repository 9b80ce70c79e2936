"""The channels: SNS request shape (botocore's own model), moto, SMTP errors and e-mails."""

from __future__ import annotations

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
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from fraudstream_shared.exceptions import RetryableError
from notifier.alerts import format_alert
from notifier.channels import (
    SendRejected,
    SmtpChannel,
    SnsChannel,
    build_email,
    smtp_error_is_permanent,
    sns_error_is_permanent,
    sns_publish_params,
    stable_id,
)
from notifier.settings import NotifierSettings
from tests.support.moto import moto_server, use_fake_credentials
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


async def test_sns_channel_publishes_through_aioboto3(moto_endpoint: str) -> None:
    sns = boto3.client("sns", region_name="us-east-1", endpoint_url=moto_endpoint)
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=moto_endpoint)
    topic_arn = sns.create_topic(Name="fraud-alerts")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)

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


def test_email_headers_and_body() -> None:
    alert = format_alert(decision(event_id="ev-mail"))
    message = build_email(alert, "fraud@bank.test", ["a@bank.test", "b@bank.test"])
    assert message["Subject"] == alert.subject
    assert message["To"] == "a@bank.test, b@bank.test"
    assert message["Message-ID"] == f"<{stable_id('ev-mail')}@fraudstream.alert>"
    assert message.get_content() == alert.body


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
