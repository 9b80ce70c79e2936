"""The FastAPI app factory every service uses.

The lifespan owns the worker: it starts the clients, runs the consume loop as
a task, and on shutdown flips readiness off, asks the loop to drain and commit,
awaits it within the shutdown budget, cancels (and awaits) it if it overruns,
and closes the clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import make_asgi_app

from fraudstream_shared.aws.cloudwatch import LagPublisher, LagReporter
from fraudstream_shared.config import ServiceSettings
from fraudstream_shared.http.worker import Worker
from fraudstream_shared.logging import log_event
from fraudstream_shared.metrics import READY

log = logging.getLogger(__name__)

READINESS_TIMEOUT_S = 2.0


class ServiceState:
    """What the health endpoints read; the lifespan writes it."""

    def __init__(self) -> None:
        self.ready = False
        self.started_at = time.time()
        self.task: asyncio.Task[None] | None = None
        self.lag_task: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None


def create_app(
    settings: ServiceSettings,
    worker: Worker,
    *,
    on_worker_failure: Callable[[BaseException], None] | None = None,
    extra_routes: Callable[[FastAPI], None] | None = None,
) -> FastAPI:
    """Build the service's app: ``/healthz``, ``/readyz``, ``/metrics`` and the worker's lifecycle.

    ``on_worker_failure`` is called if the main loop dies with an exception (a
    bug): the runtime uses it to stop the server and exit non-zero so the
    orchestrator restarts the task.
    """
    state = ServiceState()
    service = settings.service_name

    def _loop_done(task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            state.ready = False
            state.failure = exc
            READY.labels(service).set(0)
            log.error(f"{service}.loop.crashed", exc_info=exc)
            if on_worker_failure is not None:
                on_worker_failure(exc)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log_event(log, logging.INFO, f"{service}.starting")
        try:
            await worker.start()
        except BaseException:
            # Release whatever connected before the failure, then fail the start.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(worker.close(), timeout=5.0)
            raise
        state.task = asyncio.create_task(worker.run(), name=f"{service}-loop")
        state.task.add_done_callback(_loop_done)
        publisher = _lag_publisher(settings, worker)
        if publisher is not None:
            state.lag_task = asyncio.create_task(publisher.run(), name=f"{service}-lag")
        state.ready = True
        READY.labels(service).set(1)
        log_event(log, logging.INFO, f"{service}.started", port=settings.http_port)
        try:
            yield
        finally:
            await _shutdown(settings, worker, state)

    app = FastAPI(title=f"fraudstream {service}", lifespan=lifespan)
    app.state.service = state
    app.mount("/metrics", make_asgi_app())

    @app.get("/healthz", summary="Liveness: the event loop and the worker are alive")
    async def healthz() -> JSONResponse:
        alive = state.failure is None and worker.is_alive()
        body = {"status": "ok" if alive else "failing", "service": service}
        return JSONResponse(body, status_code=200 if alive else 503)

    @app.get("/readyz", summary="Readiness: dependencies reachable, work assigned")
    async def readyz() -> JSONResponse:
        if not state.ready:
            return JSONResponse({"status": "not_ready", "service": service,
                                 "reason": "starting or stopping"}, status_code=503)
        try:
            checks = await asyncio.wait_for(worker.readiness(), READINESS_TIMEOUT_S)
        except TimeoutError:
            checks = {"readiness": f"checks timed out after {READINESS_TIMEOUT_S}s"}
        failing = {name: err for name, err in checks.items() if err is not None}
        body: dict[str, Any] = {
            "status": "ready" if not failing else "not_ready",
            "service": service,
            "checks": {name: err or "ok" for name, err in checks.items()},
        }
        return JSONResponse(body, status_code=200 if not failing else 503)

    if extra_routes is not None:
        extra_routes(app)
    return app


def _lag_publisher(settings: ServiceSettings, worker: Worker) -> LagPublisher | None:
    """The CloudWatch lag publisher, when configured and the worker consumes."""
    if not settings.cloudwatch_namespace or not isinstance(worker, LagReporter):
        return None
    assert settings.aws_region is not None  # the settings validator requires it
    return LagPublisher(namespace=settings.cloudwatch_namespace, region=settings.aws_region,
                        service=settings.service_name, group=settings.consumer_group,
                        measure=worker.consumer_lag)


async def _shutdown(settings: ServiceSettings, worker: Worker, state: ServiceState) -> None:
    """Drain and commit within the budget, then close every client."""
    service = settings.service_name
    state.ready = False
    READY.labels(service).set(0)
    started = time.monotonic()
    log_event(log, logging.INFO, f"{service}.stopping")
    if state.lag_task is not None:
        state.lag_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await state.lag_task
    worker.stop()
    task = state.task
    if task is not None and not task.done():
        # Leave a little of the budget for closing the clients.
        drain_budget = max(1.0, settings.shutdown_timeout_s - 5.0)
        done, _ = await asyncio.wait({task}, timeout=drain_budget)
        if not done:
            log_event(log, logging.WARNING, f"{service}.drain.timeout", budget_s=drain_budget)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    try:
        await asyncio.wait_for(worker.close(), timeout=5.0)
    except TimeoutError:
        log_event(log, logging.WARNING, f"{service}.close.timeout")
    log_event(log, logging.INFO, f"{service}.stopped",
              seconds=round(time.monotonic() - started, 3))
