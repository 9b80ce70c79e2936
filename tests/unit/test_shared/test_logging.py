"""JSON logs and the repeat limiter for aiokafka's reconnect storms."""

from __future__ import annotations

import json
import logging

from fraudstream_shared.logging import JsonFormatter, RepeatLimiter


def _record(msg: str, created: float, name: str = "aiokafka.conn") -> logging.LogRecord:
    record = logging.makeLogRecord({"name": name, "msg": msg, "levelno": logging.WARNING,
                                    "levelname": "WARNING"})
    record.created = created
    return record


def test_repeat_limiter_passes_the_first_few_per_window_then_again_later() -> None:
    limiter = RepeatLimiter(limit=3, window_s=10)
    passed = [limiter.filter(_record("Unable connect to node %s", 100 + i * 0.01))
              for i in range(50)]
    assert passed.count(True) == 3
    assert limiter.filter(_record("Unable connect to node %s", 111))
    assert limiter.filter(_record("another message", 100.5))


def test_json_formatter_writes_event_and_fields() -> None:
    record = logging.makeLogRecord({"name": "x", "msg": "scorer.batch.committed",
                                    "levelname": "INFO", "fields": {"partition": 3}})
    entry = json.loads(JsonFormatter("scorer").format(record))
    assert entry["event"] == "scorer.batch.committed"
    assert entry["partition"] == 3
    assert entry["service"] == "scorer"
