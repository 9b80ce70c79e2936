"""Where alerts go: SMTP or Amazon SNS, behind one small interface.

A channel raises :class:`RetryableError` for failures worth retrying (the server
is unreachable, busy or throttling) and :class:`SendRejected` for those that
will fail again however often they are retried (a 5xx reply, an invalid
parameter); the worker retries the first and dead-letters both in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Protocol

import aioboto3
import aiosmtplib
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from fraudstream_shared.exceptions import FraudstreamError, RetryableError
from notifier.alerts import Alert
from notifier.settings import NotifierSettings

PROBE_TIMEOUT_S = 1.0
"""Readiness probes must answer well within /readyz's own 2 s budget."""

SNS_FIFO_GROUP = "fraud-alerts"
SNS_RETRYABLE_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestLimitExceeded",
    "InternalError", "InternalFailure", "ServiceUnavailable", "KMSThrottlingException",
})


class SendRejected(FraudstreamError):
    """The channel refused the alert for good; retrying cannot help."""


class AlertChannel(Protocol):
    """A way to deliver an :class:`Alert`."""

    name: str

    async def start(self) -> None:
        """Create long-lived clients (called once, after Kafka is up)."""

    async def send(self, alert: Alert) -> None:
        """Deliver one alert; raise RetryableError or SendRejected on failure."""

    async def check(self) -> str | None:
        """``None`` when the channel can deliver, else why not (for /readyz)."""

    async def close(self) -> None:
        """Release the clients made by :meth:`start`."""


# ----------------------------------------------------------------------------- SMTP


def build_email(alert: Alert, sender: str, recipients: list[str]) -> EmailMessage:
    """The e-mail for ``alert``; its Message-ID is derived from the event id.

    A stable Message-ID lets mail clients and relays collapse the rare
    duplicate (a crash between sending and recording the send).
    """
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = f"<{stable_id(alert.event_id)}@fraudstream.alert>"
    message["X-Fraudstream-Event-Id"] = alert.event_id
    message.set_content(alert.body)
    return message


def stable_id(event_id: str) -> str:
    """A header- and SNS-safe identifier for ``event_id`` (64 hex digits)."""
    return hashlib.sha256(event_id.encode("utf-8")).hexdigest()


def smtp_error_is_permanent(exc: BaseException) -> bool:
    """5xx replies (and a missing server feature) will not succeed on retry; 4xx and I/O may."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 500 <= exc.code < 600
    return isinstance(exc, aiosmtplib.SMTPNotSupported)


class SmtpChannel:
    """Sends alerts over one SMTP session, reused while it is healthy.

    Opening a session costs a TCP connect and EHLO and, against a real relay,
    STARTTLS and AUTH: several round trips and a TLS handshake per alert when
    every alert opens its own. A session is therefore kept for up to
    ``SMTP_MAX_MESSAGES_PER_CONNECTION`` alerts while it is used at least every
    ``SMTP_IDLE_CLOSE_S`` (relays drop idle sessions, and cap messages per
    session). Any error closes it, so the delivery policy's retry opens a fresh
    one and a half-dead session is never used twice. One alert at a time goes
    over the session (the worker sends them in order anyway).
    """

    name = "smtp"

    def __init__(self, settings: NotifierSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._client: aiosmtplib.SMTP | None = None
        self._sent_on_session = 0
        self._last_used = 0.0
        self._lock = asyncio.Lock()
        self.sessions_opened = 0
        """Sessions connected so far (tests count them: reuse is the point)."""

    async def start(self) -> None:
        """Nothing to open yet: the first alert opens the session."""

    async def close(self) -> None:
        """End the session politely (QUIT), if one is open."""
        async with self._lock:
            await self._end_session(polite=True)

    def _password(self) -> str | None:
        secret = self._settings.smtp_password
        return secret.get_secret_value() if secret is not None else None

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` to ``ALERT_TO`` over the current (or a fresh) session."""
        s = self._settings
        message = build_email(alert, s.alert_from, s.alert_to)
        async with self._lock:
            try:
                client = await self._session()
                await client.send_message(message)
            except (aiosmtplib.SMTPException, OSError) as exc:
                # Whatever state the session is in now, do not use it again.
                await self._end_session(polite=False)
                detail = f"smtp {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}"
                if smtp_error_is_permanent(exc):
                    raise SendRejected(detail) from exc
                raise RetryableError(detail) from exc
            self._sent_on_session += 1
            self._last_used = self._clock()

    async def _session(self) -> aiosmtplib.SMTP:
        """The open session, or a new one if there is none or it is used up or idle."""
        s = self._settings
        client = self._client
        if client is not None and (
                not client.is_connected
                or self._sent_on_session >= s.smtp_max_messages_per_connection
                or self._clock() - self._last_used > s.smtp_idle_close_s):
            await self._end_session(polite=True)
            client = None
        if client is None:
            client = aiosmtplib.SMTP(
                hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
                password=self._password(), start_tls=s.smtp_starttls, timeout=s.smtp_timeout_s,
            )
            self._client = client  # a failed connect is ended like any failed send
            self._sent_on_session = 0
            await client.connect()
            self.sessions_opened += 1
        return client

    async def _end_session(self, *, polite: bool) -> None:
        """Forget the session: QUIT when ``polite`` and it still answers, else just close."""
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        if polite:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
                return
        client.close()

    async def check(self) -> str | None:
        """Connect and NOOP within :data:`PROBE_TIMEOUT_S`."""
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, timeout=PROBE_TIMEOUT_S, start_tls=False
        )
        try:
            await client.connect()
            await client.noop()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return f"smtp {s.smtp_host}:{s.smtp_port} unreachable: {type(exc).__name__}: {exc}"
        finally:
            if client.is_connected:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                    await client.quit()
        return None


# ----------------------------------------------------------------------------- SNS


def sns_publish_params(alert: Alert, topic_arn: str) -> dict[str, Any]:
    """The SNS ``Publish`` request for ``alert`` (e-mail subscribers see Subject and Message).

    FIFO topics also get a group and a deduplication id derived from the event
    id, so SNS itself drops a re-sent alert within its 5-minute window.
    """
    params: dict[str, Any] = {
        "TopicArn": topic_arn,
        "Subject": alert.subject,
        "Message": alert.body,
    }
    if topic_arn.endswith(".fifo"):
        params["MessageGroupId"] = SNS_FIFO_GROUP
        params["MessageDeduplicationId"] = stable_id(alert.event_id)
    return params


def sns_error_is_permanent(exc: ClientError) -> bool:
    """Throttling and server-side errors are transient; everything else (4xx) is not."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code") not in SNS_RETRYABLE_CODES and not int(status) >= 500


class SnsChannel:
    """Publishes each alert to an SNS topic through one long-lived aioboto3 client.

    Credentials come from the standard AWS chain (task role on ECS); nothing
    secret is configured here. botocore's own retries are off: the worker's
    bounded retry loop is the only one, so ``NOTIFIER_MAX_ATTEMPTS`` means what
    it says.
    """

    name = "sns"

    def __init__(self, settings: NotifierSettings) -> None:
        if settings.sns_topic_arn is None:
            raise ValueError("SnsChannel needs SNS_TOPIC_ARN")
        self._settings = settings
        self._topic_arn = settings.sns_topic_arn
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    async def start(self) -> None:
        """Create the SNS client once."""
        s = self._settings
        stack = contextlib.AsyncExitStack()
        config = BotoConfig(
            connect_timeout=s.sns_timeout_s,
            read_timeout=s.sns_timeout_s,
            retries={"mode": "standard", "total_max_attempts": 1},
        )
        session = aioboto3.Session()
        self._client = await stack.enter_async_context(
            session.client(
                "sns", region_name=s.aws_region, endpoint_url=s.aws_endpoint_url, config=config
            )
        )
        self._stack = stack

    async def close(self) -> None:
        """Close the client (its HTTP connection pool)."""
        if self._stack is not None:
            await self._stack.aclose()
        self._stack = None
        self._client = None

    async def send(self, alert: Alert) -> None:
        """Publish ``alert`` to ``SNS_TOPIC_ARN``."""
        if self._client is None:
            raise RetryableError("sns client not started")
        try:
            await self._client.publish(**sns_publish_params(alert, self._topic_arn))
        except ClientError as exc:
            detail = f"sns publish: {exc}"
            if sns_error_is_permanent(exc):
                raise SendRejected(detail) from exc
            raise RetryableError(detail) from exc
        except (BotoCoreError, OSError) as exc:
            raise RetryableError(f"sns publish: {type(exc).__name__}: {exc}") from exc

    async def check(self) -> str | None:
        """Ready once the client exists (publishing is the only call we are allowed)."""
        return None if self._client is not None else "sns client not created"


def build_channel(settings: NotifierSettings) -> AlertChannel:
    """The channel ``NOTIFIER_CHANNEL`` names."""
    if settings.notifier_channel == "sns":
        return SnsChannel(settings)
    return SmtpChannel(settings)
