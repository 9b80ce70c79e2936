"""The measuring consumer's bookkeeping: first arrivals only, and when to stop."""

from __future__ import annotations

import math

from bench.measure import Measurer, should_stop
from bench.payloads import make_template, render
from tests.support.factories import original_sample_transaction


def value(seq: int, prefix: str = "bench-r-pipe") -> bytes:
    return render(make_template(original_sample_transaction(), 6), f"{prefix}-{seq}",
                  1_790_000_000.0 + seq)


def test_first_arrivals_are_kept_and_duplicates_counted() -> None:
    measurer = Measurer("bench-r-pipe")

    measurer.add(value(1), 1_790_000_001.5)
    measurer.add(value(2), 1_790_000_003.0)
    measurer.add(value(1), 1_790_000_009.0)

    assert measurer.seqs == [1, 2]
    assert measurer.intended == [1_790_000_001.0, 1_790_000_002.0]
    assert measurer.arrival == [1_790_000_001.5, 1_790_000_003.0]
    assert measurer.duplicates == 1
    # Transactions carry no decision timings.
    assert all(math.isnan(x) for x in measurer.scoring + measurer.decided)


def test_a_decisions_timings_are_kept_beside_its_arrival() -> None:
    measurer = Measurer("bench-r-pipe")
    decided = value(3)[:-1] + b',"fd":{"outcome":"approve","proc_time":25,"ttdf":31}}'

    measurer.add(decided, 1_790_000_003.1)

    assert measurer.seqs == [3]
    assert measurer.scoring == [25.0]
    assert measurer.decided == [31.0]
    assert measurer.outcomes == {"approve": 1}


def test_other_runs_and_junk_are_counted_as_foreign() -> None:
    measurer = Measurer("bench-r-pipe")

    measurer.add(value(1, prefix="bench-other-pipe"), 0.0)
    measurer.add(b"not json", 0.0)
    measurer.add(None, 0.0)

    assert measurer.seqs == []
    assert measurer.foreign == 3


def test_stop_when_everything_arrived_or_the_deadline_passed() -> None:
    assert not should_stop(None, 10, 100.0)
    assert not should_stop({"expected": 10, "deadline": 200.0}, 9, 100.0)
    assert should_stop({"expected": 10, "deadline": 200.0}, 10, 100.0)
    assert should_stop({"expected": 10, "deadline": 200.0}, 3, 200.0)
