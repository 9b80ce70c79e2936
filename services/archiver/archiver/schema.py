"""The lake's two tables as explicit Arrow schemas, and the pure record → row mapping.

``decisions`` is the ``processed_transactions`` contract with ``fd`` flattened
into typed columns; ``labels`` is the ``transaction_labels`` contract. Both
carry where the record came from (topic, partition, offset). Timestamps are
stored as UTC without a zone (``timestamp[us]``), the one representation DuckDB
and Athena read identically. The Glue table in ``infra/aws`` declares the same
columns (``glue_columns`` produces them).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from fraudstream_shared.events import Outcome, ProcessedTransaction, TransactionLabel
from fraudstream_shared.exceptions import PoisonMessageError

TIMESTAMP = pa.timestamp("us")

SOURCE_FIELDS = [
    pa.field("kafka_topic", pa.string(), nullable=False),
    pa.field("kafka_partition", pa.int32(), nullable=False),
    pa.field("kafka_offset", pa.int64(), nullable=False),
    pa.field("archived_at", TIMESTAMP, nullable=False),
]

DECISIONS = pa.schema([
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("event_time", TIMESTAMP, nullable=False),
    pa.field("entity_id", pa.string(), nullable=False),
    pa.field("transaction_amt", pa.float64(), nullable=False),
    pa.field("transaction_currency", pa.string(), nullable=False),
    pa.field("email_address", pa.string()),
    pa.field("ip_address", pa.string()),
    pa.field("user_agent", pa.string()),
    pa.field("product_category", pa.string()),
    pa.field("card_bin", pa.string()),
    pa.field("customer_name", pa.string()),
    pa.field("billing_street", pa.string()),
    pa.field("billing_city", pa.string()),
    pa.field("billing_state", pa.string()),
    pa.field("billing_zip", pa.string()),
    pa.field("billing_latitude", pa.float64()),
    pa.field("billing_longitude", pa.float64()),
    pa.field("customer_job", pa.string()),
    pa.field("phone", pa.string()),
    pa.field("merchant_id", pa.string()),
    pa.field("schema_version", pa.int32(), nullable=False),
    # fd, flattened
    pa.field("outcome", pa.string(), nullable=False),
    pa.field("model_name", pa.string()),
    pa.field("model_score", pa.int32()),
    pa.field("model_scores", pa.map_(pa.string(), pa.int32())),
    pa.field("matched_rules", pa.list_(pa.string())),
    pa.field("blocking_rules", pa.list_(pa.string())),
    pa.field("reasons", pa.list_(pa.string())),
    pa.field("top_feature", pa.string()),
    pa.field("model_version", pa.string(), nullable=False),
    pa.field("detector_version", pa.string(), nullable=False),
    pa.field("proc_time_ms", pa.int64(), nullable=False),
    pa.field("ttdf_ms", pa.int64(), nullable=False),
    pa.field("scorer_time_ms", pa.float64(), nullable=False),
    pa.field("frauddetector_time_ms", pa.int64(), nullable=False),
    pa.field("scored_at", TIMESTAMP, nullable=False),
    *SOURCE_FIELDS,
])
"""One row per decision."""

LABELS = pa.schema([
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("entity_id", pa.string(), nullable=False),
    pa.field("label", pa.string(), nullable=False),
    pa.field("labelled_at", TIMESTAMP, nullable=False),
    pa.field("merchant_id", pa.string()),
    pa.field("scenario", pa.string()),
    pa.field("schema_version", pa.int32(), nullable=False),
    *SOURCE_FIELDS,
])
"""One row per label (ground truth learned later)."""

TABLES: dict[str, pa.Schema] = {"decisions": DECISIONS, "labels": LABELS}
"""Table name → schema; the table name is the lake's top-level folder."""

PARTITION_KEYS = ("dt", "hour")
"""Hive-style partition folders ``dt=YYYY-MM-DD/hour=HH`` (not stored in the files)."""


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone (how the lake stores every timestamp)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
ARCHIVE_REJECTED = "archive_rejected"
"""Dead-letter reason: valid for the contract but not representable in the lake's types."""


def _check_ints(values: dict[str, int], limit: int, type_name: str) -> None:
    """Raise :class:`PoisonMessageError` for an integer the column type cannot hold.

    The contract's integers are unbounded (Python ints); the Parquet columns
    are not, and one such record must be dead-lettered, not crash the writer.
    """
    for name, value in values.items():
        if not -limit - 1 <= value <= limit:
            raise PoisonMessageError(ARCHIVE_REJECTED, f"{name}={value} does not fit {type_name}")


def _source(topic: str, partition: int, offset: int, archived_at: datetime) -> dict[str, Any]:
    return {"kafka_topic": topic, "kafka_partition": partition, "kafka_offset": offset,
            "archived_at": naive_utc(archived_at)}


def decision_row(decision: ProcessedTransaction, *, topic: str, partition: int, offset: int,
                 archived_at: datetime) -> dict[str, Any]:
    """A ``decisions`` row: the transaction's fields and ``fd`` flattened into columns.

    ``model_name``/``model_score`` are the highest of ``fd.model_scores`` (the
    score that drove the decision when several models answered); the full map
    stays in ``model_scores``. ``matched_rules`` are the rule ids that matched
    (non-empty outcome list), ``blocking_rules`` those that asked for ``block``.
    Raises :class:`PoisonMessageError` for an integer the columns cannot hold.
    """
    fd = decision.fd
    _check_ints({f"fd.model_scores.{k}": v for k, v in fd.model_scores.items()}
                | {"schema_version": decision.schema_version}, INT32_MAX, "int32")
    _check_ints({"fd.proc_time": fd.proc_time, "fd.ttdf": fd.ttdf,
                 "fd.frauddetector_time": fd.frauddetector_time}, INT64_MAX, "int64")
    row = decision.model_dump(exclude={"fd"})
    row["event_time"] = naive_utc(decision.event_time)
    best = max(fd.model_scores.items(), key=lambda item: item[1], default=None)
    row.update(
        outcome=fd.outcome.value,
        model_name=best[0] if best else None,
        model_score=best[1] if best else None,
        model_scores=sorted(fd.model_scores.items()),
        matched_rules=sorted(rule for rule, outs in fd.rule_results.items() if outs),
        blocking_rules=sorted(rule for rule, outs in fd.rule_results.items()
                              if Outcome.BLOCK in outs),
        reasons=list(fd.reasons),
        top_feature=fd.contributions[0].feature if fd.contributions else None,
        model_version=fd.model_version,
        detector_version=fd.detector_version,
        proc_time_ms=fd.proc_time,
        ttdf_ms=fd.ttdf,
        scorer_time_ms=fd.scorer_time,
        frauddetector_time_ms=fd.frauddetector_time,
        scored_at=naive_utc(fd.scored_at),
    )
    row.update(_source(topic, partition, offset, archived_at))
    return row


def label_row(label: TransactionLabel, *, topic: str, partition: int, offset: int,
              archived_at: datetime) -> dict[str, Any]:
    """A ``labels`` row."""
    _check_ints({"schema_version": label.schema_version}, INT32_MAX, "int32")
    row = label.model_dump()
    row["labelled_at"] = naive_utc(label.labelled_at)
    row.update(_source(topic, partition, offset, archived_at))
    return row


def to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of exactly ``schema`` (unknown keys are ignored)."""
    return pa.Table.from_pylist(rows, schema=schema)


GLUE_TYPES = {
    pa.string(): "string", pa.int32(): "int", pa.int64(): "bigint", pa.float64(): "double",
    TIMESTAMP: "timestamp",
}


def glue_type(data_type: pa.DataType) -> str:
    """The Hive/Glue type name of an Arrow type used in the lake."""
    if pa.types.is_map(data_type):
        return f"map<{glue_type(data_type.key_type)},{glue_type(data_type.item_type)}>"
    if pa.types.is_list(data_type):
        return f"array<{glue_type(data_type.value_type)}>"
    return GLUE_TYPES[data_type]


def glue_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """(name, Glue type) of every column, in order — what the Glue table declares."""
    return [(field.name, glue_type(field.type)) for field in schema]


def glue_tables() -> dict[str, list[list[str]]]:
    """Every table's Glue columns, as checked in to ``glue_tables.json`` for ``infra/aws``.

    The CDK app cannot import pyarrow, so the deployment reads that JSON file;
    a unit test fails when it no longer matches these schemas.
    """
    return {name: [list(column) for column in glue_columns(schema)]
            for name, schema in TABLES.items()}


def glue_tables_json() -> str:
    """:func:`glue_tables` as the checked-in file's text (one column per line)."""
    tables = [f'  "{name}": [\n' + ",\n".join(f"    {json.dumps(column)}" for column in columns)
              + "\n  ]" for name, columns in glue_tables().items()]
    return "{\n" + ",\n".join(tables) + "\n}\n"


# python -m archiver.schema > services/archiver/archiver/glue_tables.json
if __name__ == "__main__":
    print(glue_tables_json(), end="")
