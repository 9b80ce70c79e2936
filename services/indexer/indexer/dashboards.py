"""Import the fraudstream saved objects into OpenSearch Dashboards.

``python -m indexer.dashboards import --url http://localhost:5601`` posts
``saved_objects/fraudstream.ndjson`` (index pattern, visualisations, dashboard) to
``/api/saved_objects/_import?overwrite=true``, waiting for Dashboards while it
boots. ``--auth`` works like the indexer's ``OPENSEARCH_AUTH``:

- ``none``: no credentials (local OpenSearch without security);
- ``basic``: from ``OPENSEARCH_DASHBOARDS_USERNAME`` and
  ``OPENSEARCH_DASHBOARDS_PASSWORD`` (never from the command line, where it
  would show in the process list);
- ``sigv4``: Amazon OpenSearch Service, each request signed (service ``es``) for
  ``--region`` with botocore's default credentials (the task role on ECS), e.g.
  ``--auth sigv4 --region eu-west-1 --url https://<domain endpoint>/_dashboards``.

The default is ``OPENSEARCH_AUTH`` if set, else ``basic`` when the username is
set, else ``none``; ``--region`` defaults to ``AWS_REGION``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Literal, get_args

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from fraudstream_shared.aws import load_credentials
from fraudstream_shared.exceptions import ConfigError

SAVED_OBJECTS = Path(__file__).resolve().parent / "saved_objects" / "fraudstream.ndjson"
"""The checked-in saved objects, shipped inside the package (so inside the image)."""

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
SIGV4_SERVICE = "es"
"""Amazon OpenSearch Service's signing name (Dashboards included)."""

Auth = Literal["none", "basic", "sigv4"]


class ImportFailedError(Exception):
    """Dashboards answered, but refused the import (or some of its objects)."""


def multipart_body(file_name: str, content: bytes, boundary: str) -> bytes:
    """A ``multipart/form-data`` body with one ``file`` part, as the import API expects."""
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{file_name}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()


def import_request(
    url: str, ndjson: bytes, *, file_name: str = "fraudstream.ndjson",
    username: str | None = None, password: str | None = None,
) -> urllib.request.Request:
    """The ``POST …/api/saved_objects/_import?overwrite=true`` request for ``ndjson``."""
    boundary = f"fraudstream-{uuid.uuid4().hex}"
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        # Dashboards refuses state-changing API calls without this header.
        "osd-xsrf": "true",
    }
    if username is not None and password is not None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    return urllib.request.Request(
        url.rstrip("/") + "/api/saved_objects/_import?overwrite=true",
        data=multipart_body(file_name, ndjson, boundary),
        headers=headers,
        method="POST",
    )


def sigv4_signed(request: urllib.request.Request, credentials: Any,
                 region: str) -> urllib.request.Request:
    """A copy of ``request`` with SigV4 headers for ``es`` in ``region`` (``X-Amz-Date``,
    ``X-Amz-Security-Token`` for temporary credentials, ``Authorization``).

    The signature covers the method, URL, body and every header, ``osd-xsrf``
    included, and is valid for five minutes: sign each attempt afresh.
    """
    body = request.data if isinstance(request.data, bytes) else b""
    headers = {name.lower(): value for name, value in request.header_items()}
    aws_request = AWSRequest(method=request.get_method(), url=request.full_url, data=body,
                             headers=headers)
    SigV4Auth(credentials, SIGV4_SERVICE, region).add_auth(aws_request)
    return urllib.request.Request(request.full_url, data=request.data,
                                  headers=dict(aws_request.headers.items()),
                                  method=request.get_method())


def check_import_response(body: dict[str, Any]) -> int:
    """The number of imported objects; raises :class:`ImportFailedError` if any failed."""
    if not body.get("success", False):
        errors = body.get("errors") or body
        raise ImportFailedError(f"import failed: {json.dumps(errors)[:2000]}")
    return int(body.get("successCount", 0))


def import_saved_objects(
    url: str, path: Path = SAVED_OBJECTS, *, username: str | None = None,
    password: str | None = None, auth: Auth | None = None, region: str | None = None,
    wait_s: float = 120.0, timeout_s: float = 30.0,
) -> int:
    """Import ``path`` into the Dashboards at ``url``; return the number of objects imported.

    ``auth`` defaults to ``basic`` when ``username`` and ``password`` are given,
    else ``none``; ``sigv4`` needs ``region`` and signs with botocore's default
    credentials. Connection errors and 429/5xx answers are retried until
    ``wait_s`` has passed (Dashboards takes a while to start); other failures raise.
    """
    if auth is None:
        auth = "basic" if username is not None and password is not None else "none"
    if auth == "basic" and (username is None or password is None):
        raise ValueError("auth=basic needs a username and a password")
    if auth == "sigv4" and not region:
        raise ValueError("auth=sigv4 needs a region (--region or AWS_REGION)")
    # Resolved once: task-role credentials refresh themselves inside this object.
    credentials = load_credentials() if auth == "sigv4" else None
    ndjson = path.read_bytes()
    deadline = time.monotonic() + wait_s
    delay = 1.0
    while True:
        request = import_request(url, ndjson, file_name=path.name,
                                 username=username if auth == "basic" else None,
                                 password=password if auth == "basic" else None)
        if credentials is not None and region:
            request = sigv4_signed(request, credentials.get_frozen_credentials(), region)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return check_import_response(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRYABLE_STATUSES or time.monotonic() >= deadline:
                detail = exc.read().decode("utf-8", "replace")[:2000]
                raise ImportFailedError(f"HTTP {exc.code} from {url}: {detail}") from exc
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 10.0)


def default_auth() -> Auth:
    """``OPENSEARCH_AUTH`` when set, else ``basic`` if a username is configured, else ``none``."""
    configured = os.environ.get("OPENSEARCH_AUTH", "").lower()
    if configured in get_args(Auth):
        return configured  # type: ignore[return-value]  # checked against the Literal
    return "basic" if os.environ.get("OPENSEARCH_DASHBOARDS_USERNAME") else "none"


def main(argv: list[str] | None = None) -> int:
    """CLI: ``import --url URL [--file PATH] [--wait-s S] [--auth A] [--region R]``."""
    parser = argparse.ArgumentParser(prog="python -m indexer.dashboards", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    importer = commands.add_parser("import", help="import the saved objects (overwrite)")
    importer.add_argument("--url", default=os.environ.get("OPENSEARCH_DASHBOARDS_URL",
                                                          "http://localhost:5601"))
    importer.add_argument("--file", type=Path, default=SAVED_OBJECTS)
    importer.add_argument("--wait-s", type=float, default=120.0,
                          help="how long to wait for Dashboards to come up")
    importer.add_argument("--auth", choices=get_args(Auth), default=default_auth(),
                          help="none | basic (OPENSEARCH_DASHBOARDS_USERNAME/PASSWORD) | "
                          "sigv4 (Amazon OpenSearch Service)")
    importer.add_argument("--region", default=os.environ.get("AWS_REGION"),
                          help="AWS region of the domain, for --auth sigv4")
    args = parser.parse_args(argv)
    try:
        count = import_saved_objects(
            args.url, args.file, wait_s=args.wait_s, auth=args.auth, region=args.region,
            username=os.environ.get("OPENSEARCH_DASHBOARDS_USERNAME"),
            password=os.environ.get("OPENSEARCH_DASHBOARDS_PASSWORD"),
        )
    except (ImportFailedError, OSError, ValueError, ConfigError) as exc:
        print(f"dashboards import failed: {exc}", file=sys.stderr)
        return 1
    print(f"imported {count} saved objects into {args.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
