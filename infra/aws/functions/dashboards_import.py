"""Deploy-time OpenSearch set-up: fine-grained access control, then the Dashboards saved objects.

CloudFormation invokes :func:`handler` on create and update. First, acting as
the FGAC master (it assumes the domain's admin role for a few minutes), it
gives each writing service a role of its own — write access to its index
patterns, nothing else — mapped to the service's task role, and maps this
function's own role to ``kibana_user``; existing mappings are kept. Then it
posts ``fraudstream.ndjson`` (bundled next to this file at synth time) to
``https://<domain>/_dashboards/api/saved_objects/_import?overwrite=true``,
signed with SigV4 (service ``es``) by its own role, and reports to the
pre-signed response URL. Delete does nothing: everything goes with the domain.
``aws lambda invoke --payload '{"Endpoint": "<domain endpoint>"}'`` (no
``RequestType``) imports once more outside a deployment.

Only the standard library and the botocore of the Lambda Python runtime.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NDJSON = Path(__file__).resolve().with_name("fraudstream.ndjson")
IMPORT_PATH = "/_dashboards/api/saved_objects/_import?overwrite=true"
SERVICE = "es"
RETRYABLE = frozenset({429, 502, 503, 504})
FORBIDDEN = frozenset({401, 403})
WAIT_S = 240.0
"""Retry budget for a domain that is still starting (the function times out at 300 s)."""

SECURITY_API = "/_plugins/_security/api"
DASHBOARDS_ROLE = "kibana_user"
"""The built-in FGAC role that may write saved objects; this function's role is mapped to it."""
WRITER_CLUSTER_PERMISSIONS = [
    "cluster_monitor", "cluster_composite_ops",
    "indices:admin/template/get", "indices:admin/template/put",
    "indices:admin/index_template/get", "indices:admin/index_template/put",
]
"""A writing service checks the cluster, bulk-writes and keeps its index template."""
WRITER_INDEX_ACTIONS = ["crud", "create_index", "indices:admin/mapping/put", "indices_monitor"]
"""On its own index patterns only."""
MAPPING_FIELDS = ("backend_roles", "hosts", "users")
"""The writable fields of a role mapping (GET also returns read-only ones)."""

MAPPING_HELP = (
    "fine-grained access control does not map this function's role yet: as the "
    "OpenSearch admin role, add its ARN (stack output DashboardsImportRoleArn) to the "
    "backend roles of a role that may write saved objects (README, 'Dashboards')"
)


class DashboardsImportError(Exception):
    """The import did not happen; ``forbidden`` when the role is not mapped in FGAC."""

    def __init__(self, message: str, *, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden


def multipart_body(file_name: str, content: bytes, boundary: str) -> bytes:
    """A ``multipart/form-data`` body with one ``file`` part, as the import API expects."""
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()


def signed_import_request(endpoint: str, ndjson: bytes, credentials: Any,
                          region: str) -> urllib.request.Request:
    """The SigV4-signed ``POST …/_import?overwrite=true`` for ``ndjson`` on ``endpoint``."""
    boundary = f"fraudstream-{uuid.uuid4().hex}"
    body = multipart_body("fraudstream.ndjson", ndjson, boundary)
    url = f"https://{endpoint}{IMPORT_PATH}"
    # Dashboards refuses state-changing API calls without osd-xsrf; it is signed too.
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "osd-xsrf": "true"}
    aws_request = AWSRequest(method="POST", url=url, data=body, headers=headers)
    SigV4Auth(credentials, SERVICE, region).add_auth(aws_request)
    return urllib.request.Request(url, data=body, headers=dict(aws_request.headers.items()),
                                  method="POST")


def writer_role(index_patterns: list[str]) -> dict[str, Any]:
    """The FGAC role of a service that writes ``index_patterns`` (and nothing else)."""
    return {"cluster_permissions": WRITER_CLUSTER_PERMISSIONS,
            "index_permissions": [{"index_patterns": index_patterns,
                                   "allowed_actions": WRITER_INDEX_ACTIONS}]}


def merged_mapping(current: dict[str, Any] | None, backend_role: str) -> dict[str, Any]:
    """``current`` role mapping (GET's body for one role) plus ``backend_role``; nothing lost."""
    mapping = {field: list((current or {}).get(field, [])) for field in MAPPING_FIELDS}
    if backend_role not in mapping["backend_roles"]:
        mapping["backend_roles"].append(backend_role)
    return mapping


def security_plan(writers: list[dict[str, Any]], import_role_arn: str,
                  dashboards_mapping: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
    """The ``(method, path, body)`` calls that set up fine-grained access control.

    ``writers`` are ``{"Name", "RoleArn", "IndexPatterns"}`` items: each gets a
    role ``fraudstream_<name>_writer`` mapped to its task role alone (a PUT of
    our own roles, so a re-run converges). The Dashboards role's mapping is
    merged with what is there (``dashboards_mapping``, None when absent).
    """
    calls: list[tuple[str, str, Any]] = []
    for writer in writers:
        role = f"fraudstream_{writer['Name']}_writer"
        calls.append(("PUT", f"{SECURITY_API}/roles/{role}",
                      writer_role(list(writer["IndexPatterns"]))))
        calls.append(("PUT", f"{SECURITY_API}/rolesmapping/{role}",
                      {"backend_roles": [writer["RoleArn"]]}))
    calls.append(("PUT", f"{SECURITY_API}/rolesmapping/{DASHBOARDS_ROLE}",
                  merged_mapping(dashboards_mapping, import_role_arn)))
    return calls


def signed_json_request(method: str, url: str, body: Any, credentials: Any,
                        region: str) -> urllib.request.Request:
    """A SigV4-signed (service ``es``) JSON request; ``body`` None sends none."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if data is not None else {}
    aws_request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(credentials, SERVICE, region).add_auth(aws_request)
    return urllib.request.Request(url, data=data, headers=dict(aws_request.headers.items()),
                                  method=method)


def call_json(method: str, url: str, body: Any, credentials: Any, region: str, *,
              deadline: float) -> Any:
    """Send one signed JSON call, retrying 5xx and connection errors until ``deadline``.

    Returns the parsed body, or None for a 404 (an absent role mapping).
    """
    delay = 2.0
    while True:
        request = signed_json_request(method, url, body, credentials, region)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:1500]
            if exc.code == 404 and method == "GET":
                return None
            if exc.code not in RETRYABLE or time.monotonic() >= deadline:
                raise DashboardsImportError(
                    f"{method} {urllib.parse.urlsplit(url).path}: HTTP {exc.code}: {detail}",
                    forbidden=exc.code in FORBIDDEN) from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise DashboardsImportError(f"{url} unreachable: {exc}") from exc
        time.sleep(delay)
        delay = min(delay * 2, 20.0)


def assume_admin(role_arn: str, region: str, sts: Any | None = None) -> Credentials:
    """Short-lived credentials of the domain's admin role (the FGAC master)."""
    # The regional endpoint: the VPC reaches STS through its interface endpoint.
    sts = sts or botocore.session.Session().create_client(
        "sts", region_name=region, endpoint_url=f"https://sts.{region}.amazonaws.com")
    granted = sts.assume_role(RoleArn=role_arn, RoleSessionName="fraudstream-deploy",
                              DurationSeconds=900)["Credentials"]
    return Credentials(granted["AccessKeyId"], granted["SecretAccessKey"],
                       granted["SessionToken"])


def configure_security(base_url: str, region: str, admin: Credentials,
                       writers: list[dict[str, Any]], import_role_arn: str, *,
                       wait_s: float = WAIT_S) -> list[str]:
    """Apply :func:`security_plan` as the admin; the paths written, in order."""
    deadline = time.monotonic() + wait_s
    current = call_json("GET", f"{base_url}{SECURITY_API}/rolesmapping/{DASHBOARDS_ROLE}",
                        None, admin, region, deadline=deadline)
    existing = (current or {}).get(DASHBOARDS_ROLE)
    written = []
    for method, path, body in security_plan(writers, import_role_arn, existing):
        call_json(method, f"{base_url}{path}", body, admin, region, deadline=deadline)
        written.append(path)
    return written


def import_saved_objects(endpoint: str, region: str, *, wait_s: float = WAIT_S) -> int:
    """Import the bundled ndjson; the number of objects imported.

    A domain that is still starting answers 5xx or not at all: that is retried
    until ``wait_s``. A refusal (4xx, or objects with errors) is not.
    """
    ndjson = NDJSON.read_bytes()
    credentials = botocore.session.Session().get_credentials()
    deadline = time.monotonic() + wait_s
    delay = 2.0
    while True:
        # Signed afresh each attempt: a signature is valid for five minutes only.
        request = signed_import_request(endpoint, ndjson, credentials.get_frozen_credentials(),
                                        region)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = json.loads(response.read())
            if not body.get("success", False):
                errors = json.dumps(body.get("errors", body))[:1500]
                raise DashboardsImportError(f"import refused: {errors}")
            return int(body.get("successCount", 0))
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")[:1500]
            if exc.code in FORBIDDEN:
                raise DashboardsImportError(f"HTTP {exc.code}: {MAPPING_HELP}; {detail}",
                                   forbidden=True) from exc
            if exc.code not in RETRYABLE or time.monotonic() >= deadline:
                raise DashboardsImportError(f"HTTP {exc.code}: {detail}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            if time.monotonic() >= deadline:
                raise DashboardsImportError(f"{endpoint} unreachable: {exc}") from exc
        time.sleep(delay)
        delay = min(delay * 2, 20.0)


def outcome(request_type: str, run_import: Callable[[], int]) -> tuple[str, str]:
    """``(status, message)`` for CloudFormation: what to report for this request.

    On create an unmapped role must not roll back the whole first deployment
    (the mapping can only be made once the domain exists), so it reports
    success with the reason; on update the mapping is due and it fails.
    """
    if request_type == "Delete":
        return "SUCCESS", "nothing to do: the saved objects live and die with the domain"
    try:
        count = run_import()
    except DashboardsImportError as exc:
        if exc.forbidden and request_type == "Create":
            return "SUCCESS", f"NOT imported: {exc}"[:3000]
        return "FAILED", str(exc)[:3000]
    return "SUCCESS", f"imported {count} saved objects"


def set_up_domain(properties: dict[str, Any], region: str) -> int:
    """Fine-grained access control (when the admin role is given), then the import."""
    endpoint = properties.get("Endpoint", "")
    if properties.get("AdminRoleArn"):
        admin = assume_admin(properties["AdminRoleArn"], region)
        written = configure_security(f"https://{endpoint}", region, admin,
                                     list(properties.get("Writers", [])),
                                     properties["ImportRoleArn"])
        print(json.dumps({"event": "dashboards.security.configured", "paths": written}))
    return import_saved_objects(endpoint, region)


def respond(event: dict[str, Any], status: str, message: str) -> None:
    """PUT the result to CloudFormation's pre-signed response URL."""
    body = json.dumps({
        "Status": status,
        "Reason": message[:3000],
        "PhysicalResourceId": event.get("PhysicalResourceId") or "fraudstream-dashboards-import",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Result": message[:1000]},
    }).encode()
    request = urllib.request.Request(event["ResponseURL"], data=body, method="PUT",
                                     headers={"Content-Type": "", "Content-Length": str(len(body))})
    with urllib.request.urlopen(request, timeout=30):
        pass


def handler(event: dict[str, Any], context: object) -> dict[str, str]:
    """Lambda entry point: a CloudFormation custom resource event, or a direct invocation."""
    region = os.environ["AWS_REGION"]
    if "RequestType" not in event:  # aws lambda invoke: import now, raise on failure
        return {"Result": f"imported {set_up_domain(event, region)} objects"}
    properties = event.get("ResourceProperties", {})
    try:
        status, message = outcome(event["RequestType"],
                                  lambda: set_up_domain(properties, region))
    except Exception as exc:  # CloudFormation must hear back, or it waits an hour
        status, message = "FAILED", f"{type(exc).__name__}: {exc}"
    print(json.dumps({"event": "dashboards.import.done", "status": status,
                      "request": event["RequestType"], "message": message[:1000]}))
    respond(event, status, message)
    return {"Status": status, "Result": message}
