"""A small circuit breaker: stop calling a failing service, try again later.

closed → open after ``failure_threshold`` consecutive failures → half-open once
``reset_after_s`` has passed (one trial call is let through) → closed when the
trial succeeds, open again when it fails. Pure state plus an injected clock,
so it is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class CircuitState(StrEnum):
    """Where the breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive failures and decides whether a call may go out."""

    def __init__(
        self,
        failure_threshold: int = 5,
        reset_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        """The current state; an open breaker reads half-open once its cool-down is over."""
        if (self._state is CircuitState.OPEN
                and self._clock() - self._opened_at >= self.reset_after_s):
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def allow(self) -> bool:
        """Whether a call may be made now.

        In half-open only one trial call at a time is allowed; concurrent
        callers are refused (and use the fallback) until the trial reports.
        """
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self._trial_in_flight:
            self._state = CircuitState.HALF_OPEN
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """The service answered: close the breaker and forget past failures."""
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """The service failed: count it, and open the breaker at the threshold."""
        self._failures += 1
        trial_failed = self._state is CircuitState.HALF_OPEN
        too_many = self._state is CircuitState.CLOSED and self._failures >= self.failure_threshold
        # Failures reported while already open come from calls that started
        # before it opened; they must not extend the cool-down.
        if trial_failed or too_many:
            self._open()

    def _open(self) -> None:
        self._state = CircuitState.OPEN
        self._opened_at = self._clock()
        self._trial_in_flight = False
