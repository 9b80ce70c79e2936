"""Settings of the notifier (environment variables, see ``.env.example``)."""

from pydantic import Field

from fraudstream_shared.config import ServiceSettings


class NotifierSettings(ServiceSettings):
    """The notifier's settings: the common ones plus its own."""

    service_name: str = "notifier"
    http_port: int = Field(8003, ge=1, le=65535)
