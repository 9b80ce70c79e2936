"""Where files go in the lake and what they are called — pure functions.

A file holds the rows of one table, one ``dt``/``hour`` partition and one
*flush* of one Kafka partition: its name is ``<topic>+<partition>+<first>+<last>.parquet``
with the flush's first and last offset (zero-padded, so names sort by offset).
Re-writing the same flush after a crash produces the same key and overwrites;
a flush with different boundaries is prevented from overlapping by the
in-flight marker (see :mod:`archiver.flush`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

OFFSET_DIGITS = 20
MARKER_FOLDER = "_inflight"
"""Folder (next to the tables) of the per-partition in-flight markers."""

_NAME = re.compile(r"^(?P<topic>.+)\+(?P<partition>\d+)\+(?P<first>\d+)\+(?P<last>\d+)\.parquet$")


@dataclass(frozen=True, order=True)
class OffsetRange:
    """The offsets one flush of one Kafka partition covers (both ends included)."""

    topic: str
    partition: int
    first: int
    last: int

    def overlaps(self, other: OffsetRange) -> bool:
        """Same topic partition and at least one offset in common."""
        return (self.topic == other.topic and self.partition == other.partition
                and self.first <= other.last and other.first <= self.last)


def partition_path(table: str, moment: datetime) -> str:
    """``<table>/dt=YYYY-MM-DD/hour=HH`` of a (UTC) timestamp."""
    return f"{table}/dt={moment:%Y-%m-%d}/hour={moment:%H}"


def file_name(source: OffsetRange) -> str:
    """The Parquet file name of one flush (``+`` cannot occur in a Kafka topic name)."""
    return (f"{source.topic}+{source.partition}+{source.first:0{OFFSET_DIGITS}d}"
            f"+{source.last:0{OFFSET_DIGITS}d}.parquet")


def parse_file_name(name: str) -> OffsetRange | None:
    """The offset range a file name encodes, or ``None`` for anything else."""
    match = _NAME.match(name.rsplit("/", 1)[-1])
    if match is None:
        return None
    return OffsetRange(match["topic"], int(match["partition"]), int(match["first"]),
                       int(match["last"]))


def marker_key(topic: str, partition: int) -> str:
    """The key of a Kafka partition's in-flight marker."""
    return f"{MARKER_FOLDER}/{topic}+{partition}.json"
