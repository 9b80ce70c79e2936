"""Replay a file into Kafka from the command line, without the HTTP server.

``python -m producer.replay FILE --rate 100 --bootstrap 127.0.0.1:9092``
publishes every valid row of FILE (CSV, JSON Lines or Parquet in the
``transactions`` contract) at the given rate, reports invalid rows by line, and
exits when the file is done (0), or 1 if no row was valid.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from fraudstream_shared.logging import configure_logging
from producer.settings import ProducerSettings
from producer.worker import ProducerWorker


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line: the file, the rate, where to publish."""
    parser = argparse.ArgumentParser(prog="python -m producer.replay", description=__doc__)
    parser.add_argument("file", type=Path, help="CSV, JSONL or Parquet file")
    parser.add_argument("--rate", type=float, default=100.0, help="transactions per second")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings)")
    parser.add_argument("--topic", help="transactions topic (default: settings)")
    parser.add_argument("--labels-topic", help="labels topic (default: settings)")
    parser.add_argument("--label-delay", type=float, default=0.0,
                        help="seconds before a row's label is published (rows with labels)")
    parser.add_argument("--keep-event-time", action="store_true",
                        help="keep the file's event_time instead of the send time")
    return parser.parse_args(argv)


async def replay(settings: ProducerSettings) -> dict[str, Any]:
    """Publish the whole file, flush its labels, and return the final status."""
    worker = ProducerWorker(settings)
    try:
        await worker.start()
    except BaseException:
        await worker.close()
        raise
    task = asyncio.create_task(worker.run())
    drained = asyncio.create_task(worker.drained.wait())
    try:
        # Ends when the file and its labels are out, or when the loop crashed.
        await asyncio.wait({task, drained}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        drained.cancel()
        worker.stop()
        await task
        await worker.close()
    return worker.control.status()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    overrides: dict[str, Any] = {
        "producer_mode": "replay",
        "producer_replay_file": args.file,
        "producer_rate_per_s": args.rate,
        "producer_autostart": True,
        "producer_replay_keep_event_time": args.keep_event_time,
        "label_delay_s": args.label_delay,
    }
    for name, value in (("kafka_bootstrap_servers", args.bootstrap),
                        ("transactions_topic", args.topic), ("labels_topic", args.labels_topic)):
        if value is not None:
            overrides[name] = value
    settings = ProducerSettings(**overrides)
    configure_logging(settings.service_name, settings.log_level)
    status = asyncio.run(replay(settings))
    print(f"replayed {status['produced']} of {status['rows_read']} rows "
          f"({status['rows_invalid']} invalid) to {settings.transactions_topic}", file=sys.stderr)
    return 0 if status["produced"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
