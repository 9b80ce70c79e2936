"""Token-bucket pacing: how many messages may be sent now, and how long to wait.

The functions are pure (they take the monotonic time as an argument), so the
pacing is tested without a clock; the worker feeds them ``time.monotonic()``.
Sending in batches paced by a bucket keeps the average rate exact at any rate,
from one message a minute to thousands a second, without one sleep per message.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

EPSILON = 1e-9
"""Floating-point slack: 0.999999999 tokens after exactly 1/rate seconds is one token."""

BATCH_WINDOW_S = 0.1
"""At high rates, send up to this many seconds' worth of messages in one batch."""


def bucket_capacity(rate_per_s: float, max_batch: int) -> float:
    """Burst size: a tenth of a second of traffic, at least 1, at most ``max_batch``."""
    return float(min(max_batch, max(1.0, rate_per_s * BATCH_WINDOW_S)))


@dataclass(frozen=True)
class TokenBucket:
    """Tokens available at monotonic time ``updated``; one token is one message."""

    rate_per_s: float
    capacity: float
    tokens: float
    updated: float

    @classmethod
    def start(cls, rate_per_s: float, now: float, max_batch: int = 500) -> TokenBucket:
        """A bucket holding one token, so the first message goes out immediately."""
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        return cls(rate_per_s, bucket_capacity(rate_per_s, max_batch), 1.0, now)


def refill(bucket: TokenBucket, now: float) -> TokenBucket:
    """The bucket at ``now``: tokens accrue at the rate, up to the capacity."""
    elapsed = max(0.0, now - bucket.updated)
    tokens = min(bucket.capacity, bucket.tokens + elapsed * bucket.rate_per_s)
    return replace(bucket, tokens=tokens, updated=max(now, bucket.updated))


def take(bucket: TokenBucket, now: float, wanted: int) -> tuple[int, TokenBucket]:
    """Take up to ``wanted`` whole tokens at ``now``; return how many and the new bucket."""
    current = refill(bucket, now)
    granted = max(0, min(wanted, int(current.tokens + EPSILON)))
    return granted, replace(current, tokens=max(0.0, current.tokens - granted))


def seconds_until_token(bucket: TokenBucket, now: float) -> float:
    """How long until at least one whole token is available (0 if one is)."""
    current = refill(bucket, now)
    missing = 1.0 - current.tokens
    return 0.0 if missing <= EPSILON else missing / current.rate_per_s


def with_rate(bucket: TokenBucket, rate_per_s: float, now: float, max_batch: int = 500
              ) -> TokenBucket:
    """The bucket after a rate change: tokens so far are kept, clipped to the new capacity."""
    if rate_per_s <= 0:
        raise ValueError("rate_per_s must be positive")
    current = refill(bucket, now)
    capacity = bucket_capacity(rate_per_s, max_batch)
    return replace(current, rate_per_s=rate_per_s, capacity=capacity,
                   tokens=min(current.tokens, capacity))
