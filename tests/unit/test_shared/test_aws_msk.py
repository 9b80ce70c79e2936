"""MSK IAM token provider: caching, refresh before expiry, one refresh at a time, errors."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from aiokafka.abc import AbstractTokenProvider
from aiokafka.conn import OAuthAuthenticator
from aiokafka.errors import KafkaConnectionError

from fraudstream_shared.aws import (
    MskIamAuthError,
    MskIamTokenProvider,
    refresh_deadline,
    shared_token_provider,
)
from tests.support.aws import FAKE_ACCESS_KEY, FAKE_SESSION_TOKEN, isolate_aws

START = 1_760_000_000.0
LIFETIME_S = 900.0


class FakeClock:
    """Epoch seconds that only move when the test says so."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeSigner:
    """Counts signatures and returns ``token-N`` valid for ``LIFETIME_S`` from the clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.calls = 0
        self.threads: list[int] = []
        self.regions: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, region: str) -> tuple[str, int]:
        with self._lock:
            self.calls += 1
            self.threads.append(threading.get_ident())
            self.regions.append(region)
            return f"token-{self.calls}", int((self.clock() + LIFETIME_S) * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def signer(clock: FakeClock) -> FakeSigner:
    return FakeSigner(clock)


@pytest.fixture
def provider(signer: FakeSigner, clock: FakeClock) -> MskIamTokenProvider:
    return MskIamTokenProvider("eu-west-1", signer=signer, clock=clock)


async def authenticate(provider: MskIamTokenProvider) -> str:
    """What aiokafka does on each (re)connection: one OAUTHBEARER step; returns the token."""
    payload, _ = await OAuthAuthenticator(sasl_oauth_token_provider=provider).step(b"")
    message = payload.decode()
    assert message.startswith("n,,\x01auth=Bearer ")
    assert message.endswith("\x01\x01")
    return message.removeprefix("n,,\x01auth=Bearer ").removesuffix("\x01\x01")


def test_refresh_is_due_at_80_percent_or_a_minute_before_expiry() -> None:
    assert refresh_deadline(START, START + 900) == START + 720
    assert refresh_deadline(START, START + 100) == START + 40  # margin comes first
    assert refresh_deadline(START, START - 5) <= START  # already expired: due now


def test_provider_is_an_aiokafka_token_provider(provider: MskIamTokenProvider) -> None:
    assert isinstance(provider, AbstractTokenProvider)
    assert issubclass(MskIamAuthError, KafkaConnectionError)  # aiokafka retries the connection


def test_region_is_required() -> None:
    with pytest.raises(ValueError, match="region"):
        MskIamTokenProvider("")


async def test_token_is_signed_once_then_reused(provider: MskIamTokenProvider,
                                                signer: FakeSigner, clock: FakeClock) -> None:
    first = await provider.token()
    clock.now += 700  # still before the refresh deadline (720 s)
    assert await provider.token() == first == "token-1"
    assert signer.calls == 1
    assert signer.regions == ["eu-west-1"]
    assert provider.expires_at == START + LIFETIME_S


async def test_token_is_signed_in_a_worker_thread(provider: MskIamTokenProvider,
                                                  signer: FakeSigner) -> None:
    await provider.token()
    assert len(signer.threads) == 1
    assert signer.threads[0] != threading.get_ident()


async def test_token_is_refreshed_before_it_expires(provider: MskIamTokenProvider,
                                                   signer: FakeSigner, clock: FakeClock) -> None:
    await provider.token()
    clock.now = START + 720
    assert await provider.token() == "token-2"
    assert provider.expires_at == START + 720 + LIFETIME_S
    assert signer.calls == 2


async def test_reconnect_after_expiry_authenticates_with_a_fresh_token(
    provider: MskIamTokenProvider, signer: FakeSigner, clock: FakeClock
) -> None:
    connect = await authenticate(provider)
    same_session = await authenticate(provider)  # a second connection shares the token
    clock.now = START + LIFETIME_S + 1  # MSK closed the expired connection; aiokafka reconnects
    reconnect = await authenticate(provider)
    assert (connect, same_session, reconnect) == ("token-1", "token-1", "token-2")
    assert provider.expires_at == clock.now + LIFETIME_S


async def test_concurrent_callers_share_one_refresh(clock: FakeClock) -> None:
    entered, release = threading.Event(), threading.Event()
    calls = 0

    def slow_signer(region: str) -> tuple[str, int]:
        nonlocal calls
        calls += 1
        entered.set()
        release.wait(timeout=10)
        return f"token-{calls}", int((clock() + LIFETIME_S) * 1000)

    provider = MskIamTokenProvider("eu-west-1", signer=slow_signer, clock=clock)
    callers = [asyncio.create_task(provider.token()) for _ in range(20)]
    assert await asyncio.to_thread(entered.wait, 10)
    await asyncio.sleep(0)  # every caller has now reached the lock
    assert not any(task.done() for task in callers)
    release.set()
    assert set(await asyncio.gather(*callers)) == {"token-1"}
    assert calls == 1


async def test_signing_failure_is_a_clear_retryable_error_and_does_not_stick(
    clock: FakeClock,
) -> None:
    outcomes: list[Exception | None] = [RuntimeError("credential endpoint timed out"), None]

    def flaky_signer(region: str) -> tuple[str, int]:
        error = outcomes.pop(0)
        if error is not None:
            raise error
        return "token-ok", int((clock() + LIFETIME_S) * 1000)

    provider = MskIamTokenProvider("eu-west-1", signer=flaky_signer, clock=clock)
    with pytest.raises(MskIamAuthError, match=r"region eu-west-1 .*credential endpoint timed out"):
        await provider.token()
    assert await provider.token() == "token-ok"  # the next (re)connection tries again


async def test_real_signer_makes_a_presigned_kafka_connect_url(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=True)
    provider = MskIamTokenProvider("eu-west-1")  # the real signer library, signing locally
    token = await provider.token()

    url = urlparse(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    query = {key: values[0] for key, values in parse_qs(url.query).items()}
    assert (url.scheme, url.hostname) == ("https", "kafka.eu-west-1.amazonaws.com")
    assert query["Action"] == "kafka-cluster:Connect"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Credential"].startswith(f"{FAKE_ACCESS_KEY}/")
    assert query["X-Amz-Credential"].endswith("/eu-west-1/kafka-cluster/aws4_request")
    assert query["X-Amz-Expires"] == "900"
    assert query["X-Amz-Security-Token"] == FAKE_SESSION_TOKEN
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # base64url without padding
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert provider.expires_at == signed_at.timestamp() + 900


async def test_no_credentials_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=False)
    provider = MskIamTokenProvider("eu-west-1")
    with pytest.raises(MskIamAuthError, match="no AWS credentials found: on ECS give the task"):
        await provider.token()


async def test_clients_on_one_loop_share_one_provider_per_region() -> None:
    first = shared_token_provider("eu-west-1")
    assert shared_token_provider("eu-west-1") is first
    assert shared_token_provider("us-east-1") is not first
    assert shared_token_provider("us-east-1").region == "us-east-1"
