"""CPU per record of the archiver's path, split by stage (a development tool, not shipped).

    uv run --no-sync python services/archiver/tools/micro.py [--events 20000] [--rows 20000]

Decisions are made once by the real scorer ``Engine`` over producer-simulated
transactions (cached as encoded messages in ``--cache``), then every stage of
the archiver runs over them, single-threaded, as the worker runs it:

- handle_batch: ``ArchiverWorker.handle_batch`` over polls of 2,000 records of one
  partition (decode, row, ``PartitionBuffer.add``: the worker's own per-record code);
- of_which_decode: decoding alone (``fraudstream_shared.events.decode``, each result
  dropped at once as the worker drops it), for the breakdown; not added to the total;
- table: each flush's files as Arrow tables;
- parquet: the tables as Parquet bytes;
- write: the bytes stored durably in a local lake (temp file, fsync, rename).

It reports process CPU microseconds per record (the best of ``--repeat`` runs:
a busy machine only ever adds) and the records per CPU-second that means.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import archiver
import archiver.worker
from archiver.schema import TABLES, to_table
from archiver.settings import ArchiverSettings
from archiver.store import LocalStore
from archiver.worker import ArchiverWorker, parquet_bytes
from fraudstream_shared.events import ProcessedTransaction, Transaction, decode, encode
from fraudstream_shared.kafka import Record
from fraudstream_shared.runtime import tune_gc

TOPIC = "processed_transactions"


def make_decisions(count: int, batch: int = 500) -> list[bytes]:
    """``count`` encoded decisions of the real scorer over simulated transactions.

    The simulator spreads its events over days; here they are stamped 1 ms
    apart ending now, as in a 1,000 tx/s stream, so that a flush falls in one or
    two hours as it does in the pipeline (not in dozens of small files) and the
    latencies are those of a live stream.
    """
    from producer.simulation import SimulationConfig, Simulator
    from scorer.engine import Engine
    from scorer.settings import ScorerSettings

    simulator = Simulator(SimulationConfig(), seed=7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [event for event, _ in simulator.events(start, count=count, stream_seed=7)]
    first = datetime.now(UTC) - timedelta(milliseconds=count)
    for i, event in enumerate(events):
        event["event_time"] = (first + timedelta(milliseconds=i)).isoformat()
    txs = [decode(Transaction, json.dumps(event).encode()) for event in events]
    engine = Engine.from_settings(ScorerSettings())

    async def decide() -> list[ProcessedTransaction]:
        store, out = engine.new_store(), []
        for i in range(0, len(txs), batch):
            out += (await engine.decide_batch(txs[i:i + batch], store, datetime.now(UTC))).decisions
        return out

    return [encode(d) for d in asyncio.run(decide())]


def load(cache: Path, count: int) -> list[bytes]:
    """The cached decisions, made first when the cache holds fewer than ``count``."""
    if cache.exists():
        values = [line.rstrip(b"\n") for line in cache.read_bytes().splitlines() if line]
        if len(values) >= count:
            return values[:count]
    values = make_decisions(count)
    cache.write_bytes(b"".join(v + b"\n" for v in values))
    return values


T = TypeVar("T")


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    """(CPU seconds, result) of ``fn()``, with the collector run before, not during, timing."""
    gc.collect()
    started = time.process_time()
    result = fn()
    return time.process_time() - started, result


POLL = 2000
"""Records per poll: the worker's ``max_records`` with the default ``ARCHIVER_MAX_ROWS``."""


def quiet_worker() -> ArchiverWorker:
    """An archiver that is never started: ``handle_batch`` only buffers (no limit is reached)."""
    return ArchiverWorker(ArchiverSettings(
        decisions_topic=TOPIC, archiver_max_rows=1_000_000, archiver_max_bytes=2**62,
        archiver_flush_interval_s=3600))


def one_flush(worker: ArchiverWorker, records: list[Record], store: LocalStore,
              spent: dict[str, float]) -> int:
    """Buffer ``records`` as the worker does and write them as one flush, adding each
    stage's CPU to ``spent``; returns how many files it wrote."""

    async def handle() -> None:
        for i in range(0, len(records), POLL):
            await worker.handle_batch(records[i:i + POLL])

    spent["handle_batch"] += cpu(lambda: asyncio.run(handle()))[0]
    # What decoding alone costs (results dropped at once, as handle_batch drops them).
    spent["of_which_decode"] += cpu(
        lambda: [decode(ProcessedTransaction, r.value) and None for r in records])[0]
    buffers = list(worker.buffers.values())
    worker.buffers.clear()
    took, tables = cpu(lambda: [(key, to_table(rows, TABLES[b.table]))
                                for b in buffers for key, rows in b.files()])
    spent["table"] += took
    took, files = cpu(lambda: [(key, parquet_bytes(table)) for key, table in tables])
    spent["parquet"] += took

    def write() -> None:
        for key, data in files:
            asyncio.run(store.put(key, data))

    spent["write"] += cpu(write)[0]
    return len(files)


def one_run(values: list[bytes], rows_per_flush: int, lake: Path) -> tuple[dict[str, float], int]:
    """CPU seconds of each stage over all ``values``, flushing every ``rows_per_flush``,
    and the number of files written."""
    spent = dict.fromkeys(("handle_batch", "of_which_decode", "table", "parquet", "write"), 0.0)
    store = LocalStore(lake)
    asyncio.run(store.start())
    worker = quiet_worker()
    records = [Record(TOPIC, 0, offset, 0, 0, b"key", value, None, 3, len(value), [])
               for offset, value in enumerate(values)]
    files = 0
    for first in range(0, len(records), rows_per_flush):
        files += one_flush(worker, records[first:first + rows_per_flush], store, spent)
    return spent, files


def main(argv: list[str] | None = None) -> int:
    """Print CPU µs per record of each stage as JSON."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=20_000,
                        help="records per flush (ARCHIVER_MAX_ROWS)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "archiver-micro-decisions-live.jsonl")
    args = parser.parse_args(argv)
    values = load(args.cache, args.events)
    tune_gc()  # as every service does once it is built (fraudstream_shared.runtime.serve)
    runs, files = [], 0
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as lake:
            spent, files = one_run(values, args.rows, Path(lake))
            runs.append(spent)
    best = {stage: min(run[stage] for run in runs) for stage in runs[0]}
    best["total"] = min(sum(run.values()) - run["of_which_decode"] for run in runs)
    n = len(values)
    report = {
        "code": str(Path(archiver.__file__).parent), "events": n, "rows_per_flush": args.rows,
        "files": files,
        "bytes_per_event": round(sum(map(len, values)) / n),
        "cpu_us_per_record": {stage: round(s / n * 1e6, 2) for stage, s in best.items()},
        "records_per_cpu_second": round(n / best["total"])}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
