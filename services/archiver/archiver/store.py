"""Where the lake's objects are kept: a local folder or an S3 prefix.

Both stores give the one guarantee the archiver builds on: when :meth:`put`
returns, the object is durable and complete under its key (readers never see
half a file), and putting the same key again replaces it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError


class LakeStore(Protocol):
    """Durable, atomic object storage under keys like ``decisions/dt=…/hour=…/name.parquet``."""

    description: str
    """Where the lake is, for logs (a path or ``s3://bucket/prefix``)."""

    async def start(self) -> None:
        """Open clients (and check the destination exists)."""

    async def close(self) -> None:
        """Release clients."""

    async def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key``; returns once it is durable."""

    async def get(self, key: str) -> bytes | None:
        """The object at ``key``, or ``None`` when there is none."""

    async def delete(self, keys: list[str]) -> None:
        """Remove ``keys`` (missing ones are fine)."""

    async def ping(self) -> None:
        """Raise when the destination cannot be reached."""


class LocalStore:
    """A folder: each put writes a temporary file, fsyncs it, renames it into place
    and fsyncs the folder, so a crash leaves either the old file or the new one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.description = str(root)

    async def start(self) -> None:
        """Create the root folder."""
        await asyncio.to_thread(self.root.mkdir, parents=True, exist_ok=True)

    async def close(self) -> None:
        """Nothing to release."""

    async def put(self, key: str, data: bytes) -> None:
        """Atomic, durable write (temp + fsync + rename + fsync of the folder)."""
        await asyncio.to_thread(_write_durably, self.root / key, data)

    async def get(self, key: str) -> bytes | None:
        """The file's bytes, or ``None``."""
        try:
            return await asyncio.to_thread((self.root / key).read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, keys: list[str]) -> None:
        """Unlink the files, then fsync their folders so the deletion is durable too."""
        await asyncio.to_thread(_delete_durably, [self.root / key for key in keys])

    async def ping(self) -> None:
        """The root folder exists and is writable."""
        if not os.access(self.root, os.W_OK):
            raise OSError(f"{self.root} is not writable")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name starts with "." so that readers globbing *.parquet skip it.
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)


def _delete_durably(paths: list[Path]) -> None:
    folders = set()
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            folders.add(path.parent)
    for folder in folders:
        _fsync_dir(folder)


class S3Store:
    """An S3 prefix through aioboto3: a completed PutObject is durable and atomic.

    The bucket's default encryption (SSE-KMS in the AWS deployment) applies;
    the task role needs ``s3:PutObject``, ``s3:GetObject`` and ``s3:DeleteObject``
    on ``<bucket>/<prefix>*`` plus the key's ``kms:GenerateDataKey``/``kms:Decrypt``.
    """

    def __init__(self, bucket: str, prefix: str, *, region: str | None = None,
                 endpoint_url: str | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.description = f"s3://{bucket}/{prefix}"
        self._region = region
        self._endpoint_url = endpoint_url
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None

    async def start(self) -> None:
        """Open the S3 client."""
        # Imported here: aioboto3 takes seconds to import, and a local lake never needs it.
        import aioboto3

        session = aioboto3.Session()
        self._client = await self._stack.enter_async_context(
            session.client("s3", region_name=self._region, endpoint_url=self._endpoint_url))

    async def close(self) -> None:
        """Close the S3 client."""
        await self._stack.aclose()

    async def put(self, key: str, data: bytes) -> None:
        """PutObject; S3 acknowledges only once the object is stored durably."""
        await self._client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    async def get(self, key: str) -> bytes | None:
        """GetObject, or ``None`` when the key does not exist.

        It lists first: a role whose ``s3:ListBucket`` is limited to the lake's
        prefix gets 403, not 404, for a missing key, so existence is asked of
        ListObjectsV2 (allowed by that prefix condition) instead.
        """
        full = self.prefix + key
        listing = await self._client.list_objects_v2(Bucket=self.bucket, Prefix=full, MaxKeys=1)
        if not any(item["Key"] == full for item in listing.get("Contents", [])):
            return None
        try:
            response = await self._client.get_object(Bucket=self.bucket, Key=full)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None  # deleted between the listing and the read
            raise
        async with response["Body"] as body:
            data: bytes = await body.read()
        return data

    async def delete(self, keys: list[str]) -> None:
        """DeleteObjects in batches of 1,000 (the API's limit)."""
        for start in range(0, len(keys), 1000):
            chunk = keys[start:start + 1000]
            response = await self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self.prefix + k} for k in chunk], "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise OSError(f"S3 could not delete {first.get('Key')}: {first.get('Code')}")

    async def ping(self) -> None:
        """List one key under the prefix (within the role's prefix-limited ListBucket)."""
        await self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)


def create_store(settings: Any) -> LakeStore:
    """The store ``ARCHIVER_DESTINATION`` asks for."""
    if settings.archiver_destination == "s3":
        return S3Store(settings.archiver_s3_bucket, settings.archiver_s3_prefix,
                       region=settings.aws_region, endpoint_url=settings.archiver_s3_endpoint_url)
    return LocalStore(Path(settings.archiver_lake_dir))
