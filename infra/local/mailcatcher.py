#!/usr/bin/env python3
"""A local SMTP catcher a person can read: every message is kept, none is delivered.

An aiosmtpd SMTP server stores each message it receives as ``.eml`` under
``--dir`` and in memory; a small HTTP server shows them:

- ``GET /`` — an HTML list (subject, to, time, body preview);
- ``GET /api/messages`` — JSON list of ``{id, from, to, subject, body, received_at}``;
- ``DELETE /api/messages`` — forget every message (and delete its ``.eml``).

Usage (under the project venv, which has aiosmtpd)::

    uv run python infra/local/mailcatcher.py --smtp-port 1025 --http-port 8025 --dir .local/mail

SIGTERM or SIGINT stops both servers cleanly (exit status 0).
"""

from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import logging
import signal
import sys
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("mailcatcher")

PREVIEW_CHARS = 160


@dataclass(frozen=True)
class CaughtMessage:
    """One received message, as the API returns it."""

    id: str
    sender: str
    to: list[str]
    subject: str
    body: str
    received_at: str

    def as_json(self) -> dict[str, Any]:
        """The API shape (``from`` is a keyword in Python, hence the rename)."""
        data = asdict(self)
        data["from"] = data.pop("sender")
        return data


def text_body(raw: bytes) -> tuple[str, str]:
    """The subject and the plain-text body of a raw RFC 5322 message."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message.get("Subject", ""))
    part = message.get_body(preferencelist=("plain", "html"))
    body = part.get_content() if part is not None else ""
    return subject, str(body).replace("\r\n", "\n")


class MailStore:
    """Thread-safe list of caught messages, mirrored as ``.eml`` files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._messages: list[CaughtMessage] = []
        self._files: dict[str, Path] = {}
        self._counter = 0

    def add(self, sender: str, recipients: list[str], raw: bytes) -> CaughtMessage:
        """Store one message; returns what was stored."""
        subject, body = text_body(raw)
        now = datetime.now(UTC)
        with self._lock:
            self._counter += 1
            message_id = f"{now:%Y%m%dT%H%M%S}-{self._counter:06d}"
            path = self.directory / f"{message_id}.eml"
            path.write_bytes(raw)
            caught = CaughtMessage(
                id=message_id, sender=sender, to=list(recipients), subject=subject,
                body=body, received_at=now.isoformat(timespec="milliseconds"),
            )
            self._messages.append(caught)
            self._files[message_id] = path
        return caught

    def all(self) -> list[CaughtMessage]:
        """Every message, oldest first."""
        with self._lock:
            return list(self._messages)

    def clear(self) -> int:
        """Forget every message and delete its file; returns how many."""
        with self._lock:
            count = len(self._messages)
            for path in self._files.values():
                path.unlink(missing_ok=True)
            self._messages.clear()
            self._files.clear()
            return count


class CatchingHandler:
    """aiosmtpd handler: accept every message and store it."""

    def __init__(self, store: MailStore) -> None:
        self._store = store

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Called by aiosmtpd for each message."""
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode("utf-8")
        caught = self._store.add(envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        log.info("caught %s to=%s", caught.id, ",".join(caught.to))
        return "250 Message accepted for delivery"


def render_html(messages: list[CaughtMessage]) -> str:
    """The human page: newest first."""
    rows = []
    for m in reversed(messages):
        preview = m.body[:PREVIEW_CHARS] + ("…" if len(m.body) > PREVIEW_CHARS else "")
        rows.append(
            "<tr>"
            f"<td>{html.escape(m.received_at)}</td>"
            f"<td>{html.escape(', '.join(m.to))}</td>"
            f"<td><details><summary>{html.escape(m.subject)}</summary>"
            f"<pre>{html.escape(m.body)}</pre></details>"
            f"<small>{html.escape(preview)}</small></td>"
            "</tr>"
        )
    table = "".join(rows) or '<tr><td colspan="3">No messages yet.</td></tr>'
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>mailcatcher</title>"
        "<meta http-equiv='refresh' content='5'>"
        "<style>body{font-family:sans-serif;margin:2em}td{vertical-align:top;padding:.4em;"
        "border-bottom:1px solid #ddd}pre{white-space:pre-wrap}</style></head><body>"
        f"<h1>mailcatcher — {len(messages)} message(s)</h1>"
        "<table><tr><th>received</th><th>to</th><th>subject / body</th></tr>"
        f"{table}</table></body></html>"
    )


def make_http_handler(store: MailStore) -> type[BaseHTTPRequestHandler]:
    """The HTTP request handler class bound to ``store``."""

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._send(status, json.dumps(data).encode("utf-8"), "application/json")

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0].rstrip("/") or "/"
            if path == "/":
                page = render_html(store.all()).encode("utf-8")
                self._send(200, page, "text/html; charset=utf-8")
            elif path == "/api/messages":
                self._json(200, [m.as_json() for m in store.all()])
            else:
                self._json(404, {"error": "not found"})

        def do_DELETE(self) -> None:
            if self.path.split("?", 1)[0].rstrip("/") == "/api/messages":
                self._json(200, {"deleted": store.clear()})
            else:
                self._json(404, {"error": "not found"})

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http " + format, *args)

    return Handler


class MailCatcher:
    """The SMTP server and the HTTP viewer, started and stopped together."""

    def __init__(self, host: str, smtp_port: int, http_port: int, directory: Path) -> None:
        self.store = MailStore(directory)
        self._smtp = Controller(CatchingHandler(self.store), hostname=host, port=smtp_port)
        self._http = ThreadingHTTPServer((host, http_port), make_http_handler(self.store))
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, name="mailcatcher-http", daemon=True
        )

    def start(self) -> None:
        """Start both servers (each in its own thread)."""
        self._smtp.start()
        self._http_thread.start()

    def stop(self) -> None:
        """Stop both servers and wait for their threads."""
        self._http.shutdown()
        self._http.server_close()
        self._http_thread.join(timeout=5)
        self._smtp.stop()


def main(argv: list[str] | None = None) -> int:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=1025)
    parser.add_argument("--http-port", type=int, default=8025)
    parser.add_argument("--dir", type=Path, default=Path(".local/mail"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s mailcatcher %(message)s")
    # aiosmtpd logs every SMTP command at INFO; one line per caught message is enough.
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        catcher = MailCatcher(args.host, args.smtp_port, args.http_port, args.dir)
        catcher.start()
    except (OSError, RuntimeError) as exc:
        print(f"mailcatcher: cannot listen: {exc}", file=sys.stderr)
        return 1
    log.info("SMTP on %s:%d, web on http://%s:%d/, files in %s",
             args.host, args.smtp_port, args.host, args.http_port, args.dir)
    try:
        while not stopping.wait(timeout=1.0):
            pass
    finally:
        catcher.stop()
    log.info("stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
