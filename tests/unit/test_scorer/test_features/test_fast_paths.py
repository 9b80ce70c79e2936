"""The feature store's fast paths leave every value bit for bit as the code they replaced."""

from __future__ import annotations

import math
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorer.features.state import FeatureState
from scorer.features.store import AMOUNT_WINDOWS, MIN_STD, NAN, _entity_features
from scorer.features.windows import BucketWindows

_OBSERVATIONS = st.lists(st.tuples(st.floats(0, 90 * 86400), st.floats(0, 1e4)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(observations=_OBSERVATIONS, ahead=st.lists(st.floats(-5 * 86400, 40 * 86400), max_size=6),
       width=st.sampled_from([60, 3600]))
def test_windows_is_every_window_at_once(observations: list[tuple[float, float]],
                                         ahead: list[float], width: int) -> None:
    ring = BucketWindows(width, (24, 24 * 7, 24 * 30))
    for t, value in sorted(observations, key=lambda o: o[0] % 7):  # late ones too
        ring.add(t, value)
        for delta in ahead:
            at = ring.key(t + delta)
            expected = [x for i in range(3) for x in ring.window(i, at)]
            assert ring.windows(at) == expected


def old_entity_features(state: FeatureState | None, t: float, amount: float) -> list[float]:
    """``_entity_features`` as it was before it read the hour windows in one call."""
    if state is None:
        return [0.0, 0.0, NAN] * len(AMOUNT_WINDOWS) + [NAN, NAN, NAN]
    out: list[float] = []
    count, total, squares = state.minute.window(0, state.minute.key(t))
    out += [count, total, total / count if count else NAN]
    hour = state.hour
    at = hour.key(t)
    for i in range(3):
        count, total, squares = hour.window(i, at)
        out += [count, total, total / count if count else NAN]
    since = t - state.last_time if state.last_time > -math.inf else NAN
    if since == since:
        since = max(0.0, since)
    ratio = z = NAN
    if count >= 1:
        mean = total / count
        ratio = amount / mean if mean > 0 else NAN
        if count >= 2:
            variance = max(0.0, squares / count - mean * mean)
            z = (amount - mean) / max(math.sqrt(variance), MIN_STD)
    return [*out, since, ratio, z]


@settings(max_examples=300, deadline=None)
@given(observations=_OBSERVATIONS, at=st.floats(0, 120 * 86400), amount=st.floats(0, 1e4))
def test_entity_features_are_unchanged(observations: list[tuple[float, float]], at: float,
                                       amount: float) -> None:
    state = FeatureState()
    for t, value in observations:
        state.minute.add(t, value)
        state.hour.add(t, value)
        state.last_time = max(state.last_time, t)
    new, old = _entity_features(state, at, amount), old_entity_features(state, at, amount)
    assert [repr(x) for x in new] == [repr(x) for x in old]
    assert _entity_features(None, at, amount) == _entity_features(None, at, amount)


class OldBucketWindows(BucketWindows):
    """``BucketWindows.add`` as it was before its in-order fast path."""

    __slots__ = ()

    def add(self, epoch_s: float, value: float, weight: float = 1.0) -> bool:
        k = int(epoch_s // self.width)
        if k > self.head:
            self.advance(k)
        elif k <= self.head - self.lengths[-1]:
            return False
        keys = self.keys
        n = len(keys)
        inserted = False
        if n and keys[n - 1] == k:
            pos = n - 1
        elif not n or keys[n - 1] < k:
            pos = n
            inserted = True
        else:
            pos = bisect_left(keys, k)
            inserted = keys[pos] != k
        if inserted:
            keys.insert(pos, k)
            self.counts.insert(pos, 0.0)
            self.sums.insert(pos, 0.0)
            self.squares.insert(pos, 0.0)
        self.counts[pos] += weight
        self.sums[pos] += value
        self.squares[pos] += value * value
        totals = self.totals
        for i, length in enumerate(self.lengths):
            if k > self.head - length:
                base = 3 * i
                totals[base] += weight
                totals[base + 1] += value
                totals[base + 2] += value * value
            elif inserted:
                self.lo[i] += 1
        return True


_STEPS = st.lists(st.tuples(st.floats(-3 * 86400, 2 * 86400),
                            st.sampled_from([0.0, -0.0, 1.5, 7.0]),
                            st.sampled_from([1.0, 0.0, -0.0])), max_size=80)


@settings(max_examples=400, deadline=None)
@given(steps=_STEPS, width=st.sampled_from([60, 3600]),
       lengths=st.sampled_from([(60,), (24, 24 * 7, 24 * 30), (1, 2)]))
def test_add_leaves_the_ring_as_before(steps: list[tuple[float, float, float]], width: int,
                                       lengths: tuple[int, ...]) -> None:
    new, old = BucketWindows(width, lengths), OldBucketWindows(width, lengths)
    t = 10 * 86400.0
    for delta, value, weight in steps:
        t = max(0.0, t + delta / 40 if delta > 0 else t + delta / 400)  # mostly in order
        assert new.add(t, value, weight) == old.add(t, value, weight)
        assert repr(new.to_json()) == repr(old.to_json())


def test_bad_lengths_are_still_refused() -> None:
    for lengths in [(), (0,), (3, 2)]:
        with pytest.raises(ValueError, match="ascending and positive"):
            BucketWindows(60, lengths)
