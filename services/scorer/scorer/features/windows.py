"""Sliding event-time windows kept as sparse, time-bucketed rings.

A :class:`BucketWindows` holds, for one entity, the count, sum and sum of
squares of a value per time bucket (a minute or an hour), and running totals
for several window lengths over the same buckets. Only non-empty buckets are
stored, in key order, in ``array`` columns (32 bytes per bucket), so memory is
bounded by the longest window (at most ``max(lengths)`` buckets) and is small
for quiet entities.

Window semantics: at bucket key ``k`` a window of ``L`` buckets covers the keys
``k-L+1 … k`` — the current, partial bucket and the ``L-1`` before it. The
covered span is therefore between ``(L-1)·width`` and ``L·width`` seconds: an
error of at most one bucket (one minute for 1 h, one hour for 24 h/7 d/30 d).

The totals are maintained incrementally (added on insert, subtracted when a
bucket leaves a window) and are part of the snapshot, so that a restored ring
continues bit-for-bit like the one that was never stopped.
"""

from __future__ import annotations

import struct
import sys
from array import array
from bisect import bisect_left, bisect_right
from typing import Any

NO_HEAD = -(1 << 62)
"""Head key of a ring that has seen nothing yet."""

BYTES_PER_BUCKET = 32
"""Memory of one stored bucket: an int64 key and three float64 columns."""

_RING_HEAD = struct.Struct("<qI")
"""Binary ring: head key (int64) and number of stored buckets (uint32), little-endian."""
_COUNT = struct.Struct("<I")
_LITTLE = sys.byteorder == "little"


def pack_array(values: array[Any]) -> bytes:
    """``values`` as little-endian bytes (``array`` itself writes the native order)."""
    if _LITTLE:
        return values.tobytes()
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


def unpack_array(typecode: str, data: memoryview, offset: int, count: int
                 ) -> tuple[array[Any], int]:
    """``count`` 8-byte items of ``typecode`` read at ``offset``; the array and the next offset.

    ``ValueError`` if the data is too short (a truncated or foreign snapshot).
    """
    end = offset + 8 * count
    if count < 0 or end > len(data):
        raise ValueError("truncated feature-state snapshot")
    values: array[Any] = array(typecode)
    values.frombytes(data[offset:end])
    if not _LITTLE:
        values.byteswap()
    return values, end


SMALL_RING = 16
"""Rings of at most this many buckets (most of them) are written by one cached ``struct``:
the same bytes as the general path's columns, in a third of the time."""
_SMALL_LAYOUTS: dict[tuple[int, int, bool], struct.Struct] = {}


def _small_ring(windows: int, buckets: int, *, with_lo: bool) -> struct.Struct:
    """The layout of a whole small ring: head, count, [``lo``,] totals, the four columns."""
    key = (windows, buckets, with_lo)
    layout = _SMALL_LAYOUTS.get(key)
    if layout is None:
        lo = f"{windows}q" if with_lo else ""
        layout = _SMALL_LAYOUTS[key] = struct.Struct(
            f"<qI{lo}{3 * windows}d{buckets}q{3 * buckets}d")
    return layout


_CHECKED: set[tuple[int, ...]] = set()
"""Window lengths already found valid (a store makes two rings per new entity)."""


class BucketWindows:
    """Count, sum and sum of squares over several sliding windows of time buckets."""

    __slots__ = ("counts", "head", "keys", "lengths", "lo", "squares", "sums", "totals", "width")

    def __init__(self, width: int, lengths: tuple[int, ...]) -> None:
        if lengths not in _CHECKED:
            if list(lengths) != sorted(lengths) or not lengths or lengths[0] < 1:
                raise ValueError("lengths must be ascending and positive")
            _CHECKED.add(lengths)
        self.width = width
        self.lengths = lengths
        self.head = NO_HEAD
        self.keys = array("q")
        self.counts = array("d")
        self.sums = array("d")
        self.squares = array("d")
        # Per window: index of its oldest bucket in the columns, and its totals.
        self.lo = [0] * len(lengths)
        self.totals = [0.0] * (3 * len(lengths))

    def key(self, epoch_s: float) -> int:
        """The bucket key of an instant (epoch seconds)."""
        return int(epoch_s // self.width)

    def __len__(self) -> int:
        return len(self.keys)

    def window(self, index: int, at_key: int) -> tuple[float, float, float]:
        """``(count, sum, sum of squares)`` of window ``index`` as seen at bucket ``at_key``.

        Pure: the ring is not advanced. For ``at_key`` behind the head (a late
        event) the totals as of the head are returned.
        """
        base = 3 * index
        count, total, squares = self.totals[base], self.totals[base + 1], self.totals[base + 2]
        if at_key <= self.head:
            return count, total, squares
        edge = at_key - self.lengths[index]
        keys = self.keys
        j = self.lo[index]
        # Subtract, in the same order as advance() would, what leaves the window.
        while j < len(keys) and keys[j] <= edge:
            count -= self.counts[j]
            total -= self.sums[j]
            squares -= self.squares[j]
            j += 1
        return count, total, squares

    def windows(self, at_key: int) -> list[float]:
        """Every window's ``(count, sum, sum of squares)``, flat, as :meth:`window` gives them.

        One call instead of one per window (the store's hot path); the same
        subtractions in the same order, so the floats are identical.
        """
        out = self.totals[:]
        if at_key <= self.head:
            return out
        keys, counts, sums, squares = self.keys, self.counts, self.sums, self.squares
        n = len(keys)
        base = 0
        for j, length in zip(self.lo, self.lengths, strict=True):
            edge = at_key - length
            if j < n and keys[j] <= edge:
                count, total, square = out[base], out[base + 1], out[base + 2]
                while j < n and keys[j] <= edge:
                    count -= counts[j]
                    total -= sums[j]
                    square -= squares[j]
                    j += 1
                out[base], out[base + 1], out[base + 2] = count, total, square
            base += 3
        return out

    def advance(self, to_key: int) -> None:
        """Move the head to ``to_key``, dropping buckets that left every window."""
        if to_key <= self.head:
            return
        self.head = to_key
        keys, totals = self.keys, self.totals
        n = len(keys)
        for i, length in enumerate(self.lengths):
            edge = to_key - length
            j = self.lo[i]
            base = 3 * i
            while j < n and keys[j] <= edge:
                totals[base] -= self.counts[j]
                totals[base + 1] -= self.sums[j]
                totals[base + 2] -= self.squares[j]
                j += 1
            self.lo[i] = j
        drop = self.lo[-1]  # the longest window has the oldest bucket
        if drop:
            del keys[:drop], self.counts[:drop], self.sums[:drop], self.squares[:drop]
            self.lo = [j - drop for j in self.lo]

    def add(self, epoch_s: float, value: float, weight: float = 1.0) -> bool:
        """Add one observation; ``False`` when it is older than the longest window."""
        k = int(epoch_s // self.width)
        keys = self.keys
        if k > self.head or (k == self.head and keys and keys[-1] == k):
            # In order (the usual case): the bucket is the newest, inside every window.
            if k > self.head:
                self.advance(k)
            if not keys or keys[-1] != k:
                keys.append(k)
                self.counts.append(0.0)
                self.sums.append(0.0)
                self.squares.append(0.0)
            # The same additions as below (0.0 + x first for a new bucket, as there).
            self.counts[-1] += weight
            self.sums[-1] += value
            self.squares[-1] += value * value
            totals = self.totals
            for base in range(0, len(totals), 3):
                totals[base] += weight
                totals[base + 1] += value
                totals[base + 2] += value * value
            return True
        if k <= self.head - self.lengths[-1]:
            return False
        n = len(keys)
        inserted = False
        if n and keys[n - 1] == k:
            pos = n - 1
        elif not n or keys[n - 1] < k:
            pos = n
            inserted = True
        else:  # a late observation: find (or make) its bucket
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
            elif inserted:  # a new bucket before this window's oldest one
                self.lo[i] += 1
        return True

    def to_json(self) -> list[Any]:
        """A JSON-ready, exact representation (floats round-trip through ``repr``).

        The ring's form in version-1 (JSON) snapshots, the inverse of
        :meth:`from_json`; snapshots are written with :meth:`to_bytes` now.
        """
        return [self.head, self.lo, self.totals, self.keys.tolist(), self.counts.tolist(),
                self.sums.tolist(), self.squares.tolist()]

    def to_bytes(self) -> bytes:
        """The ring in binary, exact: head, bucket count, ``lo``, totals, then the columns.

        Far cheaper than :meth:`to_json` for a full 30-day ring (no number is
        formatted as text): 32 bytes a bucket, whatever the values.
        """
        n = len(self.keys)
        if n <= SMALL_RING:
            return _small_ring(len(self.lengths), n, with_lo=True).pack(
                self.head, n, *self.lo, *self.totals,
                *self.keys, *self.counts, *self.sums, *self.squares)
        return b"".join((_RING_HEAD.pack(self.head, n),
                         pack_array(array("q", self.lo)), pack_array(array("d", self.totals)),
                         pack_array(self.keys), pack_array(self.counts),
                         pack_array(self.sums), pack_array(self.squares)))

    @classmethod
    def from_bytes(cls, width: int, lengths: tuple[int, ...], data: memoryview,
                   offset: int) -> tuple[BucketWindows, int]:
        """Rebuild a ring written by :meth:`to_bytes` at ``offset``; returns it and the end."""
        ring, n, offset = cls._read_head(width, lengths, data, offset)
        lo, offset = unpack_array("q", data, offset, len(lengths))
        totals, offset = unpack_array("d", data, offset, 3 * len(lengths))
        ring.keys, offset = unpack_array("q", data, offset, n)
        ring.counts, offset = unpack_array("d", data, offset, n)
        ring.sums, offset = unpack_array("d", data, offset, n)
        ring.squares, offset = unpack_array("d", data, offset, n)
        ring.lo = lo.tolist()
        if any(j < 0 or j > n for j in ring.lo):
            raise ValueError("feature-state snapshot has a window outside its buckets")
        ring.totals = totals.tolist()
        return ring, offset

    # -- split form (the changelog's head and history records) ----------------

    def recent_bytes(self, cut: int) -> bytes:
        """The ring without its buckets older than ``cut``: head, totals, buckets ``>= cut``.

        With :meth:`history_bytes` of the same ``cut`` it is the whole ring
        (:meth:`from_split` joins them). ``lo`` is not written: it follows from
        the keys and the head (see :meth:`from_split`).
        """
        start = bisect_left(self.keys, cut)
        n = len(self.keys) - start
        if not start and n <= SMALL_RING:
            return _small_ring(len(self.lengths), n, with_lo=False).pack(
                self.head, n, *self.totals, *self.keys, *self.counts, *self.sums, *self.squares)
        columns: tuple[array[Any], ...] = (self.keys, self.counts, self.sums, self.squares)
        if start:  # else all of them (always, for an entity without history): no copies
            columns = tuple(column[start:] for column in columns)
        return b"".join((_RING_HEAD.pack(self.head, len(self.keys) - start),
                         pack_array(array("d", self.totals)),
                         *[pack_array(column) for column in columns]))

    def history_bytes(self, cut: int) -> bytes:
        """The buckets older than ``cut``: their count, then key, count, sum, squares columns."""
        end = bisect_left(self.keys, cut)
        return b"".join((_COUNT.pack(end), pack_array(self.keys[:end]),
                         pack_array(self.counts[:end]), pack_array(self.sums[:end]),
                         pack_array(self.squares[:end])))

    def recent_count(self, cut: int) -> int:
        """How many stored buckets are at or after ``cut`` (what :meth:`recent_bytes` holds)."""
        return len(self.keys) - bisect_left(self.keys, cut)

    @classmethod
    def from_split(cls, width: int, lengths: tuple[int, ...], recent: memoryview,
                   offset: int, history: memoryview | None,
                   cut: int) -> tuple[BucketWindows, int]:
        """Join :meth:`recent_bytes` at ``offset`` and :meth:`history_bytes`; the ring and end.

        Only history buckets before ``cut`` (the head's) are taken: a history
        written at a later cut also holds buckets the head carries itself.
        History buckets that have left the longest window since they were
        written are dropped, as :meth:`advance` dropped them from the live ring;
        each window's first bucket (``lo``) is the first key inside it, which is
        what :meth:`add` and :meth:`advance` keep it at.
        """
        ring, n, offset = cls._read_head(width, lengths, recent, offset)
        head = ring.head
        totals, offset = unpack_array("d", recent, offset, 3 * len(lengths))
        ring.totals = totals.tolist()
        columns = []
        for typecode in "qddd":
            column, offset = unpack_array(typecode, recent, offset, n)
            columns.append(column)
        if history is not None:
            old = _history_columns(history)
            first = bisect_right(old[0], head - lengths[-1])  # still inside the longest window
            last = bisect_left(old[0], cut)
            if n and last > first and old[0][last - 1] >= columns[0][0]:
                raise ValueError("feature-state history overlaps its recent buckets")
            columns = [older[first:last] + newer
                       for older, newer in zip(old, columns, strict=True)]
        ring.keys, ring.counts, ring.sums, ring.squares = columns
        ring.lo = [bisect_right(ring.keys, head - length) for length in lengths]
        return ring, offset

    @classmethod
    def _read_head(cls, width: int, lengths: tuple[int, ...], data: memoryview,
                   offset: int) -> tuple[BucketWindows, int, int]:
        """An empty ring with the head key read at ``offset``; it, the bucket count, the end."""
        if offset + _RING_HEAD.size > len(data):
            raise ValueError("truncated feature-state snapshot")
        head, n = _RING_HEAD.unpack_from(data, offset)
        ring = cls(width, lengths)
        ring.head = head
        return ring, n, offset + _RING_HEAD.size

    @classmethod
    def from_json(cls, width: int, lengths: tuple[int, ...], data: list[Any]) -> BucketWindows:
        """Rebuild a ring written by :meth:`to_json`."""
        ring = cls(width, lengths)
        head, lo, totals, keys, counts, sums, squares = data
        if len(lo) != len(lengths) or len(totals) != 3 * len(lengths):
            raise ValueError("snapshot does not match the window lengths")
        ring.head = int(head)
        ring.lo = [int(j) for j in lo]
        ring.totals = [float(x) for x in totals]
        ring.keys = array("q", keys)
        ring.counts = array("d", counts)
        ring.sums = array("d", sums)
        ring.squares = array("d", squares)
        return ring


def _history_columns(data: memoryview) -> list[array[Any]]:
    """The columns written by :meth:`BucketWindows.history_bytes` (the whole of ``data``)."""
    if len(data) < _COUNT.size:
        raise ValueError("truncated feature-state history")
    (n,) = _COUNT.unpack_from(data, 0)
    offset = _COUNT.size
    columns = []
    for typecode in "qddd":
        column, offset = unpack_array(typecode, data, offset, n)
        columns.append(column)
    if offset != len(data):
        raise ValueError("feature-state history has trailing bytes")
    return columns
