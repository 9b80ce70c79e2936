"""Write a labelled simulated history to files: ``python -m producer.simulate``.

    python -m producer.simulate --preset handbook --days 183 \\
        --out data/events.parquet --labels data/labels.csv [--seed 0]

``--preset handbook`` is the Fraud Detection Handbook's setting
(:mod:`producer.simulation.handbook`); ``--preset fraudstream`` is the live
producer's own :class:`~producer.simulation.Simulator` (more scenarios, real-looking
identities). Events are written in the ``transactions`` contract as Parquet,
JSONL or CSV (by the extension of ``--out``); labels as CSV with
``event_id,label,labelled_at,scenario`` where ``labelled_at`` is the event time
plus ``--delay-days``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from producer.simulation import SimulationConfig, Simulator
from producer.simulation.handbook import HandbookConfig, simulate

Columns = dict[str, list[object]]


def handbook_columns(days: int, seed: int, delay_days: float, customers: int,
                     terminals: int) -> tuple[Columns, Columns]:
    """Events and labels of the Handbook preset."""
    data = simulate(HandbookConfig(n_customers=customers, n_terminals=terminals, days=days,
                                   label_delay_days=delay_days), seed)
    return data.columns(), data.label_columns()


def fraudstream_columns(days: int, seed: int, delay_days: float, start: datetime
                        ) -> tuple[Columns, Columns]:
    """Events and labels of the live producer's simulator over ``days`` from ``start``."""
    simulator = Simulator(SimulationConfig(), seed)
    events: Columns = {}
    labels: Columns = {"event_id": [], "label": [], "labelled_at": [], "scenario": []}
    delay = timedelta(days=delay_days)
    for event, label in simulator.events(start, until=start + timedelta(days=days)):
        when = datetime.fromisoformat(event["event_time"])
        for name, value in event.items():
            events.setdefault(name, []).append(when if name == "event_time" else value)
        labels["event_id"].append(event["event_id"])
        labels["label"].append(label.label)
        labels["labelled_at"].append(when + delay)
        labels["scenario"].append(label.scenario.value if label.scenario else "")
    return events, labels


def write_events(columns: Columns, path: Path) -> None:
    """Parquet, JSONL or CSV by the file extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        pq.write_table(pa.table(columns), path, compression="zstd")
    elif suffix == ".csv":
        pa_csv.write_csv(pa.table(_iso(columns)), path)
    elif suffix in (".jsonl", ".json", ".ndjson"):
        names = list(columns)
        iso = _iso(columns)
        with path.open("w") as out:
            for row in zip(*(iso[n] for n in names), strict=True):
                out.write(json.dumps(dict(zip(names, row, strict=True))) + "\n")
    else:
        raise SystemExit(f"unknown events format {suffix!r}: use .parquet, .jsonl or .csv")


def write_labels(columns: Columns, path: Path) -> None:
    """``event_id,label,labelled_at,scenario`` CSV with ISO 8601 times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    iso = _iso(columns)
    names = list(iso)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(names)
        writer.writerows(zip(*(iso[n] for n in names), strict=True))


def _iso(columns: Columns) -> Columns:
    return {name: [v.isoformat(timespec="milliseconds") if isinstance(v, datetime) else v
                   for v in values] for name, values in columns.items()}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m producer.simulate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=("handbook", "fraudstream"), default="handbook")
    parser.add_argument("--days", type=int, default=183)
    parser.add_argument("--out", type=Path, required=True, help="events file")
    parser.add_argument("--labels", type=Path, required=True, help="labels CSV")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay-days", type=float, default=7.0,
                        help="labels arrive this long after the transaction")
    parser.add_argument("--customers", type=int, default=5000, help="handbook preset only")
    parser.add_argument("--terminals", type=int, default=10000, help="handbook preset only")
    parser.add_argument("--start", default="2018-04-01",
                        help="first day (fraudstream preset; handbook starts 2018-04-01)")
    args = parser.parse_args(argv)
    if args.days < 1:
        parser.error("--days must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Simulate and write; prints a one-line summary."""
    args = parse_args(argv)
    started = time.monotonic()
    if args.preset == "handbook":
        events, labels = handbook_columns(args.days, args.seed, args.delay_days,
                                          args.customers, args.terminals)
    else:
        start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
        events, labels = fraudstream_columns(args.days, args.seed, args.delay_days, start)
    write_events(events, args.out)
    write_labels(labels, args.labels)
    frauds = sum(1 for label in labels["label"] if label == "fraud")
    total = len(labels["label"])
    print(f"{args.preset}: {total} events, {frauds} fraud ({frauds / max(total, 1):.2%}) "
          f"→ {args.out}, {args.labels} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
