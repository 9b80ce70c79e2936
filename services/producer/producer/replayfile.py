"""Reading transactions from CSV, JSON Lines or Parquet files for replay.

Each row is validated with :class:`Transaction`; a row that fails is returned
with its line (row) number and a payload-free reason, so the caller reports it
and moves on — it is never skipped silently.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from fraudstream_shared.events import Transaction
from fraudstream_shared.events.codec import describe_validation_error

FileFormat = Literal["csv", "jsonl", "parquet"]

EXTENSIONS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

NUMERIC_CSV_FIELDS = ("transaction_amt",)
"""CSV cells are text; the contract wants a JSON number for the amount."""


@dataclass(frozen=True)
class ReplayRow:
    """One row of a replay file: a valid transaction, or the reason it is not one.

    ``line`` is the 1-based line of the file for CSV and JSON Lines (the header
    is line 1 of a CSV) and the 1-based row number for Parquet. ``label`` and
    ``scenario`` come from optional ``label`` (``fraud``/``legit``) or
    ``is_fraud`` (0/1) and ``scenario`` columns.
    """

    line: int
    transaction: Transaction | None
    error: str | None = None
    label: Literal["fraud", "legit"] | None = None
    scenario: str | None = None


def detect_format(path: Path) -> FileFormat:
    """The file's format from its extension; ``ValueError`` for an unknown one."""
    try:
        return EXTENSIONS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(EXTENSIONS))
        raise ValueError(f"cannot replay {path.name}: unknown extension (use {known})") from None


def read_replay_file(path: Path) -> Iterator[ReplayRow]:
    """Yield every row of ``path`` in file order, validated."""
    raw_rows = {"csv": _csv_rows, "jsonl": _jsonl_rows, "parquet": _parquet_rows}
    for line, data, error in raw_rows[detect_format(path)](path):
        yield validate_row(line, data) if data is not None else ReplayRow(line, None, error)


def validate_row(line: int, data: dict[str, Any]) -> ReplayRow:
    """Validate one raw row against the contract and pick up its optional label."""
    try:
        transaction = Transaction.model_validate(data)
    except ValidationError as exc:
        return ReplayRow(line, None, "schema_violation: " + describe_validation_error(exc))
    return ReplayRow(line, transaction, None, row_label(data), _text(data.get("scenario")))


def row_label(data: dict[str, Any]) -> Literal["fraud", "legit"] | None:
    """The row's label from a ``label`` or ``is_fraud`` column, if it has one."""
    label = data.get("label")
    if isinstance(label, str) and label.strip().lower() in ("fraud", "legit"):
        return "fraud" if label.strip().lower() == "fraud" else "legit"
    flag = data.get("is_fraud")
    if flag is None or flag == "":
        return None
    return "fraud" if str(flag).strip().lower() in ("1", "true", "1.0") else "legit"


def transaction_payload(transaction: Transaction, event_time: datetime | None = None
                        ) -> dict[str, Any]:
    """The contract dict to publish, with ``event_time`` as ISO 8601 ``+00:00``."""
    payload = transaction.model_dump(mode="json", exclude_none=True)
    moment = event_time or transaction.event_time
    payload["event_time"] = moment.isoformat(timespec="milliseconds")
    return payload


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


RawRows = Iterator[tuple[int, dict[str, Any] | None, str | None]]


def _csv_rows(path: Path) -> RawRows:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if None in row:  # more cells than header columns
                yield reader.line_num, None, "malformed_csv: more cells than columns"
                continue
            data: dict[str, Any] = {k: v for k, v in row.items() if v not in (None, "")}
            for name in NUMERIC_CSV_FIELDS:
                if name in data:
                    data[name] = _number(data[name])
            yield reader.line_num, data, None


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text  # left as text: validation reports it
    return int(value) if value.is_integer() and "." not in text else value


def _jsonl_rows(path: Path) -> RawRows:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, None, f"invalid_json: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(data, dict):
                yield number, None, f"not_an_object: got {type(data).__name__}"
                continue
            yield number, data, None


def _parquet_rows(path: Path) -> RawRows:
    import pyarrow.parquet as pq  # imported here: only replay of Parquet needs it

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
        for data in batch.to_pylist():
            number += 1
            yield number, {k: v for k, v in data.items() if v is not None}, None
