"""Retries around one channel send: indefinite while the channel is down, bounded otherwise.

Three kinds of failure, three policies:

* **transient** (:class:`RetryableError`: connection refused, timeouts, 4xx
  replies, throttling) — the channel is down, not the alert. Retried with capped
  exponential backoff for as long as it takes; the caller is told through
  ``on_down`` so that it can report not-ready, and the batch (hence the
  consumer) simply waits. Dead-lettering here would lose every alert of an
  outage.
* **permanent** (:class:`SendRejected`: a 5xx reply, an SNS validation error)
  — this alert will never go through; dead-lettered at once.
* **unclassified** (any other exception from the channel) — looks permanent but
  is not known to be; retried up to ``max_attempts`` times, then dead-lettered,
  so one odd alert cannot stall the pipeline for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fraudstream_shared.exceptions import FraudstreamError, RetryableError
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import MESSAGES_FAILED
from fraudstream_shared.retry import backoff_delay
from notifier.alerts import Alert
from notifier.channels import AlertChannel, SendRejected

log = logging.getLogger(__name__)


class DeliveryFailed(FraudstreamError):
    """The alert cannot be delivered: the channel refused it, or unclassified errors persisted."""

    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


class DeliveryAborted(FraudstreamError):
    """The service is stopping while the channel is down: give up this batch, uncommitted."""


async def deliver(
    channel: AlertChannel,
    alert: Alert,
    *,
    max_attempts: int,
    base_s: float,
    cap_s: float,
    service: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_down: Callable[[str], None] | None = None,
) -> int:
    """Send ``alert`` under the policies of this module; return the attempts used.

    ``sleep`` waits between attempts (it may raise :class:`DeliveryAborted` to
    stop waiting on shutdown); ``on_down`` receives the error of every
    transient failure. Raises :class:`DeliveryFailed` on a permanent rejection
    or after ``max_attempts`` unclassified failures.
    """
    attempt = 0
    transient = 0
    unclassified = 0
    while True:
        attempt += 1
        try:
            await channel.send(alert)
            return attempt
        except SendRejected as exc:
            MESSAGES_FAILED.labels(service, "notify").inc()
            raise DeliveryFailed(f"rejected by {channel.name}: {exc}", attempt) from exc
        except RetryableError as exc:
            MESSAGES_FAILED.labels(service, "notify").inc()
            error = str(exc)
            if on_down is not None:
                on_down(error)
            delay = backoff_delay(transient, base_s=base_s, cap_s=cap_s)
            transient += 1
            kind = "transient"
        except Exception as exc:  # anything the channel did not classify
            MESSAGES_FAILED.labels(service, "notify").inc()
            unclassified += 1
            error = f"{type(exc).__name__}: {exc}"
            if unclassified >= max_attempts:
                raise DeliveryFailed(
                    f"{channel.name} failed {unclassified} times, last: {error}", attempt
                ) from exc
            delay = backoff_delay(unclassified - 1, base_s=base_s, cap_s=cap_s)
            kind = "unclassified"
        log_event(log, logging.WARNING, "notifier.alert.retry", event_id=alert.event_id,
                  attempt=attempt, kind=kind, delay_s=round(delay, 3), error=error[:300])
        await sleep(delay)
