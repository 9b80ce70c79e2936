"""Per-Kafka-partition buffers and the in-flight marker rules — pure logic, no I/O.

One flush of one Kafka partition becomes one Parquet file per ``dt``/``hour``
partition its rows fall in, all named after the flush's offset range. Before
those files are written, a marker naming them is stored for the Kafka
partition; offsets are committed after the files. So when a partition is
assigned, comparing its marker with the committed offset tells whether the
last flush's files were committed — if not, they are deleted before the
records are read again, and the replay (whose flush boundaries may differ:
size and time limits depend on how fast records arrive) cannot leave two files
holding the same offsets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import TYPE_CHECKING

from archiver.layout import OffsetRange, file_name, partition_path

if TYPE_CHECKING:
    from archiver.schema import Row


@dataclass(frozen=True)
class FlushLimits:
    """When a buffer is written: this many records, raw bytes, or seconds of age."""

    max_rows: int
    max_bytes: int
    max_age_s: float


@dataclass
class PartitionBuffer:
    """Records of one Kafka partition not yet written, grouped by lake partition."""

    topic: str
    partition: int
    table: str
    first: int | None = None
    last: int | None = None
    records: int = 0
    raw_bytes: int = 0
    opened_at: float = 0.0
    rows: dict[tuple[int, int, int, int], list[Row]] = field(default_factory=dict)
    """Rows by the (year, month, day, hour) of their moment: the lake partition, unformatted."""
    _hours: dict[tuple[int, int, int, int], datetime] = field(
        default_factory=dict, init=False, repr=False)
    """One moment of each hour in ``rows``, to name its folder at flush time."""

    def add(self, offset: int, size: int, now: float,
            row: Row | None = None, moment: datetime | None = None) -> None:
        """Take one record; ``row`` is ``None`` for a record that was dead-lettered
        (its offset still counts, so that committing moves past it)."""
        if self.first is None:
            self.first, self.opened_at = offset, now
        self.last = offset
        self.records += 1
        self.raw_bytes += size
        if row is not None and moment is not None:
            # The hour's folder name is formatted once per flush, not once per row.
            hour = (moment.year, moment.month, moment.day, moment.hour)
            rows = self.rows.get(hour)
            if rows is None:
                rows = self.rows[hour] = []
                self._hours[hour] = moment
            rows.append(row)

    @property
    def empty(self) -> bool:
        """No record taken since the last flush."""
        return self.first is None

    @property
    def row_count(self) -> int:
        """Rows that will be written (records minus dead letters)."""
        return sum(len(rows) for rows in self.rows.values())

    def due(self, now: float, limits: FlushLimits) -> str | None:
        """Why the buffer must be written now (``rows``, ``bytes``, ``age``), or ``None``."""
        if self.empty:
            return None
        if self.records >= limits.max_rows:
            return "rows"
        if self.raw_bytes >= limits.max_bytes:
            return "bytes"
        if now - self.opened_at >= limits.max_age_s:
            return "age"
        return None

    @property
    def source(self) -> OffsetRange:
        """The offsets taken since the last flush."""
        if self.first is None or self.last is None:
            raise ValueError("an empty buffer has no offset range")
        return OffsetRange(self.topic, self.partition, self.first, self.last)

    def files(self) -> list[tuple[str, list[Row]]]:
        """(key, rows) of every file of this flush, in key order."""
        name = file_name(self.source)
        files = [(f"{partition_path(self.table, self._hours[hour])}/{name}", rows)
                 for hour, rows in self.rows.items()]
        return sorted(files, key=itemgetter(0))

    def commit_offset(self) -> int:
        """The offset to commit once the files are durable: one past the last record."""
        if self.last is None:
            raise ValueError("an empty buffer has nothing to commit")
        return self.last + 1

    def clear(self) -> None:
        """Forget everything taken (after the flush was committed, or on revocation)."""
        self.first = self.last = None
        self.records = self.raw_bytes = 0
        self.rows = {}
        self._hours = {}


@dataclass(frozen=True)
class Marker:
    """What the last flush of a Kafka partition wrote (or started to write)."""

    source: OffsetRange
    keys: list[str]

    def encode(self) -> bytes:
        """The marker as JSON bytes."""
        return json.dumps({"topic": self.source.topic, "partition": self.source.partition,
                           "first": self.source.first, "last": self.source.last,
                           "keys": self.keys}, indent=1).encode()

    @classmethod
    def decode(cls, data: bytes) -> Marker:
        """Parse :meth:`encode`'s output."""
        body = json.loads(data)
        return cls(OffsetRange(str(body["topic"]), int(body["partition"]), int(body["first"]),
                               int(body["last"])), [str(key) for key in body["keys"]])


class MarkerState(StrEnum):
    """How a marker relates to the committed offset of its partition."""

    COMMITTED = "committed"
    """All its offsets are below the committed one: its files are the lake's."""
    UNCOMMITTED = "uncommitted"
    """None of its offsets was committed: the records will be read again."""
    STRADDLING = "straddling"
    """The committed offset falls inside its range (never written by this archiver)."""


def marker_state(marker: Marker, committed: int | None) -> MarkerState:
    """Classify ``marker`` against the partition's committed offset (``None`` = none yet)."""
    if committed is None or marker.source.first >= committed:
        return MarkerState.UNCOMMITTED
    if marker.source.last < committed:
        return MarkerState.COMMITTED
    return MarkerState.STRADDLING
