"""Test doubles for the unit tests: a publisher that records, a processor on a local folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from compliance.detect import default_recognisers
from compliance.processor import Processor
from compliance.recognisers import patterns
from compliance.settings import ComplianceSettings
from compliance.storage import DocumentStore, LocalStore
from fraudstream_shared.events import ComplianceFindings
from fraudstream_shared.exceptions import RetryableError


class RecordingPublisher:
    """Keeps published records in memory; ``fail`` makes the next publishes transiently fail."""

    def __init__(self) -> None:
        self.records: dict[str, ComplianceFindings] = {}
        self.published: list[ComplianceFindings] = []
        self.fail = 0

    async def publish(self, record: ComplianceFindings) -> None:
        if self.fail:
            self.fail -= 1
            raise RetryableError("Kafka publish failed: broker down")
        self.published.append(record)
        self.records[record.document_id] = record

    async def fetch(self, document_id: str) -> dict[str, Any] | None:
        record = self.records.get(document_id)
        return None if record is None else record.model_dump(mode="json", exclude_none=True)


def make_settings(**overrides: Any) -> ComplianceSettings:
    """Settings that ignore the environment's .env and take only what the test passes."""
    return ComplianceSettings(_env_file=None, **overrides)  # type: ignore[call-arg]


def make_processor(root: Path | None = None, *, store: DocumentStore | None = None,
                   publisher: RecordingPublisher | None = None,
                   **overrides: Any) -> tuple[Processor, RecordingPublisher]:
    """A processor with the pattern recognisers only (fast) on a local folder."""
    settings = make_settings(compliance_local_root=root or Path("."), **overrides)
    publisher = publisher or RecordingPublisher()
    processor = Processor(settings, store or LocalStore(settings.compliance_local_root),
                          publisher, default_recognisers(None),  # type: ignore[arg-type]
                          {"patterns": patterns.VERSION, "entities": "none"})
    return processor, publisher
