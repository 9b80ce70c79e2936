"""The columnar rows write exactly what the per-row dicts wrote.

The reference below is the archiver's code before rows became tuples built
column by column (``model_dump`` per record, ``pa.Table.from_pylist``, one
formatted folder per row), kept verbatim: for any decisions and labels the
new path must give equal Arrow tables, equal Parquet contents, the same files
and the same dead-letter reason and detail.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.buffer import PartitionBuffer
from archiver.layout import file_name, partition_path
from archiver.schema import (
    DECISIONS,
    FD_COLUMNS,
    LABELS,
    SOURCE_COLUMNS,
    TRANSACTION_COLUMNS,
    decision_row,
    label_row,
    to_table,
)
from archiver.worker import parquet_bytes
from fraudstream_shared.events import Outcome, ProcessedTransaction, TransactionLabel
from fraudstream_shared.exceptions import PoisonMessageError
from tests.unit.test_archiver.factories import decision_payload, varied_decisions

# -- the reference: the old code, verbatim -------------------------------------------

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def old_naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def old_check_ints(values: dict[str, int], limit: int, type_name: str) -> None:
    for name, value in values.items():
        if not -limit - 1 <= value <= limit:
            raise PoisonMessageError("archive_rejected", f"{name}={value} does not fit {type_name}")


def old_source(topic: str, partition: int, offset: int, archived_at: datetime) -> dict[str, Any]:
    return {"kafka_topic": topic, "kafka_partition": partition, "kafka_offset": offset,
            "archived_at": old_naive_utc(archived_at)}


def old_decision_row(decision: ProcessedTransaction, *, topic: str, partition: int, offset: int,
                     archived_at: datetime) -> dict[str, Any]:
    fd = decision.fd
    old_check_ints({f"fd.model_scores.{k}": v for k, v in fd.model_scores.items()}
                   | {"schema_version": decision.schema_version}, INT32_MAX, "int32")
    old_check_ints({"fd.proc_time": fd.proc_time, "fd.ttdf": fd.ttdf,
                    "fd.frauddetector_time": fd.frauddetector_time}, INT64_MAX, "int64")
    row = decision.model_dump(exclude={"fd"})
    row["event_time"] = old_naive_utc(decision.event_time)
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
        scored_at=old_naive_utc(fd.scored_at),
    )
    row.update(old_source(topic, partition, offset, archived_at))
    return row


def old_label_row(label: TransactionLabel, *, topic: str, partition: int, offset: int,
                  archived_at: datetime) -> dict[str, Any]:
    old_check_ints({"schema_version": label.schema_version}, INT32_MAX, "int32")
    row = label.model_dump()
    row["labelled_at"] = old_naive_utc(label.labelled_at)
    row.update(old_source(topic, partition, offset, archived_at))
    return row


def old_to_table(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


def old_parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def old_files(table: str, source_name: str, rows: list[dict[str, Any]],
              moments: list[datetime]) -> list[tuple[str, list[dict[str, Any]]]]:
    by_path: dict[str, list[dict[str, Any]]] = {}
    for row, moment in zip(rows, moments, strict=True):
        by_path.setdefault(partition_path(table, moment), []).append(row)
    return [(f"{path}/{source_name}", r) for path, r in sorted(by_path.items())]


# -- inputs ------------------------------------------------------------------------

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)),
                        timezone(timedelta(hours=-7, minutes=-30))])
MOMENTS = st.builds(lambda seconds, micros, zone: (datetime(2026, 5, 1, tzinfo=UTC)
                                                   + timedelta(seconds=seconds, microseconds=micros)
                                                   ).astimezone(zone),
                    st.integers(0, 3 * 86_400), st.integers(0, 999_999), ZONES)
NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
OUTCOMES = st.sampled_from([o.value for o in Outcome])
SCORE = st.one_of(st.integers(0, 1000), st.integers(-(2**31) - 2, 2**31 + 1))
TIMING = st.one_of(st.integers(0, 10**6), st.integers(-(2**63) - 2, 2**63 + 1))
TEXT = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                     include_characters=" ")
OPTIONAL_TEXT = st.one_of(st.none(), st.text(TEXT, max_size=20).map(str.strip).filter(bool))


@st.composite
def decision_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid decision value, edge cases included (ties, empty maps, foreign zones)."""
    moment = draw(MOMENTS)
    fd = {
        "model_scores": draw(st.dictionaries(NAMES, SCORE, max_size=3)),
        "rule_results": draw(st.dictionaries(NAMES, st.lists(OUTCOMES, max_size=3), max_size=5)),
        "reasons": draw(st.lists(st.text(max_size=30), max_size=3)),
        "contributions": [{"feature": f, "contribution": 0.5}
                          for f in draw(st.lists(NAMES, max_size=3))],
        "proc_time": draw(TIMING), "ttdf": draw(TIMING), "frauddetector_time": draw(TIMING),
        "scorer_time": draw(st.floats(0, 1e6)),
        "scored_at": draw(MOMENTS).isoformat(),
    }
    payload = decision_payload(draw(OUTCOMES), event_time=moment, fd=fd)
    for name in ("user_agent", "product_category", "customer_name", "billing_state",
                 "merchant_id", "phone", "billing_zip"):
        if draw(st.booleans()):
            payload[name] = draw(OPTIONAL_TEXT)
    if draw(st.booleans()):
        payload["billing_latitude"] = payload["billing_longitude"] = None
    payload["schema_version"] = draw(st.sampled_from([1, 2, 2**31 - 1, 2**31]))
    return payload


LABEL_VALUES = st.builds(
    lambda event_id, fraud, moment, merchant, scenario, version: TransactionLabel(
        event_id=event_id, entity_id="123-45-6789", label="fraud" if fraud else "legit",
        labelled_at=moment, merchant_id=merchant, scenario=scenario, schema_version=version),
    NAMES.map(str.strip).filter(bool), st.booleans(), MOMENTS,
    st.one_of(st.none(), st.just("m-7")), OPTIONAL_TEXT, st.sampled_from([1, 3, 2**31]))

ARCHIVED_AT = datetime(2026, 5, 2, 3, 4, 5, 678_901, tzinfo=UTC)


# -- comparisons -------------------------------------------------------------------

def rows_both_ways(make_new: Any, make_old: Any, items: list[Any], topic: str
                   ) -> tuple[list[Any], list[dict[str, Any]], list[tuple[int, str, str]]]:
    """New rows, old rows and (index, reason, detail) of every rejected item — which
    must be rejected by both, with the same reason and detail."""
    new, old, rejected = [], [], []
    for offset, item in enumerate(items):
        where = {"topic": topic, "partition": 3, "offset": offset, "archived_at": ARCHIVED_AT}
        outcomes = []
        for make in (make_new, make_old):
            try:
                outcomes.append(make(item, **where))
            except PoisonMessageError as exc:
                outcomes.append((exc.reason, exc.detail))
        new_row, old_row = outcomes
        if isinstance(old_row, tuple):
            assert new_row == old_row
            rejected.append((offset, *old_row))
            continue
        assert isinstance(new_row, tuple), new_row
        new.append(new_row)
        old.append(old_row)
    return new, old, rejected


def assert_same_tables(new: list[Any], old: list[dict[str, Any]], schema: pa.Schema) -> None:
    """Equal Arrow tables, and equal Parquet contents read back."""
    new_table, old_table = to_table(new, schema), old_to_table(old, schema)
    assert new_table.schema == old_table.schema == schema
    assert new_table.equals(old_table), (new_table.to_pylist()[:1], old_table.to_pylist()[:1])
    read_new = pq.read_table(io.BytesIO(parquet_bytes(new_table)))
    read_old = pq.read_table(io.BytesIO(old_parquet_bytes(old_table)))
    assert read_new.equals(read_old)
    assert read_new.schema.equals(read_old.schema, check_metadata=True)


def test_the_row_tuples_follow_the_schemas_column_order() -> None:
    assert (*TRANSACTION_COLUMNS, *FD_COLUMNS, *SOURCE_COLUMNS) == tuple(DECISIONS.names)
    row = decision_row(varied_decisions(1, seed=1, start=ARCHIVED_AT)[0], topic="t", partition=0,
                       offset=0, archived_at=ARCHIVED_AT)
    assert len(row) == len(DECISIONS)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(decision_payloads(), min_size=1, max_size=12))
def test_decisions_are_written_as_before(payloads: list[dict[str, Any]]) -> None:
    decisions = [ProcessedTransaction.model_validate(p) for p in payloads]
    new, old, _ = rows_both_ways(decision_row, old_decision_row, decisions, "decisions-topic")
    assert_same_tables(new, old, DECISIONS)


@settings(max_examples=100, deadline=None)
@given(st.lists(LABEL_VALUES, min_size=1, max_size=12))
def test_labels_are_written_as_before(labels: list[TransactionLabel]) -> None:
    new, old, _ = rows_both_ways(label_row, old_label_row, labels, "labels-topic")
    assert_same_tables(new, old, LABELS)


def test_a_realistic_flush_gives_the_same_files_and_rows() -> None:
    """3,000 varied decisions over three hours, one buffer: same keys, same rows per file."""
    decisions = varied_decisions(3000, seed=11, start=datetime(2026, 5, 1, 22, 30, tzinfo=UTC))
    buffer = PartitionBuffer("decisions-topic", 3, "decisions")
    new, old, rejected = rows_both_ways(decision_row, old_decision_row, decisions,
                                        "decisions-topic")
    assert not rejected
    for offset, (row, d) in enumerate(zip(new, decisions, strict=True)):
        buffer.add(offset, 1, 0.0, row, d.event_time)
    expected = old_files("decisions", file_name(buffer.source), old,
                         [d.event_time for d in decisions])
    files = buffer.files()
    assert [key for key, _ in files] == [key for key, _ in expected]
    assert len(files) > 1  # the flush crossed hours (and a day)
    for (_, rows), (_, old_rows) in zip(files, expected, strict=True):
        assert_same_tables(rows, old_rows, DECISIONS)


def test_out_of_range_integers_are_rejected_with_the_same_detail() -> None:
    cases = [{"fd": {"model_scores": {"a": 5, "b": 2**31}}},
             {"fd": {"model_scores": {"a": -(2**31) - 1}}, "schema_version": 2**31},
             {"schema_version": 2**31},
             {"fd": {"ttdf": 2**63, "proc_time": -(2**63) - 1}},
             {"fd": {"frauddetector_time": 2**63}}]
    decisions = [ProcessedTransaction.model_validate(decision_payload(**case)) for case in cases]
    new, _, rejected = rows_both_ways(decision_row, old_decision_row, decisions, "t")
    assert new == []
    assert [offset for offset, _, _ in rejected] == list(range(len(cases)))
    assert rejected[0][2] == "fd.model_scores.b=2147483648 does not fit int32"
