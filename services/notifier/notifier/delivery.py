"""Bounded retries around one channel send."""

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
    """The alert could not be delivered: retries exhausted, or the channel refused it."""

    def __init__(self, detail: str, attempts: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts


async def deliver(
    channel: AlertChannel,
    alert: Alert,
    *,
    max_attempts: int,
    base_s: float,
    cap_s: float,
    service: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Send ``alert``, retrying transient failures with capped backoff; return the attempts used.

    Raises :class:`DeliveryFailed` after ``max_attempts`` transient failures or
    on the first permanent one.
    """
    for attempt in range(1, max_attempts + 1):
        try:
            await channel.send(alert)
            return attempt
        except SendRejected as exc:
            MESSAGES_FAILED.labels(service, "notify").inc()
            raise DeliveryFailed(f"rejected by {channel.name}: {exc}", attempt) from exc
        except RetryableError as exc:
            MESSAGES_FAILED.labels(service, "notify").inc()
            if attempt >= max_attempts:
                raise DeliveryFailed(
                    f"{channel.name} failed {attempt} times, last: {exc}", attempt
                ) from exc
            delay = backoff_delay(attempt - 1, base_s=base_s, cap_s=cap_s)
            log_event(log, logging.WARNING, "notifier.alert.retry", event_id=alert.event_id,
                      attempt=attempt, delay_s=round(delay, 3), error=str(exc)[:300])
            await sleep(delay)
    raise AssertionError("unreachable: max_attempts >= 1")
