"""Where alerts go: SMTP or Amazon SNS, behind one small interface.

A channel raises :class:`RetryableError` for failures worth retrying (the server
is unreachable, busy or throttling) and :class:`SendRejected` for those that
will fail again however often they are retried (a 5xx reply, an invalid
parameter); the worker retries the first and dead-letters both in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aioboto3
import aiosmtplib
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from fraudstream_shared.exceptions import FraudstreamError, RetryableError
from notifier.alerts import ALERT_SUBJECT, Alert
from notifier.mail import AlertMail, build_email, stable_id
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


def smtp_error_is_permanent(exc: BaseException) -> bool:
    """5xx replies (and a missing server feature) will not succeed on retry; 4xx and I/O may."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return all(500 <= refused.code < 600 for refused in exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return 500 <= exc.code < 600
    return isinstance(exc, aiosmtplib.SMTPNotSupported)


@dataclass
class _Session:
    """One open SMTP session and how it has been used."""

    client: aiosmtplib.SMTP
    sent: int = 0
    last_used: float = 0.0


class SmtpChannel:
    """Sends alerts over a small pool of SMTP sessions, each reused while it is healthy.

    Opening a session costs a TCP connect and EHLO and, against a real relay,
    STARTTLS and AUTH: several round trips and a TLS handshake per alert when
    every alert opens its own. A session is therefore kept for up to
    ``SMTP_MAX_MESSAGES_PER_CONNECTION`` alerts while it is used at least every
    ``SMTP_IDLE_CLOSE_S`` (relays drop idle sessions, and cap messages per
    session). Any error closes it, so the delivery policy's retry opens a fresh
    one and a half-dead session is never used twice.

    An SMTP session carries one message at a time, so concurrent alerts (up to
    ``NOTIFIER_CONCURRENCY``) each take a session of their own: the pool opens
    sessions as they are needed, up to that many, and hands out the one used
    last first, so that light traffic keeps a single session warm and the
    others go idle and are closed.
    """

    name = "smtp"

    def __init__(self, settings: NotifierSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._mail = AlertMail(settings.alert_from, settings.alert_to, ALERT_SUBJECT)
        self._idle: list[_Session] = []
        """Open sessions not in use, the one used last at the end."""
        self._slots = asyncio.Semaphore(settings.notifier_concurrency)
        self.sessions_opened = 0
        """Sessions connected so far (tests count them: reuse is the point)."""

    async def start(self) -> None:
        """Nothing to open yet: the first alert opens a session."""

    async def close(self) -> None:
        """End the idle sessions politely (QUIT); the service closes only after its sends."""
        idle, self._idle = self._idle, []
        for session in idle:
            await self._end_session(session, polite=True)

    def _password(self) -> str | None:
        secret = self._settings.smtp_password
        return secret.get_secret_value() if secret is not None else None

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` to ``ALERT_TO`` over an idle session, or a new one."""
        s = self._settings
        rendered = self._mail.render(alert)
        async with self._slots:
            session: _Session | None = None
            try:
                session = await self._take_session()
                if rendered is not None:
                    # Plain 7-bit ASCII: no SMTPUTF8 or 8BITMIME to negotiate.
                    await session.client.sendmail(self._mail.sender, self._mail.recipients,
                                                  rendered)
                else:
                    await session.client.send_message(
                        build_email(alert, s.alert_from, s.alert_to))
            except (aiosmtplib.SMTPException, OSError) as exc:
                # Whatever state the session is in now, do not use it again.
                if session is not None:
                    await self._end_session(session, polite=False)
                detail = f"smtp {s.smtp_host}:{s.smtp_port}: {type(exc).__name__}: {exc}"
                if smtp_error_is_permanent(exc):
                    raise SendRejected(detail) from exc
                raise RetryableError(detail) from exc
            except BaseException:
                # Cancelled (the batch is abandoned): aiosmtplib drops a
                # connection whose command was cancelled, but not every await
                # here is a command, so make sure the session goes.
                if session is not None:
                    await self._end_session(session, polite=False)
                raise
            session.sent += 1
            session.last_used = self._clock()
            self._idle.append(session)

    def _usable(self, session: _Session) -> bool:
        s = self._settings
        return (session.client.is_connected
                and session.sent < s.smtp_max_messages_per_connection
                and self._clock() - session.last_used <= s.smtp_idle_close_s)

    async def _take_session(self) -> _Session:
        """The idle session used last if it is still usable, else a new one.

        Idle sessions that are used up, idle too long or disconnected are ended
        on the way (with QUIT if they still answer).
        """
        stale = [session for session in self._idle if not self._usable(session)]
        self._idle = [session for session in self._idle if self._usable(session)]
        for session in stale:
            await self._end_session(session, polite=True)
        if self._idle:
            return self._idle.pop()
        s = self._settings
        client = aiosmtplib.SMTP(
            hostname=s.smtp_host, port=s.smtp_port, username=s.smtp_username,
            password=self._password(), start_tls=s.smtp_starttls, timeout=s.smtp_timeout_s,
        )
        session = _Session(client)
        try:
            await client.connect()
        except BaseException:
            await self._end_session(session, polite=False)
            raise
        self.sessions_opened += 1
        return session

    @staticmethod
    async def _end_session(session: _Session, *, polite: bool) -> None:
        """End ``session``: QUIT when ``polite`` and it still answers, else just close."""
        client = session.client
        if not client.is_connected:
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
            # One connection per alert in flight (botocore's default pool is 10).
            max_pool_connections=max(10, s.notifier_concurrency),
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
