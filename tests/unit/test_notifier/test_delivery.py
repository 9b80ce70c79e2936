"""Retry policies around a channel send (a scripted channel stands in for SMTP/SNS)."""

from __future__ import annotations

import pytest

from fraudstream_shared.exceptions import RetryableError
from notifier.alerts import Alert, format_alert
from notifier.channels import SendRejected
from notifier.delivery import DeliveryAborted, DeliveryFailed, deliver
from tests.unit.test_notifier.decisions import decision


class ScriptedChannel:
    """Fails with the scripted errors in order, then succeeds."""

    name = "scripted"

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.sent: list[Alert] = []
        self.calls = 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def check(self) -> str | None:
        return None

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(alert)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


async def test_transient_failures_are_retried_with_growing_backoff() -> None:
    channel = ScriptedChannel(RetryableError("busy"), RetryableError("busy"))
    sleeps = Sleeps()
    attempts = await deliver(channel, format_alert(decision()), max_attempts=5, base_s=1.0,
                             cap_s=100.0, service="t", sleep=sleeps)
    assert attempts == 3
    assert len(channel.sent) == 1
    assert len(sleeps.delays) == 2
    # Equal jitter: attempt n waits between half and all of base·2^n.
    assert 0.5 <= sleeps.delays[0] <= 1.0
    assert 1.0 <= sleeps.delays[1] <= 2.0


async def test_a_down_channel_is_retried_indefinitely_with_capped_backoff() -> None:
    # Far more transient failures than max_attempts: an outage must not dead-letter.
    channel = ScriptedChannel(*(RetryableError("connection refused") for _ in range(40)))
    sleeps = Sleeps()
    downs: list[str] = []
    attempts = await deliver(channel, format_alert(decision()), max_attempts=3, base_s=0.5,
                             cap_s=4.0, service="t", sleep=sleeps, on_down=downs.append)
    assert attempts == 41
    assert len(channel.sent) == 1
    assert downs == ["connection refused"] * 40
    assert max(sleeps.delays) <= 4.0
    assert sleeps.delays[-1] >= 2.0, "the delay grows to the cap and stays there"


async def test_unclassified_failures_give_up_after_max_attempts() -> None:
    channel = ScriptedChannel(*(UnicodeEncodeError("ascii", "é", 0, 1, "x") for _ in range(10)))
    with pytest.raises(DeliveryFailed, match="failed 3 times") as info:
        await deliver(channel, format_alert(decision()), max_attempts=3, base_s=0.0,
                      cap_s=0.0, service="t", sleep=Sleeps())
    assert info.value.attempts == 3
    assert channel.calls == 3


async def test_transient_failures_do_not_count_towards_max_attempts() -> None:
    errors: list[Exception] = [RetryableError("down"), ValueError("odd"),
                               RetryableError("down"), RetryableError("down"), ValueError("odd")]
    channel = ScriptedChannel(*errors)
    attempts = await deliver(channel, format_alert(decision()), max_attempts=3, base_s=0.0,
                             cap_s=0.0, service="t", sleep=Sleeps())
    assert attempts == 6
    assert len(channel.sent) == 1


async def test_a_stopping_sleep_aborts_the_delivery() -> None:
    channel = ScriptedChannel(*(RetryableError("down") for _ in range(5)))

    async def stopping(delay: float) -> None:
        raise DeliveryAborted("stopping")

    with pytest.raises(DeliveryAborted):
        await deliver(channel, format_alert(decision()), max_attempts=3, base_s=0.0,
                      cap_s=0.0, service="t", sleep=stopping)
    assert channel.calls == 1
    assert channel.sent == []


async def test_permanent_rejection_is_not_retried() -> None:
    channel = ScriptedChannel(SendRejected("550 no such user"))
    with pytest.raises(DeliveryFailed, match="rejected") as info:
        await deliver(channel, format_alert(decision()), max_attempts=5, base_s=0.0,
                      cap_s=0.0, service="t", sleep=Sleeps())
    assert info.value.attempts == 1
    assert channel.calls == 1
