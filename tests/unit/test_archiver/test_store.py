"""The two lake stores: a local folder (atomic, durable) and S3 (on moto's server)."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from archiver.buffer import Marker, PartitionBuffer
from archiver.layout import marker_key
from archiver.schema import DECISIONS, decision_row, to_table
from archiver.settings import ArchiverSettings
from archiver.store import LakeStore, LocalStore, S3Store, create_store
from archiver.worker import parquet_bytes
from tests.support.moto import moto_server, use_fake_credentials
from tests.unit.test_archiver.factories import decision

PREFIX = "lake/"


def _bucket() -> str:
    # moto's backend is process-wide: every test gets a bucket of its own.
    return f"lake-{uuid.uuid4().hex[:12]}"



@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    use_fake_credentials(monkeypatch)
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(params=["local", "s3"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LakeStore]:
    """Each store in turn, started; S3 on a moto server with the lake's bucket."""
    if request.param == "local":
        lake: LakeStore = LocalStore(tmp_path / "lake")
    else:
        endpoint, bucket = request.getfixturevalue("moto_endpoint"), _bucket()
        boto3.client("s3", region_name="eu-west-1", endpoint_url=endpoint).create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        lake = S3Store(bucket, PREFIX, region="eu-west-1", endpoint_url=endpoint)
    await lake.start()
    try:
        yield lake
    finally:
        await lake.close()


def _flush(count: int) -> PartitionBuffer:
    buffer = PartitionBuffer("processed_transactions", 1, "decisions")
    for offset in range(100, 100 + count):
        d = decision()
        row = decision_row(d, topic="processed_transactions", partition=1, offset=offset,
                           archived_at=d.event_time)
        buffer.add(offset, 100, 0.0, row, d.event_time)
    return buffer


async def test_put_get_replace_and_delete(store: LakeStore) -> None:
    await store.ping()
    assert await store.get("decisions/dt=2026-01-01/hour=00/missing.parquet") is None
    await store.put("a/b/c.bin", b"first")
    await store.put("a/b/c.bin", b"second")  # a replay overwrites
    assert await store.get("a/b/c.bin") == b"second"
    await store.delete(["a/b/c.bin", "a/b/never-written.bin"])
    assert await store.get("a/b/c.bin") is None


async def test_a_flush_round_trips_through_the_store(store: LakeStore) -> None:
    buffer = _flush(25)
    files = buffer.files()
    marker = Marker(buffer.source, [key for key, _ in files])
    await store.put(marker_key("processed_transactions", 1), marker.encode())
    for key, rows in files:
        await store.put(key, parquet_bytes(to_table(rows, DECISIONS)))
    stored = await store.get(marker_key("processed_transactions", 1))
    assert stored is not None
    assert Marker.decode(stored) == marker
    total = 0
    for key in marker.keys:
        data = await store.get(key)
        assert data is not None
        table = pq.read_table(io.BytesIO(data))
        assert table.schema.equals(DECISIONS)
        total += table.num_rows
    assert total == 25
    await store.delete(marker.keys)  # what a partition assignment does to an uncommitted flush
    assert [await store.get(key) for key in marker.keys] == [None] * len(marker.keys)


async def test_s3_objects_live_under_the_prefix(moto_endpoint: str) -> None:
    s3, bucket = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint), _bucket()
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    store = S3Store(bucket, PREFIX, region="eu-west-1", endpoint_url=moto_endpoint)
    await store.start()
    try:
        await store.put("decisions/dt=2026-01-01/hour=00/x.parquet", b"x")
    finally:
        await store.close()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["lake/decisions/dt=2026-01-01/hour=00/x.parquet"]


async def test_s3_ping_fails_for_a_missing_bucket(moto_endpoint: str) -> None:
    store = S3Store("no-such-bucket", PREFIX, region="eu-west-1", endpoint_url=moto_endpoint)
    await store.start()
    try:
        with pytest.raises(Exception, match="NoSuchBucket"):
            await store.ping()
    finally:
        await store.close()


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    import asyncio

    store = LocalStore(tmp_path)
    asyncio.run(store.put("decisions/dt=2026-01-01/hour=00/f.parquet", b"data"))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["f.parquet"]


def test_settings_choose_the_store(tmp_path: Path) -> None:
    local = create_store(ArchiverSettings(archiver_lake_dir=tmp_path))
    assert isinstance(local, LocalStore)
    remote = create_store(ArchiverSettings(archiver_destination="s3", archiver_s3_bucket="b"))
    assert isinstance(remote, S3Store)
    assert remote.description == "s3://b/lake/"


def test_s3_needs_a_bucket_and_topics_must_differ() -> None:
    with pytest.raises(ValueError, match="ARCHIVER_S3_BUCKET"):
        ArchiverSettings(archiver_destination="s3")
    with pytest.raises(ValueError, match="LABELS_TOPIC"):
        ArchiverSettings(decisions_topic="x", labels_topic="x")
    assert ArchiverSettings(labels_topic="").input_topics == ["processed_transactions"]
