"""The circuit breaker's states, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from scorer.backends import CircuitBreaker, CircuitState
from tests.unit.test_scorer.test_backends.support import Clock


def test_opens_after_k_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=10, clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # the count is of consecutive failures
    breaker.record_failure()
    breaker.record_failure()
    assert (breaker.state, breaker.allow()) == (CircuitState.CLOSED, True)
    breaker.record_failure()
    assert (breaker.state, breaker.allow()) == (CircuitState.OPEN, False)


def test_half_open_lets_one_trial_through_and_closes_on_success() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    breaker.record_failure()
    clock.now += 9.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.state is CircuitState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the trial's verdict
    breaker.record_success()
    assert (breaker.state, breaker.consecutive_failures) == (CircuitState.CLOSED, 0)


def test_a_failed_trial_reopens_for_a_new_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=10, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state is CircuitState.OPEN
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_late_failures_do_not_extend_the_cool_down() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10, clock=clock)
    breaker.record_failure()
    clock.now += 5
    breaker.record_failure()  # a call that started before the circuit opened
    clock.now += 5
    assert breaker.state is CircuitState.HALF_OPEN


def test_threshold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        CircuitBreaker(failure_threshold=0)
