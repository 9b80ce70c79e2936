"""Replay files: CSV, JSON Lines and Parquet, with invalid rows reported by line."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from producer.replayfile import detect_format, read_replay_file, transaction_payload
from producer.sources import ReplaySource
from tests.support.factories import original_sample_transaction

FIELDS = list(original_sample_transaction())


def _rows() -> list[dict[str, Any]]:
    good = [original_sample_transaction(event_id=f"e{i}", entity_id=f"100-00-000{i}")
            for i in range(3)]
    bad = original_sample_transaction(event_id="bad", transaction_amt="lots")
    return [good[0], good[1], bad, good[2]]


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FIELDS, "label"])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "label": "fraud" if row["event_id"] == "e1" else "legit"})


def test_csv_rows_are_validated_and_the_bad_one_reported(tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    _write_csv(path, _rows())
    rows = list(read_replay_file(path))
    assert [r.line for r in rows] == [2, 3, 4, 5]  # line 1 is the header
    assert [r.transaction.event_id if r.transaction else None for r in rows] == [
        "e0", "e1", None, "e2"]
    assert rows[2].error is not None
    assert "transaction_amt" in rows[2].error
    assert rows[0].transaction is not None
    assert rows[0].transaction.transaction_amt == 1234
    assert rows[0].transaction.billing_zip == "6270"
    assert [r.label for r in rows] == ["legit", "fraud", None, "legit"]


def test_jsonl_rows_with_broken_json_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "tx.jsonl"
    lines = [json.dumps(r) for r in _rows()]
    lines.insert(1, "{not json")
    lines.insert(2, "")
    lines.append("[1, 2]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(read_replay_file(path))
    invalid = [(r.line, (r.error or "").split(":")[0]) for r in rows if r.transaction is None]
    assert invalid == [(2, "invalid_json"), (5, "schema_violation"), (7, "not_an_object")]
    assert [r.transaction.event_id for r in rows if r.transaction] == ["e0", "e1", "e2"]


def test_parquet_rows_by_row_number(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    rows = _rows()
    rows[2] = {**rows[2], "transaction_amt": None}  # a missing mandatory amount
    for row in rows:
        if row["transaction_amt"] is not None:
            row["transaction_amt"] = float(row["transaction_amt"])
        row["is_fraud"] = 1 if row["event_id"] == "e2" else 0
        row["scenario"] = "card_testing" if row["event_id"] == "e2" else None
    pq.write_table(pa.Table.from_pylist(rows), path)
    parsed = list(read_replay_file(path))
    assert [r.line for r in parsed] == [1, 2, 3, 4]
    assert parsed[2].transaction is None
    assert "transaction_amt" in (parsed[2].error or "")
    assert (parsed[3].label, parsed[3].scenario) == ("fraud", "card_testing")
    assert (parsed[0].label, parsed[0].scenario) == ("legit", None)


def test_unknown_extension_is_refused() -> None:
    assert detect_format(Path("x.NDJSON")) == "jsonl"
    with pytest.raises(ValueError, match="unknown extension"):
        detect_format(Path("data.xlsx"))


def test_payload_uses_the_contract_with_utc_offset() -> None:
    rows = list(validate(original_sample_transaction(event_time="2024-05-01T10:00:00")))
    tx = rows[0]
    payload = transaction_payload(tx)
    assert payload["event_time"] == "2024-05-01T10:00:00.000+00:00"
    assert payload["billing_latitude"] == pytest.approx(39.78)
    stamped = transaction_payload(tx, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert stamped["event_time"] == "2025-01-02T03:04:05.000+00:00"


def validate(data: dict[str, Any]) -> list[Any]:
    from fraudstream_shared.events import Transaction

    return [Transaction.model_validate(data)]


def test_replay_source_counts_invalid_rows_and_finishes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tx.csv"
    _write_csv(path, _rows())
    now = datetime(2025, 6, 1, tzinfo=UTC)
    source = ReplaySource(path, clock=lambda: now)
    first = source.take(2)
    assert [m.event_id for m in first] == ["e0", "e1"]
    assert first[0].payload["event_time"] == "2025-06-01T00:00:00.000+00:00"
    rest = source.take(10)
    assert [m.event_id for m in rest] == ["e2"]
    assert source.finished
    assert (source.rows_read, source.rows_invalid) == (4, 1)
    invalid_logs = [r for r in caplog.records if r.getMessage() == "producer.replay.row_invalid"]
    assert len(invalid_logs) == 1
    assert invalid_logs[0].fields["line"] == 4  # type: ignore[attr-defined]
    assert source.take(5) == []
