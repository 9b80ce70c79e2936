"""The deploy-time Dashboards import: the resources, and the handler's signing and replies."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("aws_cdk", reason="AWS CDK not installed (see infra/aws/README.md)")

from tests.unit.test_infra_aws.conftest import INFRA, REPO, one, resources

SAVED_OBJECTS = REPO / "services" / "indexer" / "indexer" / "saved_objects" / "fraudstream.ndjson"
ENDPOINT = "vpc-fraudstream-dev-abc.eu-west-1.es.amazonaws.com"


def test_function_runs_python_312_in_the_vpc_behind_its_own_group(
        template: dict[str, Any]) -> None:
    (function,) = [f["Properties"] for rid, f in resources(template, "AWS::Lambda::Function")
                   .items() if rid.startswith("DashboardsFunction")]
    assert function["Runtime"] == "python3.12"
    assert function["Handler"] == "dashboards_import.handler"
    assert function["ReservedConcurrentExecutions"] == 1
    assert len(function["VpcConfig"]["SubnetIds"]) == 2
    (group,) = function["VpcConfig"]["SecurityGroupIds"]
    group_id = group["Fn::GetAtt"][0]
    assert group_id.startswith("NetworkDashboardsImportSg")
    ingress = [r["Properties"] for r in resources(template, "AWS::EC2::SecurityGroupIngress")
               .values() if r["Properties"].get("SourceSecurityGroupId") == group]
    assert [(r["FromPort"], r["ToPort"]) for r in ingress] == [(443, 443)]
    assert ingress[0]["GroupId"]["Fn::GetAtt"][0].startswith("NetworkSearchSg")


def test_custom_resource_carries_the_endpoint_and_the_ndjson_hash(
        template: dict[str, Any]) -> None:
    resource = one(template, "Custom::DashboardsImport")
    assert resource["SavedObjectsSha256"] == hashlib.sha256(
        SAVED_OBJECTS.read_bytes()).hexdigest()
    assert resource["Endpoint"]["Fn::GetAtt"][1] == "DomainEndpoint"
    assert resource["ServiceToken"]["Fn::GetAtt"][0].startswith("DashboardsFunction")


def test_custom_resource_maps_each_writer_to_its_own_role_as_the_admin(
        template: dict[str, Any]) -> None:
    resource = one(template, "Custom::DashboardsImport")
    assert resource["AdminRoleArn"]["Fn::GetAtt"][0].startswith("SearchAdminRole")
    assert resource["ImportRoleArn"]["Fn::GetAtt"][0].startswith("DashboardsImportRole")
    writers = {w["Name"]: w for w in resource["Writers"]}
    assert set(writers) == {"indexer", "compliance"}
    for name, pattern in (("indexer", "processed_transactions*"),
                          ("compliance", "compliance_findings*")):
        role = writers[name]["RoleArn"]["Fn::GetAtt"][0]
        assert role.startswith(f"Services{name.capitalize()}TaskRole")
        assert writers[name]["IndexPatterns"] == [pattern]


def test_the_asset_bundles_the_handler_and_the_saved_objects(synthesized: Any) -> None:
    staged = synthesized.outdir / "dashboards-import-src"
    assert (staged / "fraudstream.ndjson").read_bytes() == SAVED_OBJECTS.read_bytes()
    assert (staged / "dashboards_import.py").read_text() == (
        INFRA / "functions" / "dashboards_import.py").read_text()


# ----------------------------------------------------------------------------- the handler


@pytest.fixture(scope="module")
def handler_module() -> ModuleType:
    """The Lambda's module, loaded from its file (it is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "dashboards_import", INFRA / "functions" / "dashboards_import.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_import_request_is_sigv4_signed_for_es_with_the_xsrf_header(
        handler_module: ModuleType) -> None:
    from botocore.credentials import Credentials

    credentials = Credentials("AKIAFRAUDSTREAMTEST1", "fake-secret", "fake-token")
    request = handler_module.signed_import_request(ENDPOINT, b'{"a":1}\n', credentials,
                                                   "eu-west-1")
    headers = {k.lower(): v for k, v in request.header_items()}
    assert request.full_url == (f"https://{ENDPOINT}/_dashboards/api/saved_objects/_import"
                                "?overwrite=true")
    assert request.get_method() == "POST"
    assert headers["osd-xsrf"] == "true"
    assert headers["x-amz-security-token"] == "fake-token"
    authorization = headers["authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIAFRAUDSTREAMTEST1/")
    assert "/eu-west-1/es/aws4_request" in authorization
    assert "osd-xsrf" in authorization.split("SignedHeaders=")[1]
    assert b'{"a":1}\n' in request.data


class _CloudFormation(BaseHTTPRequestHandler):
    replies: list[dict[str, Any]] = []

    def do_PUT(self) -> None:
        _CloudFormation.replies.append(json.loads(self.rfile.read(
            int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[str]:
    """A local stand-in for CloudFormation's pre-signed response URL."""
    _CloudFormation.replies = []
    server = HTTPServer(("127.0.0.1", 0), _CloudFormation)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/response"
    finally:
        server.shutdown()
        server.server_close()


def _event(request_type: str, response_url: str) -> dict[str, Any]:
    return {"RequestType": request_type, "ResponseURL": response_url, "StackId": "stack",
            "RequestId": "req-1", "LogicalResourceId": "DashboardsImport",
            "PhysicalResourceId": "fraudstream-dashboards-import",
            "ResourceProperties": {"Endpoint": ENDPOINT}}


def test_delete_reports_success_without_calling_opensearch(
        handler_module: ModuleType, response_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    handler_module.handler(_event("Delete", response_url), None)
    (reply,) = _CloudFormation.replies
    assert reply["Status"] == "SUCCESS"
    assert reply["PhysicalResourceId"] == "fraudstream-dashboards-import"
    assert (reply["RequestId"], reply["LogicalResourceId"]) == ("req-1", "DashboardsImport")


@pytest.mark.parametrize(("request_type", "status"), [("Create", "SUCCESS"),
                                                      ("Update", "FAILED")])
def test_an_unmapped_role_fails_updates_but_not_the_first_deployment(
        handler_module: ModuleType, request_type: str, status: str) -> None:
    def forbidden() -> int:
        raise handler_module.DashboardsImportError("HTTP 403: not mapped", forbidden=True)

    result, message = handler_module.outcome(request_type, forbidden)
    assert result == status
    assert "403" in message


def test_delete_never_imports(handler_module: ModuleType) -> None:
    def must_not_run() -> int:
        raise AssertionError("delete must not import")

    assert handler_module.outcome("Delete", must_not_run)[0] == "SUCCESS"


# ------------------------------------------------------------- fine-grained access control


def test_security_plan_gives_each_writer_its_own_role_and_keeps_existing_mappings(
        handler_module: ModuleType) -> None:
    writers = [{"Name": "indexer", "RoleArn": "arn:aws:iam::1:role/indexer",
                "IndexPatterns": ["processed_transactions*"]}]
    existing = {"backend_roles": ["arn:aws:iam::1:role/analyst"], "hosts": [],
                "users": ["alice"], "reserved": False, "hidden": False}
    calls = handler_module.security_plan(writers, "arn:aws:iam::1:role/import", existing)
    paths = [(method, path) for method, path, _ in calls]
    assert paths == [
        ("PUT", "/_plugins/_security/api/roles/fraudstream_indexer_writer"),
        ("PUT", "/_plugins/_security/api/rolesmapping/fraudstream_indexer_writer"),
        ("PUT", "/_plugins/_security/api/rolesmapping/kibana_user"),
    ]
    role, mapping, dashboards = (body for _, _, body in calls)
    (permission,) = role["index_permissions"]
    assert permission["index_patterns"] == ["processed_transactions*"]
    assert "indices_all" not in permission["allowed_actions"]
    assert mapping == {"backend_roles": ["arn:aws:iam::1:role/indexer"]}
    # Nobody already mapped loses access; read-only fields are not sent back.
    assert dashboards == {"backend_roles": ["arn:aws:iam::1:role/analyst",
                                            "arn:aws:iam::1:role/import"],
                          "hosts": [], "users": ["alice"]}
    again = handler_module.merged_mapping(dashboards, "arn:aws:iam::1:role/import")
    assert again["backend_roles"].count("arn:aws:iam::1:role/import") == 1


def test_the_admin_session_comes_from_sts_assume_role(handler_module: ModuleType) -> None:
    import botocore.session
    from botocore.stub import Stubber

    sts = botocore.session.Session().create_client(
        "sts", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    expires = "2026-11-25T12:15:00Z"
    with Stubber(sts) as stub:
        stub.add_response("assume_role", {
            "Credentials": {"AccessKeyId": "ASIAADMINFRAUDSTREAM", "SecretAccessKey": "s" * 40,
                            "SessionToken": "session-token", "Expiration": expires}},
            {"RoleArn": "arn:aws:iam::123456789012:role/admin",
             "RoleSessionName": "fraudstream-deploy", "DurationSeconds": 900})
        admin = handler_module.assume_admin("arn:aws:iam::123456789012:role/admin",
                                            "eu-west-1", sts)
    assert (admin.access_key, admin.token) == ("ASIAADMINFRAUDSTREAM", "session-token")


class _SecurityApi(BaseHTTPRequestHandler):
    """Records the security API calls; answers like OpenSearch's plugin does."""

    calls: list[tuple[str, str, Any, str]] = []

    def _record(self, body: Any) -> None:
        _SecurityApi.calls.append((self.command, self.path, body,
                                   self.headers.get("Authorization", "")))

    def do_GET(self) -> None:
        self._record(None)
        payload = json.dumps({"kibana_user": {"backend_roles": ["kibanauser"], "hosts": [],
                                              "users": [], "reserved": False}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_PUT(self) -> None:
        self._record(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        payload = b'{"status":"OK"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


def test_configure_security_signs_every_call_as_the_admin(handler_module: ModuleType) -> None:
    from botocore.credentials import Credentials

    _SecurityApi.calls = []
    server = HTTPServer(("127.0.0.1", 0), _SecurityApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        written = handler_module.configure_security(
            f"http://127.0.0.1:{server.server_address[1]}", "eu-west-1",
            Credentials("ASIAADMINFRAUDSTREAM", "secret", "token"),
            [{"Name": "indexer", "RoleArn": "arn:indexer", "IndexPatterns": ["p*"]}],
            "arn:import", wait_s=5)
    finally:
        server.shutdown()
        server.server_close()
    assert written[-1] == "/_plugins/_security/api/rolesmapping/kibana_user"
    assert [c[0] for c in _SecurityApi.calls] == ["GET", "PUT", "PUT", "PUT"]
    assert all("Credential=ASIAADMINFRAUDSTREAM/" in c[3] for c in _SecurityApi.calls)
    assert _SecurityApi.calls[-1][2]["backend_roles"] == ["kibanauser", "arn:import"]
