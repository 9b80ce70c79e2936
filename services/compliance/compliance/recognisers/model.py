"""A user-supplied named-entity model (spaCy or transformers) instead of the dictionaries.

Nothing is ever downloaded: the model is loaded from ``COMPLIANCE_NER_MODEL_PATH``
(a directory), the libraries are optional imports, and transformers runs with
the Hugging Face hub switched off. Label mapping and the merging of adjacent
tokens are pure functions, tested without either library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from compliance.findings import Finding, merge_adjacent
from fraudstream_shared.events import EntityType
from fraudstream_shared.exceptions import ConfigError

LABELS: dict[str, EntityType] = {
    "PERSON": "person", "PER": "person",
    "ORG": "organisation",
    "GPE": "location", "LOC": "location", "FAC": "location",
}
"""spaCy (OntoNotes) and CoNLL labels → our entity types; other labels are ignored."""


def entity_type(label: str) -> EntityType | None:
    """Our type for a model label (``B-PER``/``I-PER`` prefixes stripped), or ``None``."""
    bare = label.split("-", 1)[1] if label[:2] in ("B-", "I-", "E-", "S-") else label
    return LABELS.get(bare.upper())


def findings_from_spans(spans: Iterable[Mapping[str, Any]], text: str, recogniser: str,
                        default_score: float = 0.8) -> list[Finding]:
    """Findings from ``{label|entity_group|entity, start, end, score}`` spans, adjacent merged."""
    found = []
    for span in spans:
        label = str(span.get("entity_group") or span.get("label") or span.get("entity") or "")
        kind = entity_type(label)
        start, end = int(span["start"]), int(span["end"])
        if kind is None or end <= start:
            continue
        score = float(span.get("score", default_score))
        found.append(Finding(kind, start, end, round(min(1.0, max(0.0, score)), 4), recogniser))
    return merge_adjacent(found, text)


class ModelRecogniser:
    """Runs a local spaCy pipeline or transformers token classifier over a text."""

    def __init__(self, backend: str, path: Path,
                 run: Callable[[str], list[Mapping[str, Any]]] | None = None) -> None:
        self.name = backend
        self.version = f"{backend}:{path.name}"
        self._run = run or _load(backend, path)

    def __call__(self, text: str) -> list[Finding]:
        """Person, organisation and location findings (spans relative to ``text``)."""
        return findings_from_spans(self._run(text), text, self.name)


def _load(backend: str, path: Path) -> Callable[[str], list[Mapping[str, Any]]]:
    if not path.is_dir():
        raise ConfigError(f"COMPLIANCE_NER_MODEL_PATH={path} is not a directory")
    if backend == "spacy":
        try:
            import spacy
        except ImportError as exc:
            raise ConfigError("COMPLIANCE_NER_BACKEND=spacy needs `pip install spacy`") from exc
        nlp = spacy.load(path)

        def run_spacy(text: str) -> list[Mapping[str, Any]]:
            return [{"label": e.label_, "start": e.start_char, "end": e.end_char, "score": 0.85}
                    for e in nlp(text).ents]
        return run_spacy
    if backend == "transformers":
        # Never reach for the hub, even for a tokenizer file the directory lacks.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from transformers import pipeline
        except ImportError as exc:
            raise ConfigError(
                "COMPLIANCE_NER_BACKEND=transformers needs `pip install transformers torch`"
            ) from exc
        classify = pipeline("token-classification", model=str(path), tokenizer=str(path),
                            aggregation_strategy="simple")

        def run_transformers(text: str) -> list[Mapping[str, Any]]:
            return list(classify(text))
        return run_transformers
    raise ConfigError(f"unknown NER backend {backend!r}")
