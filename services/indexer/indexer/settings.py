"""Settings of the indexer (environment variables, see ``.env.example``)."""

from pydantic import Field

from fraudstream_shared.config import ServiceSettings


class IndexerSettings(ServiceSettings):
    """The indexer's settings: the common ones plus its own."""

    service_name: str = "indexer"
    http_port: int = Field(8004, ge=1, le=65535)
