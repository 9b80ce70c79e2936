"""MSK IAM authentication for aiokafka: SASL/OAUTHBEARER with a cached, refreshed token.

Amazon MSK's IAM listener accepts as bearer token a SigV4-presigned URL for
``kafka-cluster:Connect``, base64url-encoded, that expires after 15 minutes;
``aws-msk-iam-sasl-signer-python`` makes one from the process credentials (local
signing; only resolving the credentials may call the task-role endpoint).

aiokafka asks its ``sasl_oauth_token_provider`` for a token on every connection
and every reconnection, and MSK closes a connection whose token has expired, so
the provider must always hand out a token with time left: it refreshes well
before expiry, off the event loop, one refresh at a time.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable

from aiokafka.abc import AbstractTokenProvider
from aiokafka.errors import KafkaConnectionError
from aws_msk_iam_sasl_signer import MSKAuthTokenProvider

from fraudstream_shared.aws.credentials import NoAwsCredentialsError, load_credentials
from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)

Signer = Callable[[str], tuple[str, int]]
"""``signer(region) -> (token, expiry in epoch milliseconds)``; blocking."""

REFRESH_FRACTION = 0.8
"""Share of a token's lifetime after which it is replaced (12 of MSK's 15 minutes)."""

REFRESH_MARGIN_S = 60.0
"""A token is never handed out with less than this left: a handshake takes time."""


class MskIamAuthError(KafkaConnectionError):  # type: ignore[misc]
    """No MSK IAM token could be generated.

    A :class:`~aiokafka.errors.KafkaConnectionError`, so aiokafka treats it as a
    failed connection: logged and retried (a task-role endpoint hiccup heals),
    and start-up fails once its deadline passes.
    """


def refresh_deadline(
    issued_at: float,
    expires_at: float,
    *,
    fraction: float = REFRESH_FRACTION,
    margin_s: float = REFRESH_MARGIN_S,
) -> float:
    """When a token issued at ``issued_at`` stops being handed out (epoch seconds).

    At ``fraction`` of its lifetime or ``margin_s`` before it expires,
    whichever comes first.
    """
    lifetime = max(0.0, expires_at - issued_at)
    return min(issued_at + lifetime * fraction, expires_at - margin_s)


def sign_with_default_credentials(region: str) -> tuple[str, int]:
    """The signer library's token for ``region`` from botocore's default credentials chain.

    Blocking (credential resolution may do HTTP). Raises
    :class:`NoAwsCredentialsError` when the chain is empty: the library then
    fails with an ``AttributeError`` on ``None`` that would hide the cause.
    """
    try:
        token, expiry_ms = MSKAuthTokenProvider.generate_auth_token(region)
    except Exception as exc:
        # Diagnose only on failure, so the happy path resolves credentials once.
        try:
            load_credentials()
        except NoAwsCredentialsError as missing:
            raise missing from exc
        raise
    return str(token), int(expiry_ms)


class MskIamTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """aiokafka token provider for MSK IAM (``sasl_oauth_token_provider``).

    The token is cached and reused by every connection until
    :func:`refresh_deadline`; then the next caller signs a new one in a worker
    thread while concurrent callers wait for it (one refresh at a time). A
    reconnect after expiry therefore always authenticates with a fresh token.
    ``signer`` and ``clock`` (epoch seconds, like the signer's expiry) are
    injectable for tests.
    """

    def __init__(
        self,
        region: str,
        *,
        signer: Signer = sign_with_default_credentials,
        clock: Callable[[], float] = time.time,
        refresh_fraction: float = REFRESH_FRACTION,
        refresh_margin_s: float = REFRESH_MARGIN_S,
    ) -> None:
        if not region:
            raise ValueError("MskIamTokenProvider needs the MSK cluster's AWS region")
        self.region = region
        self._signer = signer
        self._clock = clock
        self._fraction = refresh_fraction
        self._margin_s = refresh_margin_s
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self._expires_at: float | None = None

    @property
    def expires_at(self) -> float | None:
        """Expiry of the cached token (epoch seconds); ``None`` before the first one."""
        return self._expires_at

    async def token(self) -> str:
        """A token with time left: the cached one, or a newly signed one when it is due."""
        cached = self._cached()
        if cached is not None:
            return cached
        async with self._lock:
            # The caller that held the lock before us may have just refreshed it.
            cached = self._cached()
            if cached is not None:
                return cached
            return await self._refresh()

    def _cached(self) -> str | None:
        if self._token is not None and self._clock() < self._refresh_at:
            return self._token
        return None

    async def _refresh(self) -> str:
        # Read the clock before signing: the lifetime is then over- not
        # under-estimated by the signing time, which only brings the refresh forward.
        issued_at = self._clock()
        try:
            token, expiry_ms = await asyncio.to_thread(self._signer, self.region)
        except Exception as exc:
            log_event(log, logging.ERROR, "kafka.msk_iam.token_failed", region=self.region,
                      error=f"{type(exc).__name__}: {exc}")
            raise MskIamAuthError(
                f"MSK IAM token for region {self.region} could not be generated: {exc}"
            ) from exc
        expires_at = expiry_ms / 1000.0
        self._token, self._expires_at = token, expires_at
        self._refresh_at = refresh_deadline(issued_at, expires_at, fraction=self._fraction,
                                            margin_s=self._margin_s)
        log_event(log, logging.INFO, "kafka.msk_iam.token_refreshed", region=self.region,
                  expires_in_s=round(expires_at - issued_at, 1),
                  refresh_in_s=round(self._refresh_at - issued_at, 1))
        return token


_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, MskIamTokenProvider]]
_SHARED = weakref.WeakKeyDictionary()


def shared_token_provider(region: str) -> MskIamTokenProvider:
    """The process's provider for ``region`` on the running event loop.

    Every client of a service (admin, producer, consumer, the per-partition
    transactional producers) then shares one token and one refresh, instead
    of each signing its own. Keyed by loop because an ``asyncio.Lock`` must
    not be shared between loops; outside a loop a new provider is returned.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return MskIamTokenProvider(region)
    providers = _SHARED.setdefault(loop, {})
    if region not in providers:
        providers[region] = MskIamTokenProvider(region)
    return providers[region]
