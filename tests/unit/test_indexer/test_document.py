"""``to_document``: the decision as it is indexed."""

from __future__ import annotations

import json

from indexer.document import billing_location, document_id, to_document
from tests.unit.test_indexer.factories import make_decision


def test_document_id_is_the_event_id() -> None:
    decision = make_decision()
    assert document_id(decision) == decision.event_id


def test_billing_location_is_a_geo_point_from_the_string_coordinates() -> None:
    # The original producer sent coordinates as strings: "39.78", "-89.65".
    document = to_document(make_decision())
    assert document["billing_location"] == {"lat": 39.78, "lon": -89.65}
    assert document["billing_latitude"] == 39.78


def test_no_billing_location_when_a_coordinate_is_missing() -> None:
    decision = make_decision(billing_longitude=None)
    assert billing_location(decision) is None
    document = to_document(decision)
    assert "billing_location" not in document
    assert "billing_longitude" not in document  # absent, not null


def test_field_types_are_json_ready() -> None:
    document = to_document(make_decision(outcome="block", score=910))
    json.dumps(document)  # serialisable as it is
    assert document["event_time"].endswith("Z")
    assert document["fd"]["scored_at"].endswith("Z")
    assert document["fd"]["outcome"] == "block"
    assert document["fd"]["model_scores"] == {"fraudstream": 910}
    assert document["fd"]["rule_results"]["high_score"] == ["block"]
    assert document["fd"]["contributions"][0]["feature"] == "amount_zscore"
    assert isinstance(document["transaction_amt"], float)
    assert isinstance(document["fd"]["ttdf"], int)
    assert document["transaction_currency"] == "usd"
