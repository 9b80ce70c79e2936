"""Consumer lag published to CloudWatch, the metric ECS scales the consumers on.

Every consuming service runs a :class:`LagPublisher` when ``CLOUDWATCH_NAMESPACE``
is set (the AWS deployment sets it): once a minute it asks the broker how many
messages this task has not committed yet and sends one ``ConsumerLag`` datum
with the dimensions ``Service`` and ``ConsumerGroup``. Each task sends exactly
one datum per wall-clock minute, so the ``Sum`` statistic over a minute is the
whole group's lag — what the scaling policy and the alarm read.

MSK's own ``SumOffsetLag`` would need the cluster's consumer-lag monitoring and
reports nothing while a group has no committed offsets; ours also counts a
partition whose batch is stuck behind a sink outage.

A failed publish is logged and skipped: metrics never stop the service.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

import botocore.session

from fraudstream_shared.logging import log_event

log = logging.getLogger(__name__)

LAG_METRIC = "ConsumerLag"
"""The metric's name; ``infra/aws`` scales and alarms on it."""

PUBLISH_SPREAD_S = 20.0
"""Tasks publish at a random second in the first part of each minute, not all at once."""


@runtime_checkable
class LagReporter(Protocol):
    """A worker that can measure its consumer lag (``None``: it consumes nothing)."""

    async def consumer_lag(self) -> int | None: ...


def lag_datum(*, service: str, group: str, lag: int, at: datetime) -> dict[str, Any]:
    """One ``PutMetricData`` datum: the task's uncommitted messages at ``at``."""
    return {
        "MetricName": LAG_METRIC,
        "Dimensions": [{"Name": "Service", "Value": service},
                       {"Name": "ConsumerGroup", "Value": group}],
        "Timestamp": at,
        "Value": float(lag),
        "Unit": "Count",
        "StorageResolution": 60,
    }


def seconds_until_slot(now: float, offset_s: float) -> float:
    """Seconds from ``now`` (epoch) to ``offset_s`` past the next minute boundary.

    Publishing once in each minute, at the same offset, keeps each task to one
    datum per one-minute period — the condition for ``Sum`` to be the group's lag.
    """
    next_minute = math.floor(now / 60.0) * 60.0 + 60.0
    return max(0.0, next_minute + offset_s - now)


class LagPublisher:
    """Publish a worker's consumer lag to CloudWatch once a minute until cancelled."""

    def __init__(self, *, namespace: str, region: str, service: str, group: str,
                 measure: Callable[[], Awaitable[int | None]],
                 client: Any | None = None, offset_s: float | None = None) -> None:
        self.namespace = namespace
        self.service = service
        self.group = group
        self._measure = measure
        # botocore's client is synchronous: each call runs in a thread (one a minute).
        self._client = client or botocore.session.Session().create_client(
            "cloudwatch", region_name=region)
        self._offset_s = random.uniform(0.0, PUBLISH_SPREAD_S) if offset_s is None else offset_s

    async def publish_once(self) -> bool:
        """Measure and send one datum; ``False`` (logged) when either step failed."""
        try:
            lag = await self._measure()
        except Exception as exc:  # broker unreachable: no datum rather than a wrong one
            log_event(log, logging.WARNING, f"{self.service}.lag.measure_failed",
                      error=f"{type(exc).__name__}: {exc}")
            return False
        if lag is None:
            return False
        datum = lag_datum(service=self.service, group=self.group, lag=lag,
                          at=datetime.now(UTC))
        try:
            await asyncio.to_thread(self._client.put_metric_data,
                                    Namespace=self.namespace, MetricData=[datum])
        except Exception as exc:  # throttling, credentials, network: try next minute
            log_event(log, logging.WARNING, f"{self.service}.lag.publish_failed",
                      error=f"{type(exc).__name__}: {exc}")
            return False
        return True

    async def run(self) -> None:
        """Publish at the same second of every minute until cancelled."""
        log_event(log, logging.INFO, f"{self.service}.lag.publishing",
                  namespace=self.namespace, metric=LAG_METRIC)
        while True:
            await asyncio.sleep(seconds_until_slot(time.time(), self._offset_s))
            await self.publish_once()
