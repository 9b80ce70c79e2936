"""File names and partition folders of the lake."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from archiver.layout import OffsetRange, file_name, marker_key, parse_file_name, partition_path

topics = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", min_size=1, max_size=40)
offsets = st.integers(min_value=0, max_value=2**63 - 1)


def test_partition_path_is_hive_style_by_utc_day_and_hour() -> None:
    moment = datetime(2026, 3, 9, 7, 59, 59, tzinfo=UTC)
    assert partition_path("decisions", moment) == "decisions/dt=2026-03-09/hour=07"


@given(topics, st.integers(min_value=0, max_value=10_000), offsets, offsets)
def test_file_names_encode_and_decode_their_offset_range(
    topic: str, partition: int, a: int, b: int
) -> None:
    source = OffsetRange(topic, partition, min(a, b), max(a, b))
    name = file_name(source)
    assert name.endswith(".parquet")
    assert parse_file_name(f"decisions/dt=2026-01-01/hour=00/{name}") == source


def test_file_names_sort_by_offset() -> None:
    names = [file_name(OffsetRange("t", 0, first, first + 9)) for first in (5, 100, 20, 3000)]
    assert sorted(names) == [file_name(OffsetRange("t", 0, f, f + 9)) for f in (5, 20, 100, 3000)]


def test_other_files_are_not_mistaken_for_lake_files() -> None:
    assert parse_file_name(".t+0+1+2.parquet.abc.tmp") is None
    assert parse_file_name("_inflight/t+0.json") is None


def test_overlap_needs_the_same_partition_and_a_common_offset() -> None:
    base = OffsetRange("t", 0, 10, 19)
    assert base.overlaps(OffsetRange("t", 0, 19, 30))
    assert base.overlaps(OffsetRange("t", 0, 0, 10))
    assert not base.overlaps(OffsetRange("t", 0, 20, 30))
    assert not base.overlaps(OffsetRange("t", 1, 10, 19))
    assert not base.overlaps(OffsetRange("u", 0, 10, 19))


def test_each_kafka_partition_has_its_own_marker() -> None:
    assert marker_key("t", 0) != marker_key("t", 1)
    assert marker_key("t", 0).startswith("_inflight/")
