"""Precision and recall per type on the labelled sample (generated PDFs, planted values)."""

from __future__ import annotations

import pytest

from tests.unit.test_compliance.labelled import (
    PATTERN_TYPES,
    build_sample,
    evaluate_sample,
    prose_sample,
    table,
)

PATTERN_RECALL_FLOOR = 0.95
ENTITY_RECALL_FLOOR = 0.85
"""Dictionary-and-context names, organisations and places: reported, with a lower floor."""


@pytest.fixture(scope="module")
def templated_scores() -> dict[str, object]:
    return evaluate_sample(build_sample(documents=30))  # type: ignore[return-value]


def test_pattern_types_reach_the_recall_floor(templated_scores: dict, capsys) -> None:
    with capsys.disabled():
        print("\n" + table(templated_scores))
    for kind in PATTERN_TYPES:
        score = templated_scores[kind]
        assert score.tp + score.fn >= 10, f"the sample plants too few {kind} values"
        assert score.recall >= PATTERN_RECALL_FLOOR, f"{kind}: recall {score.recall:.3f}"
        assert score.precision >= 0.9, f"{kind}: precision {score.precision:.3f}"


def test_entity_types_are_measured_and_reasonable(templated_scores: dict) -> None:
    for kind in ("person", "organisation", "location"):
        score = templated_scores[kind]
        assert score.tp + score.fn >= 30
        assert score.recall >= ENTITY_RECALL_FLOOR, f"{kind}: recall {score.recall:.3f}"
        assert score.precision >= 0.8, f"{kind}: precision {score.precision:.3f}"


def test_hand_written_prose_with_traps() -> None:
    scores = evaluate_sample(prose_sample())
    found = sum(s.tp for s in scores.values())
    gold = sum(s.tp + s.fn for s in scores.values())
    false = sum(s.fp for s in scores.values())
    assert found / gold >= 0.9, table(scores)
    assert false <= 2, table(scores)
