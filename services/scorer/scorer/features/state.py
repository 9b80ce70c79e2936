"""The state of one entity (customer, card, merchant or IP) and its snapshot encoding."""

from __future__ import annotations

import json
import math
import struct
from array import array
from dataclasses import dataclass, field

from scorer.features.windows import BYTES_PER_BUCKET, BucketWindows, pack_array, unpack_array

MINUTE = 60
HOUR = 3600
MINUTE_LENGTHS = (60,)
"""Minute buckets: the 1 h window."""
HOUR_LENGTHS = (24, 24 * 7, 24 * 30)
"""Hour buckets: the 24 h, 7 d and 30 d windows (amounts, and merchants' labels)."""

SNAPSHOT_VERSION = 1
"""The JSON snapshot (an object with ``"v": 1``): written until 2026-11-26, still read."""
BINARY_VERSION = 2
"""The whole-state binary snapshot: its first byte (the changelog's form until 2026-11-26)."""
SPLIT_VERSION = 3
"""The changelog's head record (and its history record) written now: their first byte."""
NO_HISTORY = -(1 << 63)
"""A head record's cut when the entity has no history record: the head holds every bucket."""

_HAS_DISTINCT, _HAS_BILLING, _HAS_LABELS = 1, 2, 4
_HEAD = struct.Struct("<BBdd")
"""Binary snapshot head: version, flags, last time, last activity (little-endian)."""
_SPLIT_HEAD = struct.Struct("<BBddq")
"""Head record: version 3, flags, last time, last activity, history cut (hour key)."""
_HISTORY_HEAD = struct.Struct("<Bq")
"""History record: version 3, then the cut it was written at (checked against the head)."""
_PAIR = struct.Struct("<dd")
_COUNT = struct.Struct("<I")
_BYTE = struct.Struct("<B")

SMALL_SET = 64
"""Distinct-value sets of at most this many values (the store's default cap) are written by
one cached ``struct``: the same bytes as the general path, faster."""
_SMALL_SETS: dict[int, struct.Struct] = {}
_KIND_NAMES: dict[str, bytes] = {}


def _small_set(size: int) -> struct.Struct:
    """The layout of a distinct-value set: its size, the hashes, the times last seen."""
    layout = _SMALL_SETS.get(size)
    if layout is None:
        layout = _SMALL_SETS[size] = struct.Struct(f"<I{size}q{size}d")
    return layout


def _kind_name(kind: str) -> bytes:
    """A distinct kind's name as written: its length in one byte, then UTF-8."""
    written = _KIND_NAMES.get(kind)
    if written is None:
        name = kind.encode("utf-8")
        written = _KIND_NAMES[kind] = _BYTE.pack(len(name)) + name
    return written


DISTINCT_KINDS = ("ip", "ua", "merchant")
"""What a customer's distinct-value sets count over 24 h."""


def minute_ring() -> BucketWindows:
    """An empty ring of minute buckets (the 1 h window)."""
    return BucketWindows(MINUTE, MINUTE_LENGTHS)


def hour_ring() -> BucketWindows:
    """An empty ring of hour buckets (24 h, 7 d, 30 d)."""
    return BucketWindows(HOUR, HOUR_LENGTHS)


@dataclass(slots=True)
class FeatureState:
    """Everything remembered about one entity.

    ``minute``/``hour`` hold its amounts; ``distinct`` (customers only) maps a
    kind to ``{crc32 of the value: last seen}``; ``billing`` (customers only)
    the last billing coordinates; ``labels`` (merchants only) the labels that
    have arrived, bucketed by arrival time (count = labels, sum = frauds).
    """

    last_time: float = -math.inf
    """Event time of the newest transaction (``-inf`` before the first)."""
    last_activity: float = -math.inf
    """Newest event or label time: what idle-expiry looks at."""
    minute: BucketWindows = field(default_factory=minute_ring)
    hour: BucketWindows = field(default_factory=hour_ring)
    distinct: dict[str, dict[int, float]] | None = None
    billing: tuple[float, float] | None = None
    labels: BucketWindows | None = None
    fraud_streak: float = 0.0
    """Consecutive fraud labels among the latest arrived (merchants only)."""
    last_fraud_label: float = -math.inf
    """Arrival time of the newest fraud label (merchants only)."""
    history_cut: int | None = field(default=None, compare=False)
    """Hour key below which the hour buckets are in the changelog's history record;
    ``None`` while the entity has none (its head record holds every bucket)."""
    history_stale: bool = field(default=False, compare=False)
    """A bucket below ``history_cut`` changed (a late event) since the history was written."""

    def approx_bytes(self) -> int:
        """Payload bytes held (buckets and distinct entries), without Python object overhead."""
        size = BYTES_PER_BUCKET * (len(self.minute) + len(self.hour))
        if self.labels is not None:
            size += BYTES_PER_BUCKET * len(self.labels)
        if self.distinct:
            size += 16 * sum(len(d) for d in self.distinct.values())
        return size

    def encode(self) -> bytes:
        """The whole-state binary snapshot: exact (every float bit for bit), read by :meth:`decode`.

        The changelog's form until it was split into head and history records
        (:meth:`encode_head`, :meth:`encode_history`); still read from older
        changelogs, and what :meth:`FeatureStore.snapshot` returns.
        Layout (little-endian): version ``2``, flags (distinct, billing,
        labels), last time and last activity (float64, ``-inf`` = never), the
        minute and hour rings (:meth:`BucketWindows.to_bytes`), then what the
        flags say: per distinct kind its name and ``(hash, last seen)``
        columns; the billing coordinates; the labels ring, streak and last
        fraud label.
        """
        parts = [_HEAD.pack(BINARY_VERSION, self._flags(), self.last_time, self.last_activity),
                 self.minute.to_bytes(), self.hour.to_bytes()]
        self._append_tail(parts)
        return b"".join(parts)

    def encode_head(self) -> bytes:
        """The changelog's head record: the state without the hour buckets in its history.

        Layout as :meth:`encode` but version ``3``, with the history cut (an
        hour key, :data:`NO_HISTORY` without a history record) after the times
        and the hour ring written by :meth:`BucketWindows.recent_bytes`: the
        buckets at or after the cut, so a busy entity's record stays small
        while its 30 days of hours are written only now and then
        (:meth:`encode_history`).
        """
        cut = NO_HISTORY if self.history_cut is None else self.history_cut
        parts = [_SPLIT_HEAD.pack(SPLIT_VERSION, self._flags(), self.last_time,
                                  self.last_activity, cut),
                 self.minute.to_bytes(), self.hour.recent_bytes(cut)]
        self._append_tail(parts)
        return b"".join(parts)

    def encode_history(self, cut: int) -> bytes:
        """The history record: the hour buckets before ``cut``; ``cut`` becomes the state's.

        Written just before a head record (:meth:`encode_head`, after this
        call) in the same transaction; a restore joins the two and refuses a
        history older than its head's cut.
        """
        self.history_cut = cut
        self.history_stale = False
        return _HISTORY_HEAD.pack(SPLIT_VERSION, cut) + self.hour.history_bytes(cut)

    def _flags(self) -> int:
        return ((_HAS_DISTINCT if self.distinct is not None else 0)
                | (_HAS_BILLING if self.billing is not None else 0)
                | (_HAS_LABELS if self.labels is not None else 0))

    def _append_tail(self, parts: list[bytes]) -> None:
        """What follows the rings in both binary forms: distinct values, billing, labels."""
        if self.distinct is not None:
            parts.append(_BYTE.pack(len(self.distinct)))
            for kind, seen in self.distinct.items():
                parts.append(_kind_name(kind))
                n = len(seen)
                if n <= SMALL_SET:
                    parts.append(_small_set(n).pack(n, *seen.keys(), *seen.values()))
                else:
                    parts += [_COUNT.pack(n), pack_array(array("q", seen.keys())),
                              pack_array(array("d", seen.values()))]
        if self.billing is not None:
            parts.append(_PAIR.pack(*self.billing))
        if self.labels is not None:
            parts += [self.labels.to_bytes(),
                      _PAIR.pack(self.fraud_streak, self.last_fraud_label)]

    @classmethod
    def decode(cls, data: bytes) -> FeatureState:
        """Rebuild a state written by :meth:`encode` (or the older JSON form).

        ``ValueError`` on a foreign, truncated or unknown-version payload.
        """
        if data[:1] == b"{":
            return cls._decode_json(data)
        if data[:1] != bytes((BINARY_VERSION,)):
            raise ValueError("not a feature-state snapshot of a known version")
        try:
            return cls._decode_binary(memoryview(data))
        except struct.error as exc:
            raise ValueError(f"truncated feature-state snapshot: {exc}") from exc

    @classmethod
    def _decode_binary(cls, view: memoryview) -> FeatureState:
        _, flags, last_time, last_activity = _HEAD.unpack_from(view, 0)
        offset = _HEAD.size
        minute, offset = BucketWindows.from_bytes(MINUTE, MINUTE_LENGTHS, view, offset)
        hour, offset = BucketWindows.from_bytes(HOUR, HOUR_LENGTHS, view, offset)
        state = cls(last_time=last_time, last_activity=last_activity, minute=minute, hour=hour)
        return state._read_tail(view, offset, flags)

    @classmethod
    def decode_split(cls, head: bytes, history: bytes | None) -> FeatureState:
        """Rebuild a state from its changelog records: a head and, if it has one, its history.

        ``head`` may also be a whole-state snapshot (versions 1 and 2, written
        before the split), which needs no history. ``ValueError`` on a foreign
        or truncated record, on a head whose history is missing, or on a
        history written at an earlier cut than the head's.
        """
        if head[:1] != bytes((SPLIT_VERSION,)):
            return cls.decode(head)
        try:
            return cls._decode_split(memoryview(head), history)
        except struct.error as exc:
            raise ValueError(f"truncated feature-state snapshot: {exc}") from exc

    @classmethod
    def _decode_split(cls, view: memoryview, history: bytes | None) -> FeatureState:
        _, flags, last_time, last_activity, cut = _SPLIT_HEAD.unpack_from(view, 0)
        older: memoryview | None = None
        if cut != NO_HISTORY:
            if history is None:
                raise ValueError("feature-state head refers to a history record that is missing")
            hist = memoryview(history)
            if hist[:1] != bytes((SPLIT_VERSION,)) or len(hist) < _HISTORY_HEAD.size:
                raise ValueError("not a feature-state history record of a known version")
            _, written_at = _HISTORY_HEAD.unpack_from(hist, 0)
            # A history is written before its head (changelog_records' order), so
            # without transactions (SCORER_EXACTLY_ONCE=false) a crash between the
            # two leaves a history newer than the head: its buckets before the
            # head's cut are the ones the head needs. An older one cannot be.
            if written_at < cut:
                raise ValueError(f"feature-state history was written at cut {written_at}, "
                                 f"before its head's cut {cut}")
            older = hist[_HISTORY_HEAD.size:]
        offset = _SPLIT_HEAD.size
        minute, offset = BucketWindows.from_bytes(MINUTE, MINUTE_LENGTHS, view, offset)
        hour, offset = BucketWindows.from_split(HOUR, HOUR_LENGTHS, view, offset, older, cut)
        state = cls(last_time=last_time, last_activity=last_activity, minute=minute, hour=hour,
                    history_cut=None if cut == NO_HISTORY else cut)
        return state._read_tail(view, offset, flags)

    def _read_tail(self, view: memoryview, offset: int, flags: int) -> FeatureState:
        """Read what :meth:`_append_tail` wrote at ``offset``; ``self``, complete."""
        if flags & _HAS_DISTINCT:
            (kinds,) = _BYTE.unpack_from(view, offset)
            offset += _BYTE.size
            self.distinct = {}
            for _ in range(kinds):
                (size,) = _BYTE.unpack_from(view, offset)
                offset += _BYTE.size
                kind = bytes(view[offset:offset + size]).decode("utf-8")
                offset += size
                (count,) = _COUNT.unpack_from(view, offset)
                offset += _COUNT.size
                hashes, offset = unpack_array("q", view, offset, count)
                seen, offset = unpack_array("d", view, offset, count)
                self.distinct[kind] = dict(zip(hashes.tolist(), seen.tolist(), strict=True))
        if flags & _HAS_BILLING:
            self.billing = _PAIR.unpack_from(view, offset)
            offset += _PAIR.size
        if flags & _HAS_LABELS:
            self.labels, offset = BucketWindows.from_bytes(HOUR, HOUR_LENGTHS, view, offset)
            self.fraud_streak, self.last_fraud_label = _PAIR.unpack_from(view, offset)
            offset += _PAIR.size
        if offset != len(view):
            raise ValueError("feature-state snapshot has trailing bytes")
        return self

    @classmethod
    def _decode_json(cls, data: bytes) -> FeatureState:
        """The version-1 JSON snapshot (changelogs written before the binary form)."""
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("v") != SNAPSHOT_VERSION:
            raise ValueError("not a feature-state snapshot of a known version")
        state = cls(
            last_time=_infinite(doc["t"]),
            last_activity=_infinite(doc["a"]),
            minute=BucketWindows.from_json(MINUTE, MINUTE_LENGTHS, doc["m"]),
            hour=BucketWindows.from_json(HOUR, HOUR_LENGTHS, doc["h"]),
        )
        if "d" in doc:
            state.distinct = {kind: {int(h): float(seen) for h, seen in pairs}
                              for kind, pairs in doc["d"].items()}
        if "b" in doc:
            lat, lon = doc["b"]
            state.billing = (float(lat), float(lon))
        if "l" in doc:
            state.labels = BucketWindows.from_json(HOUR, HOUR_LENGTHS, doc["l"])
            state.fraud_streak = float(doc.get("s", 0.0))
            state.last_fraud_label = _infinite(doc.get("f"))
        return state


def _infinite(value: float | None) -> float:
    return -math.inf if value is None else float(value)
