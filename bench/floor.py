"""The floor run's payloads: the pool's transactions already decided by the real engine.

The floor phase asks what this machine can carry with the scoring taken out:
the null scorer forwards finished decisions, so Kafka, OpenSearch, the
indexer, notifier and archiver and the load tools do all their usual work
while the scorer costs only its Kafka plumbing. The decisions are made once,
before the run, by the scorer's own engine over the same pool (so their
outcomes, reasons and sizes are the pipeline's), and are stamped per send
like transactions (``event_id``, ``event_time``).

The pipeline's generator cycles the pool many times, so its later events meet
entities that have been seen before and velocity rules fire (most of its
decisions are reviews). The pool is therefore decided :data:`PASSES` times
over one store, one event per millisecond of event time, and the last pass is
kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BATCH = 500
PASSES = 2


async def decide_pool(events: Sequence[dict[str, Any]], passes: int = PASSES
                      ) -> list[dict[str, Any]]:
    """``events`` (pool transactions) decided by the scorer's engine, as JSON objects.

    One feature store for the whole pool: the decisions only need to look like
    the pipeline's, not to be the ones a partitioned scorer would make. Only
    the last of ``passes`` passes is returned.
    """
    from fraudstream_shared.events import Transaction, encode
    from scorer.engine import Engine
    from scorer.settings import ScorerSettings

    engine = Engine.from_settings(ScorerSettings())
    store = engine.new_store()
    start = datetime.now(UTC) - timedelta(milliseconds=passes * len(events))
    decided: list[dict[str, Any]] = []
    for done in range(passes):
        txs = [Transaction.model_validate(
            {**event, "event_time": start + timedelta(milliseconds=done * len(events) + i)})
            for i, event in enumerate(events)]
        decided = []
        for first in range(0, len(txs), BATCH):
            scored = await engine.decide_batch(txs[first:first + BATCH], store,
                                               datetime.now(UTC))
            decided.extend(json.loads(encode(d)) for d in scored.decisions)
    return decided


async def write_decided_pool(pool: Sequence[dict[str, Any]], path: Path) -> int:
    """Decide ``pool`` and write it as the floor run's pool; returns how many were written."""
    from bench.payloads import write_pool

    decided = await decide_pool(pool)
    write_pool(path, decided)
    return len(decided)
