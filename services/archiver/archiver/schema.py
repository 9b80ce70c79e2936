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
from datetime import datetime
from operator import itemgetter
from typing import Any

import pyarrow as pa

from fraudstream_shared.events import (
    FraudDecision,
    Outcome,
    ProcessedTransaction,
    TransactionLabel,
)
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

NEVER_REPEATED = frozenset({"event_id", "event_time", "kafka_offset"})
"""Columns whose values (almost) never repeat within a file: not dictionary-encoded.

Their dictionary would be as large as the column itself, so building it is
wasted work (~10 % of a decisions file's Parquet encoding) and the file grows.
"""

PARTITION_KEYS = ("dt", "hour")
"""Hive-style partition folders ``dt=YYYY-MM-DD/hour=HH`` (not stored in the files)."""


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


Row = tuple[Any, ...]
"""One row: the values of a table's columns, in the schema's order."""

TRANSACTION_COLUMNS = tuple(name for name in DECISIONS.names
                            if name in ProcessedTransaction.model_fields)
"""The ``decisions`` columns that are the transaction's own fields, copied as they are."""

FD_COLUMNS = ("outcome", "model_name", "model_score", "model_scores", "matched_rules",
              "blocking_rules", "reasons", "top_feature", "model_version", "detector_version",
              "proc_time_ms", "ttdf_ms", "scorer_time_ms", "frauddetector_time_ms", "scored_at")
"""The ``decisions`` columns made from ``fd``, in the order :func:`decision_row` yields them."""

SOURCE_COLUMNS = tuple(field.name for field in SOURCE_FIELDS)
LABEL_COLUMNS = tuple(name for name in LABELS.names if name not in SOURCE_COLUMNS)

# One C call reads all the fields from the model's __dict__ (where pydantic keeps
# them): an attribute lookup per field would search the model's classes first.
_transaction_values = itemgetter(*TRANSACTION_COLUMNS)
_label_values = itemgetter(*LABEL_COLUMNS)
_fd_values = itemgetter("model_version", "detector_version", "proc_time", "ttdf",
                        "scorer_time", "frauddetector_time", "scored_at")

_INT32_MIN, _INT64_MIN = -INT32_MAX - 1, -INT64_MAX - 1
_BLOCK = Outcome.BLOCK


def _ints_fit(decision: ProcessedTransaction, fd: FraudDecision) -> bool:
    """Whether every integer fits its column (one chain of comparisons, no names)."""
    scores = fd.model_scores.values()
    return (_INT32_MIN <= decision.schema_version <= INT32_MAX
            and (not scores or (min(scores) >= _INT32_MIN and max(scores) <= INT32_MAX))
            and _INT64_MIN <= fd.proc_time <= INT64_MAX and _INT64_MIN <= fd.ttdf <= INT64_MAX
            and _INT64_MIN <= fd.frauddetector_time <= INT64_MAX)


def _check_decision_ints(decision: ProcessedTransaction, fd: FraudDecision) -> None:
    """Raise :class:`PoisonMessageError` naming the first integer that does not fit."""
    _check_ints({f"fd.model_scores.{k}": v for k, v in fd.model_scores.items()}
                | {"schema_version": decision.schema_version}, INT32_MAX, "int32")
    _check_ints({"fd.proc_time": fd.proc_time, "fd.ttdf": fd.ttdf,
                 "fd.frauddetector_time": fd.frauddetector_time}, INT64_MAX, "int64")


def _rules(rule_results: dict[str, list[Outcome]]) -> tuple[list[str], list[str]]:
    """(matched, blocking) rule ids, sorted; most decisions match no rule at all."""
    matched = [rule for rule, outs in rule_results.items() if outs]
    if not matched:
        return matched, []
    matched.sort()
    return matched, [rule for rule in matched if _BLOCK in rule_results[rule]]


def decision_row(decision: ProcessedTransaction, *, topic: str, partition: int, offset: int,
                 archived_at: datetime) -> Row:
    """A ``decisions`` row: the transaction's fields and ``fd`` flattened into columns.

    ``model_name``/``model_score`` are the highest of ``fd.model_scores`` (the
    score that drove the decision when several models answered); the full map
    stays in ``model_scores``. ``matched_rules`` are the rule ids that matched
    (non-empty outcome list), ``blocking_rules`` those that asked for ``block``.
    Values go to Arrow as the model holds them: timestamps aware and in UTC
    (Arrow stores an aware ``datetime`` in a zone-less column as its UTC wall
    time), the outcome as the ``StrEnum`` member (a ``str`` of its value).
    Raises :class:`PoisonMessageError` for an integer the columns cannot hold.
    """
    fd = decision.fd
    if not _ints_fit(decision, fd):
        _check_decision_ints(decision, fd)
    scores = fd.model_scores
    pairs = list(scores.items())
    if len(pairs) == 1:  # the usual single model: already sorted, and its own best
        best: tuple[str, int] | None = pairs[0]
    else:
        best = max(pairs, key=itemgetter(1), default=None)
        pairs.sort()
    matched, blocking = _rules(fd.rule_results)
    contributions = fd.contributions
    return (*_transaction_values(decision.__dict__),
            fd.outcome,
            best[0] if best else None,
            best[1] if best else None,
            pairs,
            matched,
            blocking,
            fd.reasons,
            contributions[0].feature if contributions else None,
            *_fd_values(fd.__dict__),
            topic, partition, offset, archived_at)


def label_row(label: TransactionLabel, *, topic: str, partition: int, offset: int,
              archived_at: datetime) -> Row:
    """A ``labels`` row."""
    if not _INT32_MIN <= label.schema_version <= INT32_MAX:
        _check_ints({"schema_version": label.schema_version}, INT32_MAX, "int32")
    return (*_label_values(label.__dict__), topic, partition, offset, archived_at)


def to_table(rows: list[Row], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of exactly ``schema``, built column by column.

    One ``pa.array`` per column converts all its values in C++, where a
    table built from per-row dicts would look every value up by name first.
    """
    if not rows:
        return schema.empty_table()
    columns = zip(*rows, strict=True)
    return pa.Table.from_arrays(
        [pa.array(values, type=field.type) for field, values in zip(schema, columns, strict=True)],
        schema=schema)


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
