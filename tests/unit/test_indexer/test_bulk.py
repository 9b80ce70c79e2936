"""Bulk request and response handling as pure functions."""

from __future__ import annotations

import random
from typing import Any

import pytest
from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import ConnectionTimeout, RequestError, TransportError

from fraudstream_shared.retry import backoff_delay
from indexer.bulk import (
    bulk_body,
    chunked,
    classify_bulk_items,
    describe_item_error,
    error_cause,
    is_transient_error,
    retry_delay,
)


def _ok(status: int = 201) -> dict[str, Any]:
    return {"index": {"_index": "i", "_id": "x", "status": status, "result": "created"}}


def _failed(status: int, error_type: str, reason: str = "r") -> dict[str, Any]:
    return {"index": {"_index": "i", "_id": "x", "status": status,
                      "error": {"type": error_type, "reason": reason}}}


MAPPING_ERROR = {
    "type": "mapper_parsing_exception",
    "reason": "failed to parse field [fd.model_scores.fraudstream] of type [integer] in "
              "document with id 'e1'. Preview of field's value: 'jessica@example.com'",
    "caused_by": {"type": "illegal_argument_exception",
                  "reason": "Numeric value (1000000000000) out of range of int"},
}


def test_bulk_body_alternates_index_actions_with_ids_and_sources() -> None:
    body = bulk_body("idx", [("a", {"n": 1}), ("b", {"n": 2})])
    assert body == [
        {"index": {"_index": "idx", "_id": "a"}}, {"n": 1},
        {"index": {"_index": "idx", "_id": "b"}}, {"n": 2},
    ]


def test_classify_retries_429_and_5xx_and_rejects_other_4xx() -> None:
    items = [
        _ok(201),
        _ok(200),  # replay: updated in place
        _failed(429, "rejected_execution_exception"),
        _failed(503, "unavailable_shards_exception"),
        {"index": {"status": 400, "error": MAPPING_ERROR}},
        _failed(409, "version_conflict_engine_exception"),
    ]
    outcome = classify_bulk_items(items, expected=6)
    assert outcome.indexed == [0, 1]
    assert outcome.retry == [2, 3]
    assert outcome.retry_causes == ["429", "503"]
    assert [position for position, _ in outcome.rejected] == [4, 5]
    assert outcome.rejected[0][1].startswith("mapper_parsing_exception: failed to parse field")


def test_blocked_or_missing_index_is_retried_not_dead_lettered() -> None:
    # A write block (403) or a deleted index is fixed by an operator, not by
    # changing the document: the documents must wait.
    items = [_failed(403, "cluster_block_exception"), _failed(404, "index_not_found_exception")]
    outcome = classify_bulk_items(items, expected=2)
    assert outcome.retry == [0, 1]
    assert outcome.rejected == []


def test_a_response_with_the_wrong_number_of_items_is_refused() -> None:
    with pytest.raises(ValueError, match="1 items for 2 documents"):
        classify_bulk_items([_ok()], expected=2)


def test_item_error_description_keeps_the_cause_but_drops_the_value_preview() -> None:
    text = describe_item_error(MAPPING_ERROR)
    assert "jessica@example.com" not in text
    assert "Preview" not in text
    assert "fd.model_scores.fraudstream" in text
    assert "caused by illegal_argument_exception: Numeric value" in text


def test_transient_errors_are_connection_problems_throttling_and_server_errors() -> None:
    assert is_transient_error(OpenSearchConnectionError("N/A", "refused", Exception()))
    assert is_transient_error(ConnectionTimeout("TIMEOUT", "timed out", Exception()))
    assert is_transient_error(TransportError(429, "too_many_requests", {}))
    assert is_transient_error(TransportError(502, "bad gateway", {}))
    assert not is_transient_error(RequestError(400, "illegal_argument_exception", {}))
    assert not is_transient_error(TransportError(401, "unauthorized", {}))
    assert not is_transient_error(KeyError("bug"))
    assert error_cause(TransportError(503, "x", {})) == "503"
    assert error_cause(OpenSearchConnectionError("N/A", "refused", Exception())) == (
        "ConnectionError"
    )


def test_retry_delay_grows_exponentially_and_is_capped() -> None:
    # Same draws as the shared backoff with the same parameters.
    random.seed(7)
    delays = [retry_delay(attempt, 0.1, 2.0) for attempt in range(8)]
    random.seed(7)
    expected = [backoff_delay(attempt, base_s=0.1, cap_s=2.0) for attempt in range(8)]
    assert delays == expected
    assert all(delay <= 2.0 for delay in delays)
    assert 0.05 <= delays[0] <= 0.1
    assert delays[7] >= 1.0  # capped at 2.0, minus at most half for jitter


def test_chunked_keeps_order_and_size() -> None:
    assert [list(c) for c in chunked(list(range(7)), 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(chunked([1], 0))
