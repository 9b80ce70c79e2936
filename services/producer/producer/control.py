"""The producer's control state and its HTTP API (``/start``, ``/stop``, ``/rate``, ``/status``).

The API only changes this state; the worker's loop reads it and is woken up
when it changes, so the routes never touch Kafka themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from producer.settings import MAX_RATE_PER_S


class RateRequest(BaseModel):
    """Body of ``PUT /rate``."""

    model_config = ConfigDict(extra="forbid")

    rate_per_s: float = Field(gt=0, le=MAX_RATE_PER_S, allow_inf_nan=False, strict=True)


class ReplayFinishedError(Exception):
    """``start`` was asked after the replay file was fully published."""


class ProducerControl:
    """Whether the producer publishes, at what rate, and what it has done so far."""

    def __init__(self, *, mode: str, rate_per_s: float, running: bool) -> None:
        self.mode = mode
        self.rate_per_s = rate_per_s
        self.running = running
        self.finished = False
        self.produced = 0
        self.labels_published = 0
        self.labels_pending = 0
        self.rows_read = 0
        self.rows_invalid = 0
        self.wake = asyncio.Event()
        """Set on every change so the worker's loop re-reads the state at once."""

    def start(self) -> None:
        """Publish (again)."""
        if self.finished:
            raise ReplayFinishedError("the replay file has been published completely")
        self.running = True
        self.wake.set()

    def stop(self) -> None:
        """Pause publishing transactions (pending labels still go out when due)."""
        self.running = False
        self.wake.set()

    def set_rate(self, rate_per_s: float) -> None:
        """Change the publishing rate (transactions per second)."""
        if not 0 < rate_per_s <= MAX_RATE_PER_S:
            raise ValueError(f"rate_per_s must be in (0, {MAX_RATE_PER_S}]")
        self.rate_per_s = rate_per_s
        self.wake.set()

    def status(self) -> dict[str, Any]:
        """What ``GET /status`` returns."""
        body: dict[str, Any] = {
            "mode": self.mode,
            "running": self.running and not self.finished,
            "finished": self.finished,
            "rate_per_s": self.rate_per_s,
            "produced": self.produced,
            "labels_pending": self.labels_pending,
            "labels_published": self.labels_published,
        }
        if self.mode == "replay":
            body["rows_read"] = self.rows_read
            body["rows_invalid"] = self.rows_invalid
        return body


def add_control_routes(app: FastAPI, control: Callable[[], ProducerControl]) -> None:
    """Add the control API to ``app``; ``control`` returns the worker's state."""

    @app.post("/start", summary="Start (or resume) publishing")
    async def start() -> dict[str, Any]:
        try:
            control().start()
        except ReplayFinishedError as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from exc
        return control().status()

    @app.post("/stop", summary="Pause publishing")
    async def stop() -> dict[str, Any]:
        control().stop()
        return control().status()

    @app.put("/rate", summary="Set the publishing rate in transactions per second")
    async def rate(body: RateRequest) -> dict[str, Any]:
        control().set_rate(body.rate_per_s)
        return control().status()

    @app.get("/status", summary="Running, rate, counts")
    async def status() -> dict[str, Any]:
        return control().status()
