"""Timeouts, retries with jittered backoff, the circuit breaker and the fallback.

Both remote backends (Fraud Detector, SageMaker) call AWS through a
:class:`GuardedCall`: one attempt is bounded by a timeout; throttling,
server errors, connection errors and timeouts are retried with exponential
backoff and full jitter; invalid requests are not retried; the circuit
breaker short-circuits calls while the service is failing. A call that cannot
be made ends as :class:`CallFailed`, and :class:`RemoteBackend` then scores
those items with the fallback backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    HTTPClientError,
)

from fraudstream_shared.exceptions import FraudstreamError
from fraudstream_shared.logging import log_event
from fraudstream_shared.retry import backoff_delay
from scorer.backends.base import BackendInput, BackendResult, ScoringBackend
from scorer.backends.circuit import CircuitBreaker, CircuitState
from scorer.backends.settings import BackendSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_CODES = frozenset({
    "ThrottlingException", "TooManyRequestsException", "Throttling", "ThrottledException",
    "RequestLimitExceeded", "InternalServerException", "InternalFailure",
    "ServiceUnavailable", "ServiceUnavailableException", "ResourceUnavailableException",
    "ModelNotReadyException", "InternalDependencyException", "RequestTimeout",
})
"""Error codes of a transient condition; 429 and 5xx statuses are retried too."""

ServiceCall = Callable[..., Awaitable[Mapping[str, Any]]]
"""An AWS operation as an async callable taking the request's keyword arguments."""

REQUEST_CODES = frozenset({"ValidationException", "ValidationError"})
"""This one request is invalid: not retried, and no sign that the service is unwell."""


class BackendResponseError(FraudstreamError):
    """The service answered something we cannot use (wrong row count, not a number…)."""


class ErrorKind(StrEnum):
    """How a failed attempt is handled."""

    TRANSIENT = "transient"  # retried; counts against the breaker
    REQUEST = "request"  # not retried; the service is healthy
    SERVICE = "service"  # not retried; counts against the breaker


def error_code(error: BaseException) -> str:
    """The AWS error code, or the exception's class name."""
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    return type(error).__name__


def classify(error: BaseException) -> ErrorKind | None:
    """How to treat ``error``; ``None`` for anything that is not a service failure (a bug)."""
    if isinstance(error, TimeoutError):
        return ErrorKind.TRANSIENT
    if isinstance(error, ClientError):
        code = error_code(error)
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in REQUEST_CODES:
            return ErrorKind.REQUEST
        if code in RETRYABLE_CODES or status == 429 or status >= 500:
            return ErrorKind.TRANSIENT
        return ErrorKind.SERVICE
    # Connection refused/reset, connect and read timeouts.
    if isinstance(error, ConnectionError | HTTPClientError):
        return ErrorKind.TRANSIENT
    if isinstance(error, BotoCoreError | BackendResponseError):
        return ErrorKind.SERVICE
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Per-attempt timeout and exponential backoff with full jitter."""

    max_attempts: int = 3
    timeout_s: float = 2.0
    base_s: float = 0.1
    cap_s: float = 2.0

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> RetryPolicy:
        """The policy the settings describe."""
        return cls(settings.backend_max_attempts, settings.backend_timeout_s,
                   settings.backend_retry_base_s, settings.backend_retry_cap_s)

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Wait before retry number ``retry`` (0-based): uniform in [0, min(cap, base·2^retry)].

        Full jitter spreads the retries of many concurrent calls, which is what
        a throttled service needs.
        """
        return backoff_delay(retry, base_s=self.base_s, cap_s=self.cap_s, jitter=1.0, rng=rng)


@dataclass(frozen=True)
class CallFailed:
    """A call that produced no answer: why, and after how many attempts."""

    reason: str
    attempts: int


class GuardedCall:
    """Runs calls to one service under the retry policy and the circuit breaker."""

    def __init__(
        self,
        service: str,
        policy: RetryPolicy,
        breaker: CircuitBreaker,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.policy = policy
        self.breaker = breaker
        self._sleep = sleep
        self._rng = rng

    async def call(self, operation: Callable[[], Awaitable[T]]) -> T | CallFailed:
        """``operation``'s result, or :class:`CallFailed` once it cannot succeed.

        Unexpected exceptions (bugs) propagate.
        """
        attempts = 0
        last = ""
        while True:
            if not self._allow():
                why = f"{self.service} circuit open"
                return CallFailed(f"{why} (last error {last})" if last else why, attempts)
            attempts += 1
            try:
                async with asyncio.timeout(self.policy.timeout_s):
                    result = await operation()
            except Exception as error:
                kind = classify(error)
                last = error_code(error)
                if kind is ErrorKind.REQUEST:
                    self._record(success=True)
                    return CallFailed(f"{self.service} rejected the request: {last}", attempts)
                self._record(success=False)
                if kind is None:
                    raise
                if kind is ErrorKind.SERVICE:
                    return CallFailed(f"{self.service} error {last}", attempts)
                if attempts >= self.policy.max_attempts:
                    return CallFailed(
                        f"{self.service} {last} after {attempts} attempts", attempts)
                delay = self.policy.delay(attempts - 1, self._rng)
                log_event(log, logging.DEBUG, "scorer.backend.retry", backend=self.service,
                          attempt=attempts, error=last, delay_s=round(delay, 3))
                await self._sleep(delay)
            else:
                self._record(success=True)
                return result

    def _allow(self) -> bool:
        before = self.breaker.state
        allowed = self.breaker.allow()
        if allowed and before is CircuitState.HALF_OPEN:
            log_event(log, logging.INFO, "scorer.backend.circuit.trial", backend=self.service)
        return allowed

    def _record(self, *, success: bool) -> None:
        before = self.breaker.state
        if success:
            self.breaker.record_success()
        else:
            self.breaker.record_failure()
        after = self.breaker.state
        if after is not before:
            level = logging.WARNING if after is CircuitState.OPEN else logging.INFO
            log_event(log, level, "scorer.backend.circuit.changed", backend=self.service,
                      state=after.value, consecutive_failures=self.breaker.consecutive_failures)


async def read_body(body: Any) -> bytes:
    """The bytes of a response body: aiobotocore's async stream, botocore's or plain bytes."""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    data = body.read()
    if inspect.isawaitable(data):
        data = await data
    if isinstance(data, str):
        return data.encode("utf-8")
    return bytes(data)


class RemoteBackend:
    """Client lifecycle, the guarded call and the fallback shared by the AWS backends.

    A remote backend owns its fallback: it starts and closes it with itself.
    Subclasses set :attr:`name` and :attr:`service` and implement
    :meth:`score_batch` with :meth:`with_fallback`.
    """

    name = "remote"
    service = ""  # the AWS service of the client
    operation = ""  # the client method that is called

    def __init__(
        self,
        settings: BackendSettings,
        fallback: ScoringBackend,
        *,
        call: ServiceCall | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.fallback = fallback
        self.breaker = breaker or CircuitBreaker(
            settings.backend_breaker_failures, settings.backend_breaker_reset_s)
        self.guard = GuardedCall(self.name, RetryPolicy.from_settings(settings), self.breaker,
                                 sleep=sleep, rng=rng)
        # A call given here (tests: a Stubber-ed botocore client's method
        # behind an async adapter) is used as is; otherwise start() creates an
        # aioboto3 client and uses its method.
        self._call = call
        self._stack: contextlib.AsyncExitStack | None = None
        self._semaphore = asyncio.Semaphore(settings.backend_concurrency)

    async def start(self) -> None:
        """Start the fallback, then create one aioboto3 client for the backend's lifetime."""
        await self.fallback.start()
        if self._call is None:
            self._stack = contextlib.AsyncExitStack()
            client = await self._stack.enter_async_context(
                open_client(self.service, self.settings))
            self._call = getattr(client, self.operation)

    async def close(self) -> None:
        """Close the client (its connection pool) and the fallback."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None
            self._call = None
        await self.fallback.close()

    async def check(self) -> str | None:
        """Not ready without a client, or while the circuit is open (the fallback decides)."""
        if self._call is None:
            return f"{self.name} client not created"
        if self.breaker.state is CircuitState.OPEN:
            return f"{self.name} circuit open; {self.fallback.name} fallback in use"
        return None

    async def invoke(self, params: dict[str, Any]) -> Mapping[str, Any]:
        """One attempt of the service call; raises when :meth:`start` was not called."""
        if self._call is None:
            raise RuntimeError(f"{self.name} backend not started")
        return await self._call(**params)

    async def limited(self, operation: Callable[[], Awaitable[T]]) -> T | CallFailed:
        """One guarded call, at most ``backend_concurrency`` in flight at once."""
        async with self._semaphore:
            return await self.guard.call(operation)

    async def with_fallback(
        self, items: Sequence[BackendInput], answers: Sequence[BackendResult | CallFailed],
    ) -> list[BackendResult]:
        """Replace every :class:`CallFailed` by the fallback's result for that item."""
        failed = [i for i, answer in enumerate(answers) if isinstance(answer, CallFailed)]
        results = list(answers)
        if failed:
            substitutes = await self.fallback.score_batch([items[i] for i in failed])
            for i, substitute in zip(failed, substitutes, strict=True):
                answer = answers[i]
                assert isinstance(answer, CallFailed)
                why = f"{answer.reason}; scored by the {self.fallback.name} fallback"
                results[i] = replace(substitute, fallback=True, reasons=[why, *substitute.reasons])
            log_event(log, logging.WARNING, "scorer.backend.fallback", backend=self.name,
                      fallback=self.fallback.name, count=len(failed), batch=len(items),
                      reason=str(getattr(answers[failed[0]], "reason", "")))
        return [r for r in results if isinstance(r, BackendResult)]


def open_client(service: str, settings: BackendSettings) -> Any:
    """An aioboto3 client context manager with botocore's own retries off.

    We retry ourselves (with the breaker in the loop), so botocore makes one
    attempt per call; its connect/read timeouts match our per-attempt timeout.
    Credentials come from the standard AWS chain (the task role on ECS).
    """
    import aioboto3  # runtime dependency only of the AWS backends
    from aiobotocore.config import AioConfig

    config = AioConfig(
        connect_timeout=settings.backend_timeout_s,
        read_timeout=settings.backend_timeout_s,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max(10, settings.backend_concurrency),
    )
    return aioboto3.Session().client(
        service, region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url,
        config=config)
