"""The alert e-mail: built with the standard library, or rendered straight to bytes.

:func:`build_email` makes the message with :mod:`email` (header objects, the
content manager) and aiosmtplib flattens it: about 0.6 ms of CPU per alert, a
third of what the notifier spent on an alert (profiled draining a fraud wave).
The headers that never change (``Subject``, ``From``, ``To``) are the same for
every alert, and a typical body is short ASCII lines, so :class:`AlertMail`
renders those once and fills in the rest: the same bytes, for a fraction of
the cost (``tests/unit/test_notifier/test_mail.py`` holds the two to byte
equality). Anything it is not sure to render the same way — a long or
non-ASCII event id, a body line over 78 characters or with non-ASCII text,
non-ASCII addresses — goes the standard way.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

from aiosmtplib.email import extract_recipients, extract_sender, flatten_message

from notifier.alerts import Alert

MAX_PLAIN_LINE = 78
"""Longer body lines make the standard library choose quoted-printable or base64."""

_SHORT_TOKEN = re.compile(r"[!-~]{1,54}")
"""An event id that fits its header line (78 characters) as one unfolded word."""

_PLAIN_BODY = re.compile(r"[ -~\n]*")
"""Printable ASCII and newlines only: sent as 7bit, line for line."""

_MIME_HEADERS = (b'Content-Type: text/plain; charset="utf-8"\r\n'
                 b"Content-Transfer-Encoding: 7bit\r\n"
                 b"MIME-Version: 1.0\r\n\r\n")


def stable_id(event_id: str) -> str:
    """A header- and SNS-safe identifier for ``event_id`` (64 hex digits)."""
    return hashlib.sha256(event_id.encode("utf-8")).hexdigest()


def message_id(event_id: str) -> str:
    """The ``Message-ID`` of ``event_id``'s alert: the same on every send of it.

    A stable Message-ID lets mail clients and relays collapse the rare
    duplicate (a crash between sending and recording the send).
    """
    return f"<{stable_id(event_id)}@fraudstream.alert>"


def build_email(alert: Alert, sender: str, recipients: list[str],
                now: datetime | None = None) -> EmailMessage:
    """The e-mail for ``alert``, dated ``now`` (default: the current time)."""
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = message_id(alert.event_id)
    message["X-Fraudstream-Event-Id"] = alert.event_id
    message.set_content(alert.body)
    return message


class AlertMail:
    """The alert e-mails of one sender, recipient list and subject.

    ``sender`` and ``recipients`` are the SMTP envelope, read from the headers
    as aiosmtplib's ``send_message`` reads them.
    """

    def __init__(self, sender: str, recipients: list[str], subject: str) -> None:
        constant = EmailMessage()
        constant["Subject"] = subject
        constant["From"] = sender
        constant["To"] = ", ".join(recipients)
        self.subject = subject
        self.sender = extract_sender(constant) or sender
        self.recipients = extract_recipients(constant)
        head = flatten_message(constant)
        # The constant headers as the standard library writes them (folded and
        # encoded), without the blank line that ends a header block.
        self._head = head[:-2] if head.endswith(b"\r\n\r\n") else head
        self._plain_envelope = (self.sender + "".join(self.recipients)).isascii()

    def render(self, alert: Alert, now: datetime | None = None) -> bytes | None:
        """``alert``'s e-mail as the bytes to send; ``None`` when it needs :func:`build_email`."""
        body = alert.body
        if not (self._plain_envelope and alert.subject == self.subject
                and _SHORT_TOKEN.fullmatch(alert.event_id) and body.endswith("\n")
                and _PLAIN_BODY.fullmatch(body)
                and max(map(len, body.split("\n"))) <= MAX_PLAIN_LINE):
            return None
        date = format_datetime(now or datetime.now(UTC))
        return b"".join((
            self._head,
            f"Date: {date}\r\nMessage-ID: {message_id(alert.event_id)}\r\n"
            f"X-Fraudstream-Event-Id: {alert.event_id}\r\n".encode("ascii"),
            _MIME_HEADERS,
            body.replace("\n", "\r\n").encode("ascii"),
        ))
