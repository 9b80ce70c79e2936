"""Buffers, flush limits and the in-flight marker rule (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.buffer import FlushLimits, Marker, MarkerState, PartitionBuffer, marker_state
from archiver.layout import OffsetRange, parse_file_name

LIMITS = FlushLimits(max_rows=5, max_bytes=1000, max_age_s=10.0)
NOON = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)


def test_rows_go_to_the_hour_of_their_own_time_late_ones_included() -> None:
    buffer = PartitionBuffer("decisions-topic", 2, "decisions")
    buffer.add(40, 10, now=0.0, row=(1,), moment=NOON)
    buffer.add(41, 10, now=0.1, row=(2,), moment=NOON - timedelta(hours=3))  # late
    buffer.add(42, 10, now=0.2, row=(3,), moment=NOON + timedelta(minutes=5))
    files = buffer.files()
    assert [key.rsplit("/", 1)[0] for key, _ in files] == [
        "decisions/dt=2026-05-01/hour=09", "decisions/dt=2026-05-01/hour=12"]
    assert [len(rows) for _, rows in files] == [1, 2]
    # Every file of the flush is named after the flush's whole offset range.
    assert {parse_file_name(key) for key, _ in files} == {
        OffsetRange("decisions-topic", 2, 40, 42)}
    assert buffer.commit_offset() == 43


def test_dead_lettered_records_move_the_offset_but_write_nothing() -> None:
    buffer = PartitionBuffer("t", 0, "decisions")
    buffer.add(7, 3, now=0.0)
    buffer.add(8, 3, now=0.0)
    assert not buffer.empty
    assert buffer.files() == []
    assert buffer.row_count == 0
    assert buffer.commit_offset() == 9


def test_a_buffer_is_due_by_records_bytes_or_age_and_never_when_empty() -> None:
    buffer = PartitionBuffer("t", 0, "decisions")
    assert buffer.due(1e9, LIMITS) is None
    buffer.add(0, 10, now=100.0, row=(), moment=NOON)
    assert buffer.due(105.0, LIMITS) is None
    assert buffer.due(110.0, LIMITS) == "age"
    for offset in range(1, 5):
        buffer.add(offset, 10, now=101.0, row=(), moment=NOON)
    assert buffer.due(101.0, LIMITS) == "rows"
    big = PartitionBuffer("t", 0, "decisions")
    big.add(0, 1000, now=0.0, row=(), moment=NOON)
    assert big.due(0.0, LIMITS) == "bytes"


def test_age_counts_from_the_first_record_after_a_flush() -> None:
    buffer = PartitionBuffer("t", 0, "decisions")
    buffer.add(0, 1, now=0.0, row=(), moment=NOON)
    buffer.clear()
    assert buffer.empty
    buffer.add(1, 1, now=50.0, row=(), moment=NOON)
    assert buffer.due(55.0, LIMITS) is None
    assert buffer.source == OffsetRange("t", 0, 1, 1)


def test_marker_round_trips() -> None:
    marker = Marker(OffsetRange("t", 3, 10, 20), ["decisions/dt=2026-05-01/hour=12/x.parquet"])
    assert Marker.decode(marker.encode()) == marker


def test_marker_state_against_the_committed_offset() -> None:
    marker = Marker(OffsetRange("t", 0, 10, 19), [])
    assert marker_state(marker, None) is MarkerState.UNCOMMITTED
    assert marker_state(marker, 10) is MarkerState.UNCOMMITTED
    assert marker_state(marker, 5) is MarkerState.UNCOMMITTED
    assert marker_state(marker, 20) is MarkerState.COMMITTED
    assert marker_state(marker, 25) is MarkerState.COMMITTED
    assert marker_state(marker, 15) is MarkerState.STRADDLING


class LakeModel:
    """The archiver's protocol for one Kafka partition over an in-memory lake:
    marker, files, commit — with a crash possible between any two steps."""

    def __init__(self) -> None:
        self.files: dict[str, list[int]] = {}
        self.marker: Marker | None = None
        self.committed: int | None = None

    def assign(self) -> None:
        """What ``_on_assigned`` does."""
        if self.marker and marker_state(self.marker, self.committed) is MarkerState.UNCOMMITTED:
            for key in self.marker.keys:
                self.files.pop(key, None)
            self.marker = None

    def run(self, end: int, flush_every: int, crash_at_step: int | None) -> bool:
        """Read from the committed offset to ``end``, flushing every ``flush_every``
        records; stop at step ``crash_at_step`` (a kill -9). True when it got to the end."""
        self.assign()
        step = 0
        buffer = PartitionBuffer("t", 0, "decisions")
        start = self.committed or 0
        for offset in range(start, end):
            hour = NOON + timedelta(hours=offset % 3)  # rows spread over several files
            buffer.add(offset, 1, now=0.0, row=(offset,), moment=hour)
            if buffer.records < flush_every and offset != end - 1:
                continue
            files = buffer.files()
            for action in ("marker", *[key for key, _ in files], "commit"):
                if step == crash_at_step:
                    return False
                step += 1
                if action == "marker":
                    self.marker = Marker(buffer.source, [key for key, _ in files])
                elif action == "commit":
                    self.committed = buffer.commit_offset()
                else:
                    self.files[action] = [row[0] for row in dict(files)[action]]
            buffer.clear()
        return True


@settings(max_examples=200, deadline=None)
@given(end=st.integers(1, 60), first_flush=st.integers(1, 20),
       crashes=st.lists(st.tuples(st.integers(1, 20), st.integers(0, 40)), max_size=4),
       final_flush=st.integers(1, 20))
def test_crashes_and_replays_with_other_boundaries_leave_every_offset_once(
    end: int, first_flush: int, crashes: list[tuple[int, int]], final_flush: int
) -> None:
    lake = LakeModel()
    lake.run(end, first_flush, crash_at_step=None if not crashes else crashes[0][1])
    for flush_every, crash_at in crashes[1:]:
        lake.run(end, flush_every, crash_at)
    assert lake.run(end, final_flush, crash_at_step=None)
    stored = sorted(offset for rows in lake.files.values() for offset in rows)
    assert stored == list(range(end))
