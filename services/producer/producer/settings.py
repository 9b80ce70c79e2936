"""Settings of the producer (environment variables, see ``.env.example``)."""

from pydantic import Field

from fraudstream_shared.config import ServiceSettings


class ProducerSettings(ServiceSettings):
    """The producer's settings: the common ones plus its own."""

    service_name: str = "producer"
    http_port: int = Field(8001, ge=1, le=65535)
