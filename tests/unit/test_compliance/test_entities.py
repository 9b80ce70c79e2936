"""Names, organisations and places from dictionaries and context; the model adapter."""

from __future__ import annotations

import pytest

from compliance.findings import Finding
from compliance.recognisers.entities import DictionaryRecogniser, capitalised_runs, tokenize
from compliance.recognisers.model import ModelRecogniser, entity_type, findings_from_spans


@pytest.fixture(scope="module")
def recognise() -> DictionaryRecogniser:
    return DictionaryRecogniser()


def _found(recognise: DictionaryRecogniser, text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in recognise(text)]


def test_a_title_makes_a_person_even_with_unknown_names(recognise: DictionaryRecogniser) -> None:
    text = "Signed by Dr. Oluwaseun Adeyemi yesterday."
    assert ("person", "Oluwaseun Adeyemi") in _found(recognise, text)


def test_first_and_last_name_from_the_dictionaries(recognise: DictionaryRecogniser) -> None:
    assert _found(recognise, "then Maria Garcia paid") == [("person", "Maria Garcia")]


def test_organisation_suffixes_and_leaders(recognise: DictionaryRecogniser) -> None:
    text = "Accounts at Contoso GmbH and the Bank of Ireland were closed by Acme Widgets Inc."
    found = _found(recognise, text)
    assert ("organisation", "Contoso GmbH") in found
    assert ("organisation", "Bank of Ireland") in found
    assert ("organisation", "Acme Widgets Inc.") in found


def test_places_need_context_when_they_are_also_words_or_names(
        recognise: DictionaryRecogniser) -> None:
    assert ("location", "Reading") in _found(recognise, "the flood at your home in Reading.")
    assert _found(recognise, "Reading the report was slow.") == []
    assert ("location", "Austin") in _found(recognise, "She moved to Austin in June.")


def test_countries_and_street_addresses(recognise: DictionaryRecogniser) -> None:
    found = _found(recognise, "Ship to 221 Baker Street, London, United Kingdom.")
    assert ("location", "221 Baker Street") in found
    assert ("location", "London") in found
    assert ("location", "United Kingdom") in found


def test_plain_capitalised_words_are_not_entities(recognise: DictionaryRecogniser) -> None:
    assert _found(recognise, "Total Amount Due. Please Pay Now. Quarterly Report.") == []


def test_runs_join_on_spaces_and_abbreviation_dots_only() -> None:
    text = "Mr. John Smith. The End"
    runs = [[t.text for t in run] for run in capitalised_runs(text, tokenize(text))]
    assert runs == [["Mr", "John", "Smith"], ["The", "End"]]


def test_model_labels_map_to_our_types() -> None:
    assert entity_type("B-PER") == "person"
    assert entity_type("ORG") == "organisation"
    assert entity_type("GPE") == "location"
    assert entity_type("MISC") is None


def test_model_tokens_are_merged_into_entities() -> None:
    text = "Jane Doe works at Acme Corp"
    spans = [{"entity": "B-PER", "start": 0, "end": 4, "score": 0.99},
             {"entity": "I-PER", "start": 5, "end": 8, "score": 0.97},
             {"entity_group": "ORG", "start": 18, "end": 27, "score": 0.9},
             {"label": "MISC", "start": 10, "end": 15}]
    found = findings_from_spans(spans, text, "transformers")
    assert [(f.type, text[f.start:f.end], f.confidence) for f in found] == [
        ("person", "Jane Doe", 0.97), ("organisation", "Acme Corp", 0.9)]


def test_model_recogniser_runs_an_injected_pipeline() -> None:
    recogniser = ModelRecogniser("spacy", __import__("pathlib").Path("/models/x"),
                                 run=lambda text: [{"label": "PERSON", "start": 0, "end": 4}])
    assert recogniser("Jane went home") == [Finding("person", 0, 4, 0.8, "spacy")]
    assert recogniser.version == "spacy:x"
