"""The open-loop send schedule: when each event *should* be sent.

An open-loop generator sends event ``i`` at its intended time whatever the
system under test does, and latency is measured from that intended time, so a
stall (of the pipeline or of the generator itself) shows up in the latency of
every event it delayed instead of silently lowering the offered rate
("coordinated omission"). Pure: no clock, no I/O.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Step:
    """``rate`` events per second for ``seconds`` seconds."""

    rate: float
    seconds: float

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"a step's rate must be a positive number, not {self.rate!r}")
        if not (self.seconds > 0 and math.isfinite(self.seconds)):
            raise ValueError(f"a step must last a positive time, not {self.seconds!r}")

    @property
    def events(self) -> int:
        """How many events the step offers (its rate times its duration, rounded)."""
        return max(1, round(self.rate * self.seconds))


@dataclass(frozen=True)
class Schedule:
    """Consecutive steps; event ``i`` has an intended offset from the schedule's start.

    Within a step events are evenly spaced (``1 / rate`` apart), starting at
    the step's start.
    """

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a schedule needs at least one step")

    @classmethod
    def stepped(cls, rates: Sequence[float], seconds: float) -> Schedule:
        """One step per rate, each lasting ``seconds``."""
        return cls(tuple(Step(rate, seconds) for rate in rates))

    @cached_property
    def step_starts(self) -> tuple[float, ...]:
        """The offset (seconds) at which each step starts."""
        starts, t = [], 0.0
        for step in self.steps:
            starts.append(t)
            t += step.seconds
        return tuple(starts)

    @cached_property
    def first_events(self) -> tuple[int, ...]:
        """The index of each step's first event."""
        firsts, n = [], 0
        for step in self.steps:
            firsts.append(n)
            n += step.events
        return tuple(firsts)

    @property
    def total_events(self) -> int:
        """Events in the whole schedule."""
        return self.first_events[-1] + self.steps[-1].events

    @property
    def duration(self) -> float:
        """Seconds from the first step's start to the last step's end."""
        return self.step_starts[-1] + self.steps[-1].seconds

    def step_of(self, index: int) -> int:
        """The step that event ``index`` belongs to."""
        if not 0 <= index < self.total_events:
            raise IndexError(f"event {index} is outside the schedule (0..{self.total_events - 1})")
        return bisect.bisect_right(self.first_events, index) - 1

    def offset(self, index: int) -> float:
        """Intended send time of event ``index``, in seconds after the schedule's start."""
        k = self.step_of(index)
        return self.step_starts[k] + (index - self.first_events[k]) / self.steps[k].rate

    def due(self, elapsed: float) -> int:
        """How many events are due ``elapsed`` seconds after the start (intended time ≤ it)."""
        if elapsed < 0:
            return 0
        k = bisect.bisect_right(self.step_starts, elapsed) - 1
        step = self.steps[k]
        within = math.floor((elapsed - self.step_starts[k]) * step.rate + 1e-9) + 1
        return self.first_events[k] + min(step.events, within)

    def step_window(self, k: int) -> tuple[float, float]:
        """``(start, end)`` offsets of step ``k``."""
        start = self.step_starts[k]
        return start, start + self.steps[k].seconds
