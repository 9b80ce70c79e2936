"""Backoff delays grow, are capped, and jitter stays inside its band."""

from __future__ import annotations

import random

from fraudstream_shared.retry import backoff_delay


def test_backoff_grows_and_is_capped() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, base_s=0.1, cap_s=2.0, jitter=0.0, rng=rng) for n in range(8)]
    assert delays[:5] == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert delays[5:] == [2.0, 2.0, 2.0]


def test_jitter_stays_within_band() -> None:
    rng = random.Random(7)
    for attempt in range(6):
        full = min(5.0, 0.2 * 2**attempt)
        d = backoff_delay(attempt, base_s=0.2, cap_s=5.0, jitter=0.5, rng=rng)
        assert full * 0.5 <= d <= full
