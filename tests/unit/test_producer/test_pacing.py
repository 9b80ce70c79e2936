"""Token-bucket pacing as pure functions of the monotonic time."""

from __future__ import annotations

import pytest

from producer.pacing import (
    TokenBucket,
    bucket_capacity,
    seconds_until_token,
    take,
    with_rate,
)


def test_first_message_goes_out_at_once_then_waits_for_the_rate() -> None:
    bucket = TokenBucket.start(35 / 60, now=100.0)
    granted, bucket = take(bucket, 100.0, 500)
    assert granted == 1
    assert take(bucket, 100.5, 500)[0] == 0
    assert seconds_until_token(bucket, 100.0) == pytest.approx(60 / 35)
    assert take(bucket, 100.0 + 60 / 35, 500)[0] == 1


def test_average_rate_is_exact_over_many_steps() -> None:
    rate = 1000.0
    bucket = TokenBucket.start(rate, now=0.0)
    sent = 0
    now = 0.0
    while now < 10.0:
        granted, bucket = take(bucket, now, 500)
        sent += granted
        now += max(seconds_until_token(bucket, now), 0.013)  # a coarse, irregular loop
    assert abs(sent - rate * 10) <= bucket.capacity + 1


def test_high_rates_send_in_batches_capped_by_max_batch() -> None:
    assert bucket_capacity(5000, max_batch=500) == 500
    assert bucket_capacity(5000, max_batch=100) == 100
    assert bucket_capacity(0.1, max_batch=500) == 1
    bucket = TokenBucket.start(5000, now=0.0, max_batch=500)
    granted, _ = take(bucket, 1.0, 10_000)  # a long pause does not build an unbounded burst
    assert granted == 500


def test_take_never_grants_more_than_wanted() -> None:
    bucket = TokenBucket.start(100, now=0.0)
    granted, after = take(bucket, 1.0, 3)
    assert granted == 3
    assert after.tokens == pytest.approx(bucket_capacity(100, 500) - 3)


def test_time_going_backwards_adds_nothing() -> None:
    bucket = TokenBucket.start(10, now=5.0)
    _, bucket = take(bucket, 5.0, 1)
    assert take(bucket, 4.0, 1)[0] == 0


def test_rate_change_keeps_tokens_within_new_capacity() -> None:
    bucket = TokenBucket.start(5000, now=0.0)
    bucket = with_rate(bucket, 1.0, now=1.0)
    assert bucket.rate_per_s == 1.0
    assert bucket.capacity == 1.0
    assert bucket.tokens <= 1.0
    with pytest.raises(ValueError, match="positive"):
        with_rate(bucket, 0, now=1.0)
    with pytest.raises(ValueError, match="positive"):
        TokenBucket.start(-1, now=0.0)
