"""Capped exponential backoff with jitter, as a pure delay function and an async helper."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)
T = TypeVar("T")


def backoff_delay(
    attempt: int, *, base_s: float = 0.2, cap_s: float = 10.0, jitter: float = 0.5,
    rng: random.Random | None = None,
) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base·2^attempt`` capped, ± jitter.

    ``jitter`` is the fraction of the delay that is randomised ("equal jitter"),
    so that many clients retrying at once spread out.
    """
    delay = min(cap_s, base_s * 2.0 ** max(0, attempt))
    spread = delay * jitter
    draw: float = (rng or random).random()
    return delay - spread + draw * spread


async def retry_until(
    operation: Callable[[], Awaitable[T]],
    *,
    what: str,
    deadline_s: float,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    base_s: float = 0.2,
    cap_s: float = 5.0,
) -> T:
    """Run ``operation`` until it succeeds or ``deadline_s`` has passed, then re-raise.

    Used for start-up connections: a dependency that is still booting is
    waited for; one that never comes up fails the start with the last error.
    """
    started = time.monotonic()
    attempt = 0
    while True:
        try:
            return await operation()
        except retry_on as exc:
            elapsed = time.monotonic() - started
            if elapsed >= deadline_s:
                raise
            delay = min(backoff_delay(attempt, base_s=base_s, cap_s=cap_s), deadline_s - elapsed)
            log_event(log, logging.WARNING, "dependency.retry", what=what, attempt=attempt + 1,
                      delay_s=round(delay, 2), error=f"{type(exc).__name__}: {exc}")
            attempt += 1
            await asyncio.sleep(delay)
