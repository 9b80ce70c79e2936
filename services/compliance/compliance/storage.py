"""Where documents go: a local folder (default) or an S3 bucket with SSE-KMS.

Both write whole objects under ``<prefix><name>``; writes are idempotent (the
same document id always lands on the same key), so a retried document
overwrites its own copy instead of making a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import aioboto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from fraudstream_shared.exceptions import RetryableError

S3_TRANSIENT_CODES = frozenset({"SlowDown", "InternalError", "ServiceUnavailable",
                                "RequestTimeout", "RequestTimeTooSkewed", "Throttling",
                                "ThrottlingException", "503", "500"})


class DocumentStore(Protocol):
    """Writes routed documents, reason files and redacted copies."""

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write ``data`` at ``key``; return where it is (a path or ``s3://`` URI)."""
        ...

    async def close(self) -> None:
        """Release the client."""
        ...

    async def readiness(self) -> str | None:
        """``None`` when the destination is writable, else why not."""
        ...


class LocalStore:
    """Documents under a local root folder, written atomically (temp file, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """Write ``root/key`` atomically; return its path."""
        return await asyncio.to_thread(self._write, key, data)

    def _write(self, key: str, data: bytes) -> str:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"key {key!r} leaves the storage root")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return str(path)

    async def close(self) -> None:
        """Nothing to release."""

    async def readiness(self) -> str | None:
        """The root exists (or can be made) and is writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}"
        return None if os.access(self.root, os.W_OK) else f"{self.root} is not writable"


def s3_error_is_transient(exc: BaseException) -> bool:
    """Throttling, 5xx and connection problems are retried; access or missing keys are not."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in S3_TRANSIENT_CODES or status >= 500
    return isinstance(exc, BotoCoreError | OSError | asyncio.TimeoutError)


def s3_error_code(exc: BaseException) -> str:
    """The S3 error code (``NoSuchKey``…) or the exception's type name."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class S3Store:
    """Documents in one bucket, every object written with SSE-KMS under the given key."""

    def __init__(self, client: Any, bucket: str, kms_key_id: str) -> None:
        self.client = client
        self.bucket = bucket
        self.kms_key_id = kms_key_id

    async def put(self, key: str, data: bytes, content_type: str) -> str:
        """``PutObject`` with ``aws:kms`` encryption; transient failures raise RetryableError."""
        try:
            await self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type,
                ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id,
            )
        except Exception as exc:
            if s3_error_is_transient(exc):
                raise RetryableError(f"S3 put {key}: {s3_error_code(exc)}") from exc
            raise
        return f"s3://{self.bucket}/{key}"

    async def copy(self, source_key: str, key: str) -> str:
        """Server-side copy within the bucket, re-encrypted with the KMS key."""
        try:
            await self.client.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": source_key},
                ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id,
            )
        except Exception as exc:
            if s3_error_is_transient(exc):
                raise RetryableError(f"S3 copy {source_key}: {s3_error_code(exc)}") from exc
            raise
        return f"s3://{self.bucket}/{key}"

    async def get(self, key: str, max_bytes: int) -> tuple[bytes, int]:
        """The object's bytes (nothing when larger than ``max_bytes``) and its full size."""
        response = await self.client.get_object(Bucket=self.bucket, Key=key)
        size = int(response.get("ContentLength", 0))
        body = response["Body"]
        try:
            # A too-large object is refused by its size alone: none of it is read.
            data: bytes = b"" if size > max_bytes else await body.read()
        finally:
            body.close()
        return data, size

    async def delete(self, key: str) -> None:
        """Remove an object (the processed upload, once its copy is stored)."""
        await self.client.delete_object(Bucket=self.bucket, Key=key)

    async def close(self) -> None:
        """The client's context is closed by the worker."""

    async def readiness(self) -> str | None:
        """The bucket answers ``HeadBucket``."""
        try:
            await self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:  # any failure means not ready
            return f"{s3_error_code(exc)}: {exc}"[:300]
        return None


def aws_client_config() -> Config:
    """Bounded timeouts and botocore's standard retries for S3 and SQS."""
    return Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 3,
                                                               "mode": "standard"})


def aws_session() -> aioboto3.Session:
    """An aioboto3 session on botocore's default credential chain (the task role on ECS)."""
    return aioboto3.Session()
