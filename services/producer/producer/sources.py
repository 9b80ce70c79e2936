"""Where the producer's transactions come from: the simulator or a replay file.

A source hands out :class:`Outgoing` messages on demand, stamped with the send
time (unless a replay keeps the file's times), each with the label to publish
later, if it has one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

from fraudstream_shared.logging import log_event
from producer.replayfile import read_replay_file, transaction_payload
from producer.simulation import SimulatedEvent, Simulator

log = logging.getLogger(__name__)

MAX_LOGGED_INVALID_ROWS = 1000
"""Invalid rows after this many are counted but not logged one by one."""

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Outgoing(NamedTuple):
    """One transaction to publish, and its label (if any) to publish later."""

    payload: dict[str, Any]
    entity_id: str
    event_id: str
    merchant_id: str | None
    label: Literal["fraud", "legit"] | None
    scenario: str | None


class Source(Protocol):
    """Hands out up to ``n`` messages; ``finished`` once it has no more."""

    finished: bool

    def take(self, n: int) -> list[Outgoing]: ...


class SimulatedSource:
    """Live simulated transactions: the simulator's stream with ``event_time`` = now."""

    finished = False

    def __init__(self, simulator: Simulator, stream_seed: int, clock: Clock = utc_now) -> None:
        self._events: Iterator[SimulatedEvent] = simulator.events(clock(), stream_seed=stream_seed)
        self._clock = clock

    def take(self, n: int) -> list[Outgoing]:
        """The next ``n`` simulated transactions, stamped with the current time."""
        out = []
        for _ in range(n):
            event, label = next(self._events)
            event["event_time"] = self._clock().isoformat(timespec="milliseconds")
            out.append(Outgoing(event, event["entity_id"], event["event_id"],
                                event["merchant_id"], label.label,
                                label.scenario.value if label.scenario else None))
        return out


class ReplaySource:
    """Transactions read from a file, validated row by row; invalid rows are reported."""

    def __init__(self, path: Path, *, keep_event_time: bool = False,
                 clock: Clock = utc_now) -> None:
        self.path = path
        self.finished = False
        self.rows_read = 0
        self.rows_invalid = 0
        self._rows = read_replay_file(path)
        self._keep_event_time = keep_event_time
        self._clock = clock

    def take(self, n: int) -> list[Outgoing]:
        """Up to ``n`` valid transactions; fewer (maybe none) at the end of the file."""
        out: list[Outgoing] = []
        while len(out) < n and not self.finished:
            row = next(self._rows, None)
            if row is None:
                self.finished = True
                log_event(log, logging.INFO, "producer.replay.finished", file=self.path.name,
                          rows=self.rows_read, invalid=self.rows_invalid)
                break
            self.rows_read += 1
            if row.transaction is None:
                self.rows_invalid += 1
                if self.rows_invalid <= MAX_LOGGED_INVALID_ROWS:
                    log_event(log, logging.WARNING, "producer.replay.row_invalid",
                              file=self.path.name, line=row.line, error=row.error,
                              invalid_so_far=self.rows_invalid)
                continue
            tx = row.transaction
            when = None if self._keep_event_time else self._clock()
            out.append(Outgoing(transaction_payload(tx, when), tx.entity_id, tx.event_id,
                                tx.merchant_id, row.label, row.scenario))
        return out
