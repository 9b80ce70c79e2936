"""Helpers of the backend tests: transactions, settings, Stubber-ed clients behind async calls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import botocore.session
from botocore.client import BaseClient

from fraudstream_shared.events import Transaction, decode
from scorer.backends import BackendInput, BackendResult, BackendSettings
from tests.support.factories import original_sample_transaction

EVENT_TIME = "2026-11-25T14:03:07.123456"

Call = Callable[..., Awaitable[Mapping[str, Any]]]


def transaction(**overrides: Any) -> Transaction:
    """An original-sample transaction at a fixed instant, validated by the contract."""
    event = original_sample_transaction(**({"event_time": EVENT_TIME} | overrides))
    return decode(Transaction, json.dumps(event).encode())


def item(**overrides: Any) -> BackendInput:
    """A backend input with no feature vector (Fraud Detector does not use it)."""
    return BackendInput(transaction(**overrides))


def settings(**values: Any) -> BackendSettings:
    """Backend settings with a short timeout; tests override what they exercise."""
    defaults: dict[str, Any] = {"backend_timeout_s": 1.0, "backend_max_attempts": 3,
                                "aws_region": "us-east-1"}
    return BackendSettings(**(defaults | values))


def botocore_client(service: str) -> BaseClient:
    """A plain botocore client; a Stubber attached to it answers without the network."""
    return botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def async_call(method: Callable[..., Mapping[str, Any]]) -> Call:
    """A synchronous botocore client method as the async callable the backends take.

    botocore still validates the parameters against its service model and the
    Stubber checks them against the expected ones, so the real request
    builders and response parsers run against the real models.
    """
    async def call(**params: Any) -> Mapping[str, Any]:
        return method(**params)

    return call


class CountingCall:
    """Wraps a call, counting attempts; the first ``hang`` attempts never answer."""

    def __init__(self, inner: Call, hang: int = 0) -> None:
        self.inner = inner
        self.hang = hang
        self.attempts = 0

    async def __call__(self, **params: Any) -> Mapping[str, Any]:
        self.attempts += 1
        if self.attempts <= self.hang:
            await asyncio.Event().wait()
        return await self.inner(**params)


class Sleeps:
    """An injected ``sleep`` that records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class ModelBackend:
    """A stand-in for the embedded model: a fixed score, and a record of what it scored."""

    name = "embedded"

    def __init__(self, score: int = 321) -> None:
        self.score = score
        self.batches: list[list[str]] = []
        self.started = False
        self.closed = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def check(self) -> str | None:
        return None

    async def score_batch(self, items: Sequence[BackendInput]) -> list[BackendResult]:
        self.batches.append([i.transaction.event_id for i in items])
        return [BackendResult({"embedded": self.score}, {}, None, "embedded-1", "rules-1",
                              ["embedded model"]) for _ in items]
