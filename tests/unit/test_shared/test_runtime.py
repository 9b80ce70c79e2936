"""Process-level tuning done by ``serve`` before the service starts."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fraudstream_shared.runtime import GC_GEN0_THRESHOLD, tune_gc


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restore_gc")
def test_tune_gc_freezes_what_is_alive_and_widens_the_young_generation() -> None:
    long_lived = [object() for _ in range(100)]
    gen1, gen2 = gc.get_threshold()[1:]
    tune_gc()
    assert gc.get_freeze_count() >= len(long_lived)
    assert gc.get_threshold() == (GC_GEN0_THRESHOLD, gen1, gen2)
    # Garbage cycles are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
