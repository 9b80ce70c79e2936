"""The HTTP side of every service: app factory, worker protocol."""

from fraudstream_shared.http.app import create_app
from fraudstream_shared.http.worker import Worker

__all__ = ["Worker", "create_app"]
