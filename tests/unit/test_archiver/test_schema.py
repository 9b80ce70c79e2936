"""The lake's schemas and the record → row mapping."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from archiver.schema import (
    ARCHIVE_REJECTED,
    DECISIONS,
    LABELS,
    NEVER_REPEATED,
    decision_row,
    glue_tables_json,
    label_row,
    to_table,
)
from archiver.worker import parquet_bytes
from fraudstream_shared.events import FraudDecision
from fraudstream_shared.exceptions import PoisonMessageError
from tests.unit.test_archiver.factories import decision, label

GLUE_FILE = Path(__file__).resolve().parents[3] / "services/archiver/archiver/glue_tables.json"
WHERE = {"topic": "processed_transactions", "partition": 4, "offset": 1234,
         "archived_at": datetime(2026, 5, 1, 12, 0, tzinfo=UTC)}


def test_every_field_of_the_contract_has_a_column() -> None:
    columns = set(DECISIONS.names)
    transaction_fields = set(decision().model_dump(exclude={"fd"}))
    assert transaction_fields <= columns
    # fd is flattened: each FraudDecision field is a column, or explicitly derived.
    derived = {"model_scores": "model_scores", "rule_results": "matched_rules",
               "contributions": "top_feature", "proc_time": "proc_time_ms",
               "ttdf": "ttdf_ms", "scorer_time": "scorer_time_ms",
               "frauddetector_time": "frauddetector_time_ms"}
    not_archived = {"features"}  # optional, per-model debugging output; see the README
    for name in set(FraudDecision.model_fields) - not_archived:
        assert derived.get(name, name) in columns, name


def test_decision_row_flattens_fd_into_typed_columns() -> None:
    event_time = datetime(2026, 5, 1, 9, 15, tzinfo=timezone(timedelta(hours=2)))
    d = decision("block", score=950, event_time=event_time,
                 fd={"model_scores": {"fraudstream": 950, "remote": 990},
                     "rule_results": {"high_score": ["block"], "velocity": ["review"],
                                      "allow_list": []}})
    row = decision_row(d, **WHERE)
    table = to_table([row], DECISIONS)
    assert table.schema == DECISIONS
    got = table.to_pylist()[0]
    assert got["event_time"] == datetime(2026, 5, 1, 7, 15)  # UTC, without a zone
    assert got["outcome"] == "block"
    assert (got["model_name"], got["model_score"]) == ("remote", 990)
    assert dict(got["model_scores"]) == {"fraudstream": 950, "remote": 990}
    assert got["matched_rules"] == ["high_score", "velocity"]
    assert got["blocking_rules"] == ["high_score"]
    assert got["top_feature"] == "amount_vs_customer"
    assert (got["ttdf_ms"], got["proc_time_ms"], got["scorer_time_ms"]) == (
        d.fd.ttdf, d.fd.proc_time, d.fd.scorer_time)
    assert (got["kafka_topic"], got["kafka_partition"], got["kafka_offset"]) == (
        "processed_transactions", 4, 1234)


def test_a_decision_without_model_scores_has_null_score_columns() -> None:
    row = decision_row(decision("review", fd={"model_scores": {}}), **WHERE)
    got = to_table([row], DECISIONS).to_pylist()[0]
    assert got["model_score"] is None
    assert got["model_name"] is None


def test_integers_the_columns_cannot_hold_are_rejected_as_poison() -> None:
    with pytest.raises(PoisonMessageError) as caught:
        decision_row(decision(fd={"model_scores": {"fraudstream": 10**12}}), **WHERE)
    assert caught.value.reason == ARCHIVE_REJECTED
    with pytest.raises(PoisonMessageError):
        decision_row(decision(fd={"ttdf": 10**20}), **WHERE)


def test_label_rows_match_their_schema() -> None:
    row = label_row(label("e-1", True), **WHERE)
    table = to_table([row], LABELS)
    assert table.to_pylist()[0]["label"] == "fraud"
    assert table.schema == LABELS


def test_parquet_files_keep_the_schema() -> None:
    rows = [decision_row(decision(o), **WHERE) for o in ("approve", "review", "block")]
    read = pq.read_table(io.BytesIO(parquet_bytes(to_table(rows, DECISIONS))))
    assert read.schema.equals(DECISIONS)
    assert read.num_rows == 3
    assert read.column("event_time").type == pa.timestamp("us")


def test_the_glue_columns_file_matches_the_schemas() -> None:
    assert GLUE_FILE.read_text() == glue_tables_json(), (
        "run: uv run python -m archiver.schema > services/archiver/archiver/glue_tables.json")
    tables = json.loads(GLUE_FILE.read_text())
    assert [name for name, _ in tables["decisions"]] == DECISIONS.names
    assert [name for name, _ in tables["labels"]] == LABELS.names


def test_only_columns_that_repeat_are_dictionary_encoded() -> None:
    rows = [decision_row(decision(o), **(WHERE | {"offset": i}))
            for i, o in enumerate(("approve", "review", "block"))]
    meta = pq.ParquetFile(io.BytesIO(parquet_bytes(to_table(rows, DECISIONS)))).metadata
    group = meta.row_group(0)
    encoded = {group.column(i).path_in_schema.split(".")[0]: group.column(i).encodings
               for i in range(group.num_columns)}
    for name in NEVER_REPEATED:
        assert "RLE_DICTIONARY" not in encoded[name], name
    assert "RLE_DICTIONARY" in encoded["outcome"]
    assert "RLE_DICTIONARY" in encoded["entity_id"]

