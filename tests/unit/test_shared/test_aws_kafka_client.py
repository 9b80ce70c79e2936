"""Kafka client options: the MSK IAM token provider exactly when OAUTHBEARER is on."""

from __future__ import annotations

from typing import Any

import pytest

from fraudstream_shared.aws import MskIamTokenProvider
from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.kafka.client import (
    connection_options,
    create_admin,
    create_consumer,
    create_producer,
    create_reader,
)

MSK = {
    "kafka_bootstrap_servers": "b-1.msk.example:9098,b-2.msk.example:9098",
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "OAUTHBEARER",
    "aws_region": "eu-west-1",
}


def settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(service_name="demo", _env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def _no_kafka_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME",
                 "KAFKA_SASL_PASSWORD", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)


async def test_oauthbearer_gets_the_msk_iam_provider_over_tls() -> None:
    options = connection_options(settings(**MSK))
    provider = options["sasl_oauth_token_provider"]
    assert isinstance(provider, MskIamTokenProvider)
    assert provider.region == "eu-west-1"
    assert options["sasl_mechanism"] == "OAUTHBEARER"
    assert options["security_protocol"] == "SASL_SSL"
    assert "ssl_context" in options
    assert "sasl_plain_username" not in options


@pytest.mark.parametrize("values", [
    {},
    {"kafka_security_protocol": "SSL"},
    {"kafka_security_protocol": "SASL_SSL", "kafka_sasl_mechanism": "SCRAM-SHA-512",
     "kafka_sasl_username": "svc", "kafka_sasl_password": "pw", "aws_region": "eu-west-1"},
])
async def test_other_mechanisms_get_no_token_provider(values: dict[str, Any]) -> None:
    options = connection_options(settings(**values))
    assert "sasl_oauth_token_provider" not in options
    assert options.get("sasl_mechanism") != "OAUTHBEARER"


async def test_every_client_of_a_service_shares_one_provider() -> None:
    s = settings(**MSK)
    clients = [create_admin(s), create_producer(s), create_consumer(s, "topic"),
               create_reader(s), create_producer(s, transactional_id="demo-0")]
    try:
        providers = {id(client_provider(client)) for client in clients}
        assert len(providers) == 1
        assert isinstance(client_provider(clients[0]), MskIamTokenProvider)
    finally:
        for client in clients[1:]:  # never started; close only what aiokafka opened
            await client.stop()
        await clients[0].close()


def client_provider(client: Any) -> Any:
    """The provider aiokafka will call on each (re)connection of ``client``."""
    inner = getattr(client, "_client", None) or getattr(client, "client", None)
    return inner._sasl_oauth_token_provider
