"""The HTTP routes over a processor on a temporary folder (the publisher records in memory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from compliance.api import add_document_routes
from compliance.processor import Processor
from tests.unit.test_compliance.fakes import RecordingPublisher, make_processor
from tests.unit.test_compliance.labelled import make_pdf


@pytest.fixture
def service(tmp_path: Path) -> tuple[TestClient, Processor, RecordingPublisher]:
    processor, publisher = make_processor(tmp_path, compliance_max_pages=3,
                                          compliance_max_upload_bytes=64 * 1024,
                                          compliance_publish_retry_s=0.5)
    app = FastAPI()
    add_document_routes(app, lambda: processor)
    return TestClient(app), processor, publisher


def _upload(client: TestClient, data: bytes, name: str = "doc.pdf", **params: str):
    return client.post("/documents", files={"file": (name, data, "application/pdf")},
                       params=params)


def test_personal_data_goes_to_pii_with_findings_and_a_redacted_copy(
        service: tuple[TestClient, Processor, RecordingPublisher], tmp_path: Path) -> None:
    client, _, publisher = service
    text = "Card 4111 1111 1111 1111, mail jane@example.com."
    response = _upload(client, make_pdf([text]), redact="true")
    assert response.status_code == 201
    body = response.json()
    assert body["route"] == "pii"
    assert body["counts"] == {"email": 1, "payment_card": 1}
    assert {f["type"] for f in body["findings"]} == {"email", "payment_card"}
    assert Path(body["destination"]) == tmp_path / "pii" / f"{body['document_id']}.pdf"
    redacted = Path(body["redacted_destination"]).read_text()
    assert "[PAYMENT_CARD]" in redacted
    assert "jane@example.com" not in redacted
    assert publisher.records[body["document_id"]].route == "pii"
    again = client.get(f"/documents/{body['document_id']}")
    assert again.json()["findings"] == body["findings"]


def test_clean_and_unreadable_documents(
        service: tuple[TestClient, Processor, RecordingPublisher], tmp_path: Path) -> None:
    client, _, _ = service
    clean = _upload(client, make_pdf(["Quarterly revenue grew by 4 percent."])).json()
    assert (clean["route"], clean["reason"]) == ("clean", "no_personal_data")
    assert (tmp_path / "clean" / f"{clean['document_id']}.pdf").exists()
    scan = _upload(client, make_pdf([""], blank_pages=[1])).json()
    assert (scan["route"], scan["reason"], scan["needs_ocr"]) == ("pii", "no_text_layer", True)


@pytest.mark.parametrize(("data", "status", "reason"), [
    (b"just text", 415, "not_a_pdf"),
    (b"%PDF-1.4 broken", 422, "malformed"),
    (make_pdf(["a", "b", "c", "d"]), 413, "too_many_pages"),
])
def test_refused_uploads_get_a_4xx_and_are_kept_with_the_reason(
        service: tuple[TestClient, Processor, RecordingPublisher], tmp_path: Path,
        data: bytes, status: int, reason: str) -> None:
    client, _, publisher = service
    response = _upload(client, data, name="bad.pdf")
    assert response.status_code == status
    body = response.json()
    assert body["error"] == reason
    kept = tmp_path / "rejected" / f"{body['document_id']}.pdf"
    assert kept.read_bytes() == data
    why = json.loads((tmp_path / "rejected" / f"{body['document_id']}.reason.json").read_text())
    assert (why["reason"], why["filename"], why["truncated"]) == (reason, "bad.pdf", False)
    record = publisher.records[body["document_id"]]
    assert (record.route, record.reason) == ("rejected", reason)


def test_an_oversized_upload_is_kept_truncated_and_says_so(
        service: tuple[TestClient, Processor, RecordingPublisher], tmp_path: Path) -> None:
    client, processor, _ = service
    limit = processor.limits.max_bytes
    response = _upload(client, b"%PDF-1.7\n" + b"0" * (limit + 100))
    assert response.status_code == 413
    document_id = response.json()["document_id"]
    assert (tmp_path / "rejected" / f"{document_id}.pdf").stat().st_size == limit + 1
    why = json.loads((tmp_path / "rejected" / f"{document_id}.reason.json").read_text())
    assert (why["reason"], why["kept_bytes"], why["truncated"]) == ("too_large", limit + 1, True)


def test_a_short_outage_is_ridden_out_and_a_long_one_is_a_503(
        service: tuple[TestClient, Processor, RecordingPublisher]) -> None:
    client, _, publisher = service
    publisher.fail = 2
    assert _upload(client, make_pdf(["jane@example.com"])).status_code == 201
    publisher.fail = 1_000_000
    response = _upload(client, make_pdf(["jane@example.com"]))
    assert response.status_code == 503
    assert response.headers["Retry-After"]


def test_an_idempotency_key_makes_a_retry_overwrite_the_first_attempt(
        service: tuple[TestClient, Processor, RecordingPublisher], tmp_path: Path) -> None:
    client, _, publisher = service
    headers = {"Idempotency-Key": "client-42-attempt"}
    first = client.post("/documents", headers=headers,
                        files={"file": ("a.pdf", make_pdf(["jane@example.com"]))}).json()
    second = client.post("/documents", headers=headers,
                         files={"file": ("a.pdf", make_pdf(["jane@example.com"]))}).json()
    assert first["document_id"] == second["document_id"]
    assert len(list((tmp_path / "pii").iterdir())) == 1
    assert len(publisher.records) == 1


def test_unknown_documents_are_404(
        service: tuple[TestClient, Processor, RecordingPublisher]) -> None:
    client, _, _ = service
    assert client.get("/documents/" + "0" * 32).status_code == 404
    assert client.get("/documents/not-an-id").status_code == 404
