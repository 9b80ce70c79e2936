"""The generator's linger: when a partition's batch is sent, and how long the loop sleeps."""

from __future__ import annotations

import pytest

from bench.generate import MIN_SLEEP_S, TICK_S, ripe, sleep_for


def test_only_batches_whose_deadline_has_come_are_ripe() -> None:
    assert ripe({0: 10.000, 1: 10.004, 2: 10.005}, now=10.004, together_s=0) == [0, 1]
    assert ripe({}, now=10.0) == []


def test_batches_ripening_within_the_window_go_with_a_ripe_one() -> None:
    deadlines = {0: 10.000, 1: 10.0015, 2: 10.003}
    assert ripe(deadlines, now=10.000, together_s=0.002) == [0, 1]
    # None ripe yet: nothing goes early on its own.
    assert ripe({1: 10.0015}, now=10.000, together_s=0.002) == []


def test_the_loop_wakes_for_the_next_event_at_the_tick_at_the_soonest() -> None:
    assert sleep_for(10.0, next_event_at=10.0004, deadlines=[]) == pytest.approx(TICK_S)
    assert sleep_for(10.0, next_event_at=10.5, deadlines=[]) == pytest.approx(0.5)


def test_a_ripening_batch_wakes_the_loop_before_the_next_tick() -> None:
    assert sleep_for(10.0, next_event_at=10.5, deadlines=[10.003, 10.001]) == pytest.approx(0.001)
    # An overdue batch is shipped after the shortest sleep, not a whole tick.
    assert sleep_for(10.0, next_event_at=10.5, deadlines=[9.9]) == pytest.approx(MIN_SLEEP_S)


def test_with_nothing_left_to_send_only_the_open_batches_count() -> None:
    assert sleep_for(10.0, next_event_at=None, deadlines=[10.004]) == pytest.approx(0.004)
    assert sleep_for(10.0, next_event_at=None, deadlines=[]) == pytest.approx(TICK_S)
