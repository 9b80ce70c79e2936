"""Turn eventual consistency into a readable assertion."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll_until(
    condition: Callable[[], Awaitable[T]],
    description: str,
    timeout: float = 30.0,
    interval: float = 0.2,
) -> T:
    """Await ``condition`` until it returns a truthy value; fail naming ``description``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await condition()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {description}; "
                                 f"last value: {last!r}")
        await asyncio.sleep(interval)
