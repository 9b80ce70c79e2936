"""Micro-benchmarks of the scorer's parts: ``python -m bench.micro SPEC.json``.

Each stage runs over the same simulated transactions through the scorer's
public APIs, single-threaded, and reports CPU microseconds per event (process
CPU time, so a busy machine slows the wall clock more than the figure) and the
events per second one core would manage at that cost:

- decode: bytes → ``Transaction`` (``fraudstream_shared.events.decode``);
- features: ``TxEvent.of`` per event + ``served_rows`` per batch (each event's row, then
  its update) on the scorer's feature store (``SCORER_FEATURE_STORE``, compiled when
  built), starting empty each round; ``features_python``: the same on the Python
  reference store, when the compiled one is the scorer's;
- model: the batch's matrix + ``Model.predict_batch`` (scores and TreeSHAP) per batch;
- rules: the rule set bound to the engine's records (event fields, store row,
  scores: ``record_variable`` + ``BoundRuleSet.verdicts``) per batch, as the engine
  decides plain transactions;
- engine: ``Engine.decide_batch`` (features, model, rules and the decision objects);
- encode: ``ProcessedTransaction`` → bytes (``fraudstream_shared.events.encode``).

A stage whose API changed is reported with its error instead of stopping the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from bench.common import read_json, write_json
from bench.payloads import read_pool, render, templates

MIN_SECONDS = 1.0
"""Each stage repeats over the pool until it has run at least this long (CPU time)."""


def timed(per_round: int, run_round: Callable[[], None],
          min_seconds: float = MIN_SECONDS) -> dict[str, float]:
    """Repeat ``run_round`` (``per_round`` events each) for ``min_seconds`` of CPU time."""
    run_round()  # warm-up (imports, caches, first allocations)
    events, cpu0, wall0 = 0, time.process_time(), time.perf_counter()
    while time.process_time() - cpu0 < min_seconds:
        run_round()
        events += per_round
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"events": events, "cpu_us_per_event": round(cpu / events * 1e6, 2),
            "wall_us_per_event": round(wall / events * 1e6, 2),
            "events_per_cpu_second": round(events / cpu, 1)}


def run_stages(pool_path: Path, events: int, batch: int) -> dict[str, Any]:
    """Every stage over ``events`` pool transactions in batches of ``batch``."""
    import numpy as np

    from fraudstream_shared.events import Transaction, decode, encode
    from fraudstream_shared.runtime import tune_gc
    from scorer.engine import PRIMARY_MODEL, Engine, record_variable
    from scorer.features import FEATURE_NAMES, TxEvent
    from scorer.features.native import new_feature_store
    from scorer.ruleset import BoundRuleSet
    from scorer.settings import ScorerSettings

    pool = templates(read_pool(pool_path), 6)
    start = datetime.now(UTC) - timedelta(hours=2)
    values = [render(pool[i % len(pool)], f"micro-{i}",
                     (start + timedelta(milliseconds=i)).timestamp()) for i in range(events)]
    txs = [decode(Transaction, v) for v in values]
    batches = [txs[i:i + batch] for i in range(0, len(txs), batch)]
    engine = Engine.from_settings(ScorerSettings())
    tune_gc()  # as every service does once it is built (fraudstream_shared.runtime.serve)
    results: dict[str, Any] = {}

    def stage(name: str, per_round: int, fn: Callable[[], None]) -> None:
        try:
            results[name] = timed(per_round, fn)
        except Exception as exc:  # an API that changed must not hide the other stages
            results[name] = {"error": f"{type(exc).__name__}: {exc}",
                             "trace": traceback.format_exc(limit=3)}

    def decode_all() -> None:
        for v in values:
            decode(Transaction, v)

    stage("decode", len(values), decode_all)

    def features_with(kind: Literal["native", "python"]) -> Callable[[], None]:
        new_store, labels = engine.new_store, engine.labels
        if kind != engine.store_kind:
            def new_store() -> Any:
                return new_feature_store(kind, lateness_s=3600.0)
            labels = new_store()

        def features() -> None:
            # What the engine does per batch, on a store that starts empty each round
            # (as the engine stage's): a re-used store would drop every event as late.
            fresh = new_store()
            for chunk in batches:
                fresh.served_rows([TxEvent.of(tx) for tx in chunk], labels)
        return features

    stage("features", len(txs), features_with(engine.store_kind))
    if engine.store_kind != "python":
        # The reference store's cost beside the compiled one's.
        stage("features_python", len(txs), features_with("python"))
    store = engine.new_store()
    for tx in txs:
        store.update(TxEvent.of(tx))
    vectors = [store.row(TxEvent.of(tx)) for tx in txs]

    vector_batches = [vectors[i:i + batch] for i in range(0, len(vectors), batch)]

    def model() -> None:
        for chunk in vector_batches:
            # The engine's matrix: its rows are already in the model's feature order.
            engine.model.predict_batch(np.array(chunk, dtype=float))

    stage("model", len(vectors), model)
    scores = [{PRIMARY_MODEL: s} for s in engine.model.scores(np.array(vectors, dtype=float))]
    now = datetime.now(UTC)

    bound = BoundRuleSet(engine.rules.current,
                         record_variable(FEATURE_NAMES, tuple(Transaction.model_fields)))

    def rules() -> None:
        for i in range(0, len(txs), batch):
            bound.verdicts([(tx.__dict__, vector, sc) for tx, vector, sc in
                            zip(txs[i:i + batch], vectors[i:i + batch], scores[i:i + batch],
                                strict=True)], now)

    stage("rules", len(txs), rules)
    decisions: list[Any] = []

    async def decide_all() -> None:
        engine_store = engine.new_store()
        for chunk in batches:
            scored = await engine.decide_batch(chunk, engine_store, datetime.now(UTC))
            decisions.extend(scored.decisions)

    def decide() -> None:
        decisions.clear()
        asyncio.run(decide_all())

    stage("engine", len(txs), decide)
    def encode_all() -> None:
        for d in decisions:
            encode(d)

    stage("encode", len(decisions), encode_all)
    return {"events": events, "batch": batch, "model_version": engine.model.version,
            "feature_store": engine.store_kind, "stages": results}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.micro SPEC.json``: writes ``spec['out']``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("spec", type=Path)
    args = parser.parse_args(argv)
    spec = read_json(args.spec)
    result = run_stages(Path(spec["pool"]), int(spec.get("events", 5000)),
                        int(spec.get("batch", 500)))
    write_json(Path(spec["out"]), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
