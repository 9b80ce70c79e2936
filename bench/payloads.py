"""Benchmark transactions: realistic bodies from the producer's simulator, stamped per send.

A pool of simulated transactions is made once per run (the same simulator the
live producer uses, so the scorer's per-customer, card, merchant and IP state
grows as it would); at send time each message gets a unique ``event_id`` and
its *intended* send time as ``event_time``. ``event_time`` travels unchanged
into the decision (``ProcessedTransaction`` keeps every transaction field), so
a reader of ``processed_transactions`` can compute produce→decision latency
from the message alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2

STAMPED_FIELDS = ("event_id", "event_time")

_EVENT_ID = re.compile(rb'"event_id":"([^"]*)"')
_EVENT_TIME = re.compile(rb'"event_time":"([^"]*)"')
_OUTCOME = re.compile(rb'"outcome":"([a-z]+)"')
_PROC_TIME = re.compile(rb'"proc_time":(-?\d+)[,}]')
_TTDF = re.compile(rb'"ttdf":(-?\d+)[,}]')


@dataclass(frozen=True)
class Template:
    """One pool transaction without its stamped fields, ready to be rendered."""

    key: bytes
    partition: int
    tail: bytes
    """The JSON object's remaining members, starting with ``,`` and ending with ``}``."""


def simulate_pool(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` simulated transactions (the producer's default population)."""
    from producer.simulation import SimulationConfig, Simulator  # heavy: only when needed

    simulator = Simulator(SimulationConfig(), seed=seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [event for event, _ in simulator.events(start, count=count, stream_seed=seed)]


def kafka_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) picks for ``key``."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def make_template(event: dict[str, Any], partitions: int) -> Template:
    """A :class:`Template` of ``event`` for a topic with ``partitions`` partitions."""
    body = {k: v for k, v in event.items() if k not in STAMPED_FIELDS}
    encoded = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    key = str(event["entity_id"]).encode("utf-8")
    return Template(key, kafka_partition(key, partitions), b"," + encoded[1:])


def iso_utc(epoch: float) -> str:
    """``epoch`` seconds as ISO 8601 UTC with microseconds and a ``Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def render(template: Template, event_id: str, intended_epoch: float) -> bytes:
    """The message value: the template stamped with ``event_id`` and the intended time."""
    head = f'{{"event_id":"{event_id}","event_time":"{iso_utc(intended_epoch)}"'
    return head.encode("ascii") + template.tail


def event_id(prefix: str, seq: int) -> str:
    """The id of event ``seq`` of a run: ``<prefix>-<seq>``."""
    return f"{prefix}-{seq}"


def seq_of(event_id_text: str, prefix: str) -> int | None:
    """The sequence number in an id made by :func:`event_id`, or ``None`` if not ours."""
    head, _, tail = event_id_text.rpartition("-")
    if head != prefix or not tail.isdigit():
        return None
    return int(tail)


@dataclass(frozen=True)
class Stamp:
    """What a reader needs from a message: its id, intended time and outcome (if any)."""

    event_id: str
    intended_epoch: float
    outcome: str | None


def read_stamp(value: bytes) -> Stamp | None:
    """The stamp of a transaction or decision value, without parsing the whole JSON.

    ``None`` when the value has no ``event_id`` or ``event_time`` (not ours).
    """
    found_id = _EVENT_ID.search(value)
    found_time = _EVENT_TIME.search(value)
    if found_id is None or found_time is None:
        return None
    text = found_time.group(1).decode("ascii")
    when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    outcome = _OUTCOME.search(value)
    return Stamp(found_id.group(1).decode("utf-8"), when.timestamp(),
                 outcome.group(1).decode("ascii") if outcome else None)


def read_timings(value: bytes) -> tuple[float, float] | None:
    """A decision's ``(proc_time, ttdf)``: ms from ``event_time`` to scoring started and decided.

    In the bench ``event_time`` is the intended send time, so these split an
    event's latency into waiting for the scorer, scoring, and publishing (what
    is left until the reader sees it). ``None`` when the value carries neither
    (a transaction, or not ours).
    """
    proc_time = _PROC_TIME.search(value)
    ttdf = _TTDF.search(value)
    if proc_time is None or ttdf is None:
        return None
    return float(proc_time.group(1)), float(ttdf.group(1))


def write_pool(path: Path, events: Iterable[dict[str, Any]]) -> None:
    """One JSON transaction per line (also the payload file of Kafka's producer tool)."""
    with path.open("w", encoding="utf-8") as f:
        for event in events:
            f.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")


def read_pool(path: Path) -> list[dict[str, Any]]:
    """The transactions written by :func:`write_pool`."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def templates(events: Sequence[dict[str, Any]], partitions: int) -> list[Template]:
    """Templates of every pool event."""
    return [make_template(event, partitions) for event in events]


def as_alert_burst(values: Iterable[bytes], every: int) -> list[bytes]:
    """Decisions rewritten so that exactly one in ``every`` is a ``block``: a fraud wave.

    The ``i``-th value (from 0) becomes a block when ``i % every == 0``; any
    other block becomes a ``review``, so the number of alerts is known in
    advance. Only ``fd.outcome`` changes; the notifier reads nothing else to
    decide whether to alert.
    """
    if every < 1:
        raise ValueError("every must be at least 1")
    out: list[bytes] = []
    for i, value in enumerate(values):
        decision = json.loads(value)
        outcome = decision["fd"]["outcome"]
        decision["fd"]["outcome"] = ("block" if i % every == 0
                                     else "review" if outcome == "block" else outcome)
        out.append(json.dumps(decision, separators=(",", ":")).encode())
    return out
