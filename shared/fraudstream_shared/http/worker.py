"""The contract between a service's work and the app factory that hosts it."""

from __future__ import annotations

from typing import Protocol


class Worker(Protocol):
    """What a service plugs into :func:`create_app`.

    ``start`` connects every client (with bounded retry) and creates topics;
    ``run`` is the main loop, returning when ``stop`` asks it to; ``stop``
    makes ``run`` finish its current batch and commit; ``close`` releases the
    clients. ``readiness`` maps each dependency to ``None`` when healthy or an
    error message; ``is_alive`` is a cheap liveness check.
    """

    async def start(self) -> None: ...

    async def run(self) -> None: ...

    def stop(self) -> None: ...

    async def close(self) -> None: ...

    async def readiness(self) -> dict[str, str | None]: ...

    def is_alive(self) -> bool: ...
