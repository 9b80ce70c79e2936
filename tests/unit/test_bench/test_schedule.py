"""The open-loop schedule: intended send times and how many events are due."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.schedule import Schedule, Step

rates = st.lists(st.floats(min_value=1, max_value=20_000), min_size=1, max_size=5)
seconds = st.floats(min_value=0.1, max_value=30)


def test_events_per_step_are_rate_times_duration() -> None:
    schedule = Schedule.stepped([1000, 2500], 30)

    assert [s.events for s in schedule.steps] == [30_000, 75_000]
    assert schedule.total_events == 105_000
    assert schedule.first_events == (0, 30_000)
    assert schedule.duration == 60


def test_offsets_are_evenly_spaced_within_a_step_and_restart_at_the_next() -> None:
    schedule = Schedule((Step(10, 1), Step(100, 1)))

    assert schedule.offset(0) == 0
    assert schedule.offset(5) == pytest.approx(0.5)
    assert schedule.offset(10) == pytest.approx(1.0)  # first event of step 2
    assert schedule.offset(11) == pytest.approx(1.01)


def test_due_counts_events_whose_intended_time_has_come() -> None:
    schedule = Schedule((Step(10, 1), Step(100, 1)))

    assert schedule.due(-0.1) == 0
    assert schedule.due(0) == 1
    assert schedule.due(0.25) == 3
    assert schedule.due(0.999) == 10
    assert schedule.due(1.0) == 11
    assert schedule.due(5) == schedule.total_events


def test_step_of_and_windows() -> None:
    schedule = Schedule.stepped([10, 20], 2)

    assert schedule.step_of(0) == 0
    assert schedule.step_of(19) == 0
    assert schedule.step_of(20) == 1
    assert schedule.step_window(1) == (2, 4)
    with pytest.raises(IndexError):
        schedule.step_of(schedule.total_events)


@pytest.mark.parametrize(("rate", "secs"), [(0, 1), (-5, 1), (10, 0), (float("inf"), 1)])
def test_invalid_steps_are_refused(rate: float, secs: float) -> None:
    with pytest.raises(ValueError, match="step"):
        Step(rate, secs)


def test_an_empty_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one step"):
        Schedule(())


@given(rates, seconds, st.data())
def test_every_event_is_due_at_its_own_intended_time(step_rates: list[float], secs: float,
                                                    data: st.DataObject) -> None:
    schedule = Schedule.stepped(step_rates, secs)
    index = data.draw(st.integers(min_value=0, max_value=schedule.total_events - 1))

    assert schedule.due(schedule.offset(index)) > index


@given(rates, seconds)
def test_intended_times_never_go_backwards(step_rates: list[float], secs: float) -> None:
    schedule = Schedule.stepped(step_rates, secs)
    offsets = [schedule.offset(i) for i in range(min(schedule.total_events, 2000))]

    assert offsets == sorted(offsets)
    assert schedule.due(schedule.duration + 1) == schedule.total_events
