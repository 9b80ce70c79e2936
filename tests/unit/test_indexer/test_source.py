"""``document_source`` and ``bulk_payload``: the fast bulk body says what the old one said.

The old body was ``bulk_body`` (dicts from ``to_document``) encoded by
opensearch-py's serializer; the new one is built from pydantic-core JSON. They
must carry the same documents: equal after parsing, key order included, and
NaN/infinities spelled the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opensearchpy.client.utils import _bulk_body
from opensearchpy.serializer import JSONSerializer

from fraudstream_shared.events import ProcessedTransaction
from indexer.bulk import bulk_body, bulk_payload, encode_source
from indexer.document import document_id, document_source, to_document
from tests.unit.test_indexer.factories import decision_payload


def old_body(index: str, decisions: list[ProcessedTransaction]) -> bytes:
    """What the indexer sent before: ``bulk_body`` encoded by the client itself."""
    documents = [(document_id(d), to_document(d)) for d in decisions]
    text: str = _bulk_body(JSONSerializer(), bulk_body(index, documents))
    return text.encode("utf-8", "surrogatepass")


def canonical(body: bytes) -> list[str]:
    """Each NDJSON line parsed and re-encoded: equal iff the content (and key order) is."""
    # Split on b"\n" only: str.splitlines() would also split inside strings (\x85, \u2028).
    return [json.dumps(json.loads(line)) for line in body.split(b"\n") if line]


texts = st.text(min_size=1, max_size=30).filter(lambda t: t.strip() == t)
floats = st.floats(allow_nan=True, allow_infinity=True)


@st.composite
def decisions(draw: st.DrawFn) -> ProcessedTransaction:
    """Decisions with unusual but valid content: unicode, non-finite scores, gaps."""
    payload = decision_payload(event_id=draw(texts), customer_name=draw(texts))
    if draw(st.booleans()):
        payload["billing_latitude"] = draw(st.floats(-90, 90))
        payload["billing_longitude"] = draw(st.one_of(st.none(), st.floats(-180, 180)))
    fd = payload["fd"]
    fd["scorer_time"] = draw(floats)
    fd["proc_time"] = draw(st.integers(min_value=-(2**70), max_value=2**70))
    fd["contributions"] = draw(st.lists(st.fixed_dictionaries(
        {"feature": texts, "contribution": floats},
        optional={"value": st.one_of(st.none(), floats)}), max_size=3))
    fd["features"] = draw(st.one_of(st.none(), st.dictionaries(texts, st.one_of(st.none(),
                                                                                 floats))))
    fd["reasons"] = draw(st.lists(st.text(max_size=40), max_size=2))
    fd["rule_results"] = draw(st.dictionaries(texts, st.lists(
        st.sampled_from(["approve", "review", "block"]), max_size=2), max_size=4))
    return ProcessedTransaction.model_validate(payload)


@settings(max_examples=300, deadline=None)
@given(st.lists(decisions(), min_size=1, max_size=4), texts)
def test_the_bulk_body_carries_the_same_documents_as_before(
    batch: list[ProcessedTransaction], index: str
) -> None:
    new = bulk_payload(index, [(document_id(d), document_source(d)) for d in batch])
    old = old_body(index, batch)
    assert new.endswith(b"\n")
    assert canonical(new) == canonical(old)


@settings(max_examples=200, deadline=None)
@given(decisions())
def test_sources_with_a_null_are_encoded_exactly_as_before(decision: ProcessedTransaction) -> None:
    source = document_source(decision)
    if b"null" in source or b"NaN" in source or b"Infinity" in source:
        assert source == encode_source(to_document(decision))


def test_non_finite_scores_keep_the_old_spelling() -> None:
    payload = decision_payload()
    payload["fd"]["scorer_time"] = math.inf
    payload["fd"]["contributions"] = [{"feature": "a", "value": math.nan, "contribution": 1.0}]
    source = document_source(ProcessedTransaction.model_validate(payload))
    assert b'"scorer_time":Infinity' in source
    assert b'"value":NaN' in source


def test_billing_location_is_appended_last_as_in_to_document() -> None:
    decision = ProcessedTransaction.model_validate(decision_payload())
    parsed = json.loads(document_source(decision))
    assert list(parsed) == list(to_document(decision))
    assert parsed["billing_location"] == {"lat": 39.78, "lon": -89.65}


def test_no_billing_location_without_both_coordinates() -> None:
    decision = ProcessedTransaction.model_validate(decision_payload(billing_latitude=None))
    assert "billing_location" not in json.loads(document_source(decision))


@pytest.mark.parametrize("source", [{"n": 1.5, "s": "é\u2028\x7f", "x": [math.nan, None]},
                                    {"deep": {"a": [1, {"b": math.inf}]}}])
def test_mapping_sources_are_encoded_byte_for_byte_like_the_client(source: dict[str, Any]) -> None:
    documents = [("id-\u00e9", source), ('quote"id', {"k": "v"})]
    expected: str = _bulk_body(JSONSerializer(), bulk_body("idx", documents))
    assert bulk_payload("idx", documents) == expected.encode("utf-8", "surrogatepass")
