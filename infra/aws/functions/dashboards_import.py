"""Deploy-time import of the fraudstream Dashboards saved objects (a custom resource).

CloudFormation invokes :func:`handler` on create and update: it posts
``fraudstream.ndjson`` (bundled next to this file at synth time) to
``https://<domain>/_dashboards/api/saved_objects/_import?overwrite=true``, signed
with SigV4 (service ``es``) by the function's role, and reports to the
pre-signed response URL. Delete does nothing: the saved objects go with the
domain. ``aws lambda invoke --payload '{"Endpoint": "<domain endpoint>"}'``
(no ``RequestType``) imports once more outside a deployment.

Only the standard library and the botocore of the Lambda Python runtime.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

NDJSON = Path(__file__).resolve().with_name("fraudstream.ndjson")
IMPORT_PATH = "/_dashboards/api/saved_objects/_import?overwrite=true"
SERVICE = "es"
RETRYABLE = frozenset({429, 502, 503, 504})
FORBIDDEN = frozenset({401, 403})
WAIT_S = 240.0
"""Retry budget for a domain that is still starting (the function times out at 300 s)."""

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
        return {"Result": f"imported {import_saved_objects(event['Endpoint'], region)} objects"}
    properties = event.get("ResourceProperties", {})
    try:
        endpoint = properties.get("Endpoint", "")
        status, message = outcome(event["RequestType"],
                                  lambda: import_saved_objects(endpoint, region))
    except Exception as exc:  # CloudFormation must hear back, or it waits an hour
        status, message = "FAILED", f"{type(exc).__name__}: {exc}"
    print(json.dumps({"event": "dashboards.import.done", "status": status,
                      "request": event["RequestType"], "message": message[:1000]}))
    respond(event, status, message)
    return {"Status": status, "Result": message}
