"""The Dashboards saved objects reference only mapped fields, and the importer's request."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from fraudstream_shared.aws import load_credentials
from indexer.dashboards import (
    SAVED_OBJECTS,
    ImportFailedError,
    check_import_response,
    import_request,
    import_saved_objects,
    main,
    multipart_body,
    sigv4_signed,
)
from indexer.mapping import index_template, mapped_fields
from tests.support.aws import FAKE_ACCESS_KEY, FAKE_SESSION_TOKEN, isolate_aws

DOMAIN = "https://vpc-fraudstream-dev-abc123.eu-west-1.es.amazonaws.com/_dashboards"
SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$")

KUERY_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")
AGGREGATABLE = {"keyword", "date", "long", "integer", "double", "float", "geo_point"}


def _objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAVED_OBJECTS.read_text().splitlines() if line.strip()]


def _referenced_fields(obj: dict[str, Any]) -> set[str]:
    """Every field a saved object names: aggregation fields, kuery terms, filters, time field."""
    attributes = obj["attributes"]
    fields: set[str] = set()
    if obj["type"] == "index-pattern":
        fields.add(attributes["timeFieldName"])
    if "visState" in attributes:
        for agg in json.loads(attributes["visState"])["aggs"]:
            if "field" in agg["params"]:
                fields.add(agg["params"]["field"])
    search = attributes.get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
    if search:
        source = json.loads(search)
        fields.update(KUERY_FIELD.findall(source.get("query", {}).get("query", "")))
        for item in source.get("filter", []):
            fields.add(item["meta"]["key"])
    return fields


def _mapping() -> dict[str, str]:
    properties = index_template("processed_transactions")["template"]["mappings"]["properties"]
    return dict(mapped_fields(properties))


def test_every_field_a_visualisation_references_is_mapped_and_aggregatable() -> None:
    mapping = _mapping()
    referenced = set().union(*(_referenced_fields(obj) for obj in _objects()))
    assert {"fd.outcome", "transaction_amt", "fd.ttdf", "billing_state", "billing_location",
            "fd.model_scores.fraudstream", "event_time",
            "transaction_currency"} <= referenced
    missing = sorted(field for field in referenced if field not in mapping)
    assert missing == []
    assert {field: mapping[field] for field in referenced
            if mapping[field] not in AGGREGATABLE} == {}


def test_saved_objects_are_complete_and_consistent() -> None:
    objects = _objects()
    by_id = {obj["id"]: obj for obj in objects}
    patterns = [obj for obj in objects if obj["type"] == "index-pattern"]
    assert [p["attributes"]["title"] for p in patterns] == ["processed_transactions*"]
    assert patterns[0]["attributes"]["timeFieldName"] == "event_time"
    (dashboard,) = [obj for obj in objects if obj["type"] == "dashboard"]
    panel_refs = {ref["name"]: ref["id"] for ref in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert len(panels) == len(objects) - 2  # every visualisation is on the dashboard
    for panel in panels:
        assert by_id[panel_refs[panel["panelRefName"]]]["type"] == "visualization"
    for obj in objects:
        for ref in obj["references"]:
            assert ref["id"] in by_id, f"{obj['id']} references a missing {ref['id']}"
    titles = {obj["attributes"]["title"] for obj in objects if obj["type"] == "visualization"}
    assert {"Transaction Count", "Blocked Count", "Outcome", "Fraud by Currency",
            "Fraud by State", "Score Distribution", "Blocked Transactions Map"} <= titles


def test_outcome_pie_colours_and_blocked_filters() -> None:
    by_title = {obj["attributes"]["title"]: obj for obj in _objects()
                if obj["type"] == "visualization"}
    colours = json.loads(by_title["Outcome"]["attributes"]["uiStateJSON"])["vis"]["colors"]
    assert set(colours) == {"approve", "block", "review"}
    for title in ("Blocked Count", "Sum of Fraudulent Transactions", "Fraud by State",
                  "Fraud by Currency", "Blocked Transactions Map"):
        search = json.loads(by_title[title]["attributes"]["kibanaSavedObjectMeta"]
                            ["searchSourceJSON"])
        # Lower-case: fd.outcome is a keyword, so "Block" would match nothing.
        assert search["query"]["query"] == "fd.outcome:block"
    latency = json.loads(by_title["Average Decision Latency (ms, event to decision)"]
                         ["attributes"]["visState"])
    assert latency["aggs"][0]["params"]["field"] == "fd.ttdf"


def test_multipart_body_has_one_file_part() -> None:
    body = multipart_body("x.ndjson", b'{"a":1}\n', "BOUNDARY")
    assert body.startswith(b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; "
                           b"filename=\"x.ndjson\"\r\n")
    assert body.endswith(b'{"a":1}\n\r\n--BOUNDARY--\r\n')


def test_import_response_with_errors_raises() -> None:
    assert check_import_response({"success": True, "successCount": 14}) == 14
    with pytest.raises(ImportFailedError, match="missing_references"):
        check_import_response({"success": False, "errors": [{"error": {
            "type": "missing_references"}}]})


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, Message, bytes]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        # HTTP header names are case-insensitive; Message looks them up that way.
        _Recorder.requests.append((self.path, self.headers, self.rfile.read(length)))
        body = json.dumps({"success": True, "successCount": 14}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recording_server() -> Iterator[str]:
    """A local HTTP server that records what it receives and answers like Dashboards."""
    _Recorder.requests = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_import_posts_the_ndjson_with_the_xsrf_header_and_overwrite(
    recording_server: str,
) -> None:
    assert import_saved_objects(recording_server, username="admin", password="s3cret") == 14
    ((path, headers, body),) = _Recorder.requests
    assert path == "/api/saved_objects/_import?overwrite=true"
    assert headers["osd-xsrf"] == "true"
    assert headers["Authorization"] == "Basic YWRtaW46czNjcmV0"
    assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert SAVED_OBJECTS.read_bytes() in body


# ----------------------------------------------------------------------------- SigV4


def test_sigv4_signs_the_import_for_es_in_the_region(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=True)
    unsigned = import_request(DOMAIN, b'{"a":1}\n')
    signed = sigv4_signed(unsigned, load_credentials().get_frozen_credentials(), "eu-west-1")
    headers = {name.lower(): value for name, value in signed.header_items()}
    match = SIGV4.match(headers["authorization"])
    assert match is not None, headers["authorization"]
    assert (match["key"], match["region"], match["service"]) == (
        FAKE_ACCESS_KEY, "eu-west-1", "es")
    assert headers["x-amz-date"].startswith(match["date"])
    assert headers["x-amz-security-token"] == FAKE_SESSION_TOKEN
    # The XSRF header, the multipart boundary and the host are part of the signature.
    assert {"content-type", "host", "osd-xsrf", "x-amz-date",
            "x-amz-security-token"} <= set(match["signed"].split(";"))
    assert headers["osd-xsrf"] == "true"
    assert signed.full_url == DOMAIN + "/api/saved_objects/_import?overwrite=true"
    assert signed.get_method() == "POST"
    assert signed.data == unsigned.data
    assert "authorization" not in {n.lower() for n, _ in unsigned.header_items()}


def test_sigv4_import_sends_the_signed_request(recording_server: str,
                                               monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=True, session_token=False)
    assert import_saved_objects(recording_server, auth="sigv4", region="eu-central-1") == 14
    ((path, headers, body),) = _Recorder.requests
    assert path == "/api/saved_objects/_import?overwrite=true"
    match = SIGV4.match(headers["Authorization"])
    assert match is not None
    assert (match["key"], match["region"], match["service"]) == (
        FAKE_ACCESS_KEY, "eu-central-1", "es")
    assert "X-Amz-Security-Token" not in headers  # long-term keys carry no session token
    assert headers["osd-xsrf"] == "true"
    assert SAVED_OBJECTS.read_bytes() in body


def test_sigv4_without_a_region_or_credentials_is_refused(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    isolate_aws(monkeypatch, tmp_path, credentials=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with pytest.raises(ValueError, match="needs a region"):
        import_saved_objects(DOMAIN, auth="sigv4")
    assert main(["import", "--url", DOMAIN, "--auth", "sigv4", "--region", "eu-west-1",
                 "--wait-s", "0"]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err
