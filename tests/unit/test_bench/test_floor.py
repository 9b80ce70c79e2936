"""The floor run's pool: every transaction decided by the real engine, last pass kept."""

from __future__ import annotations

import json
from pathlib import Path

from bench.floor import write_decided_pool
from bench.payloads import read_pool, simulate_pool
from fraudstream_shared.events import ProcessedTransaction, decode


async def test_every_pool_transaction_becomes_a_valid_decision(tmp_path: Path) -> None:
    pool = simulate_pool(100, seed=11)
    path = tmp_path / "decided.jsonl"

    written = await write_decided_pool(pool, path)

    decided = read_pool(path)
    assert written == len(decided) == len(pool)
    assert [d["event_id"] for d in decided] == [e["event_id"] for e in pool]
    for value in decided:
        decision = decode(ProcessedTransaction, json.dumps(value).encode())
        assert decision.fd.outcome.value in {"approve", "review", "block"}
        assert decision.fd.model_scores  # scored by the embedded model, not passed through
