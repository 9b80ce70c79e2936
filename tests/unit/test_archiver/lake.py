"""Write a lake the way the archiver does (buffers → Parquet → the local store)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from archiver.buffer import PartitionBuffer
from archiver.schema import TABLES, decision_row, label_row, to_table
from archiver.store import LocalStore
from archiver.worker import parquet_bytes
from fraudstream_shared.events import ProcessedTransaction, TransactionLabel


async def write_lake(root: Path, decisions: list[ProcessedTransaction],
                     labels: list[TransactionLabel], *, per_file: int = 50) -> int:
    """Store ``decisions`` and ``labels`` as lake files (``per_file`` records a flush);
    return how many files were written."""
    store = LocalStore(root)
    await store.start()
    now = datetime.now(UTC)
    written = 0
    for table, items in (("decisions", decisions), ("labels", labels)):
        buffer = PartitionBuffer(f"{table}-topic", 0, table)
        for offset, item in enumerate(items):
            where = {"topic": buffer.topic, "partition": 0, "offset": offset, "archived_at": now}
            if isinstance(item, ProcessedTransaction):
                buffer.add(offset, 1, 0.0, decision_row(item, **where), item.event_time)
            else:
                buffer.add(offset, 1, 0.0, label_row(item, **where), item.labelled_at)
            if buffer.records == per_file or offset == len(items) - 1:
                for key, rows in buffer.files():
                    await store.put(key, parquet_bytes(to_table(rows, TABLES[table])))
                    written += 1
                buffer.clear()
    return written
