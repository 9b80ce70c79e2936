"""``request_pieces``: how a polled batch is split into concurrent bulk requests."""

from __future__ import annotations

from typing import Any

import pytest

from indexer.worker import BULK_IN_FLIGHT, MIN_REQUEST_DOCS, request_pieces


@pytest.mark.parametrize("count", [0, 1, 49, 50, 99, 100, 101, 499, 500, 501, 1000, 1999, 2000])
@pytest.mark.parametrize("max_docs", [1, 50, 500, 1000])
def test_pieces_keep_every_record_in_order_and_respect_the_maximum(count: int,
                                                                   max_docs: int) -> None:
    records: list[Any] = list(range(count))
    pieces = request_pieces(records, max_docs)
    assert [r for piece in pieces for r in piece] == records
    assert all(0 < len(piece) <= max_docs for piece in pieces)


def test_a_full_poll_is_split_for_concurrent_requests() -> None:
    pieces = request_pieces(list(range(500)), 500)
    assert [len(p) for p in pieces] == [500 // BULK_IN_FLIGHT] * BULK_IN_FLIGHT


def test_a_small_poll_is_not_split_into_tiny_requests() -> None:
    assert len(request_pieces(list(range(MIN_REQUEST_DOCS)), 500)) == 1
