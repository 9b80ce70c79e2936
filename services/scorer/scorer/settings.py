"""Settings of the scorer (environment variables, see ``.env.example``)."""

from pydantic import Field

from fraudstream_shared.config import ServiceSettings


class ScorerSettings(ServiceSettings):
    """The scorer's settings: the common ones plus its own."""

    service_name: str = "scorer"
    http_port: int = Field(8002, ge=1, le=65535)
