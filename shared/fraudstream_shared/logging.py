"""JSON logging to stdout with stable dotted event names.

Call :func:`configure_logging` once at start-up, then log with
``log.info("scorer.batch.committed", extra={"fields": {...}})`` or use
:func:`log_event`. Payloads are never logged whole (they carry personal data).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

# Standard LogRecord attributes, plus uvicorn's ANSI-coloured duplicate message.
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message", "asctime", "color_message", "taskName",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object per line.

    The message is the stable event name; structured context comes from
    ``extra={"fields": {...}}`` or from any other ``extra`` keys.
    """

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        for key, value in record.__dict__.items():
            if key not in _RESERVED and key != "fields" and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RepeatLimiter(logging.Filter):
    """Lets at most ``limit`` records with the same message template through per window.

    aiokafka logs every reconnect attempt while a broker is down — thousands of
    identical lines a second — which would swamp the logs (and the bill) without
    telling anyone more. The first ``limit`` of each kind per window still pass.
    """

    def __init__(self, limit: int = 5, window_s: float = 10.0) -> None:
        super().__init__()
        self._limit = limit
        self._window_s = window_s
        self._seen: dict[tuple[str, object], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        start, count = self._seen.get(key, (record.created, 0))
        if record.created - start > self._window_s:
            start, count = record.created, 0
        self._seen[key] = (start, count + 1)
        if len(self._seen) > 1000:  # bounded: forget old templates
            self._seen.clear()
        return count < self._limit


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send every log record, ours and the libraries', to stdout as JSON."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO during rebalances; keep its warnings, but not
    # thousands of identical reconnect lines while a broker is down.
    kafka_log = logging.getLogger("aiokafka")
    kafka_log.setLevel(max(logging.WARNING, root.level))
    if not any(isinstance(f, RepeatLimiter) for f in handler.filters):
        handler.addFilter(_AiokafkaOnly(RepeatLimiter()))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class _AiokafkaOnly(logging.Filter):
    """Applies ``inner`` to aiokafka's records only."""

    def __init__(self, inner: logging.Filter) -> None:
        super().__init__()
        self._inner = inner

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("aiokafka") or bool(self._inner.filter(record))


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log ``event`` (a stable dotted name) with structured ``fields``."""
    logger.log(level, event, extra={"fields": fields})
