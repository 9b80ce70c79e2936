"""`make run`: the whole pipeline on this machine, without Docker.

Starts the local Kafka and OpenSearch (if they are not running yet), a local
SMTP catcher whose mails you can read in a browser, and the four services as
separate processes. Prints where to look, then a one-line summary of the
pipeline every few seconds. Ctrl-C (or SIGTERM) stops the services gracefully,
then whatever this command started.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("FS_LOCAL_DIR", REPO / ".local"))
LOGS = LOCAL / "logs"
RECORD = LOCAL / "started-by-run"
STATUS_EVERY_S = float(os.environ.get("FS_STATUS_EVERY_S", "10"))
SMTP_PORT = int(os.environ.get("MAILCATCHER_SMTP_PORT", "1025"))
MAIL_UI_PORT = int(os.environ.get("MAILCATCHER_HTTP_PORT", "8025"))
OPENSEARCH_URL = f"http://127.0.0.1:{os.environ.get('OPENSEARCH_PORT', '9200')}"
KAFKA = f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"

SERVICES = {"producer": 8001, "scorer": 8002, "notifier": 8003, "indexer": 8004,
            "archiver": 8005, "compliance": 8006}


@dataclass
class Child:
    """A process started by this command, its output going to a log file."""

    name: str
    args: list[str]
    port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        log = (LOGS / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            self.args, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print(f"  {self.name} did not stop within {timeout:.0f}s; killing it")
            self.proc.kill()
            self.proc.wait()


def http_ok(url: str, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError):
        return False


def metric_sum(port: int, name: str, **labels: str) -> float:
    """Sum of a Prometheus counter's samples on a service, filtered by labels."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics/", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return float("nan")
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def opensearch_count(index: str = "processed_transactions") -> str:
    try:
        with urllib.request.urlopen(f"{OPENSEARCH_URL}/{index}/_count", timeout=2) as response:
            match = re.search(rb'"count":(\d+)', response.read())
            return match.group(1).decode() if match else "?"
    except (urllib.error.URLError, OSError):
        return "?"


def mail_count() -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{MAIL_UI_PORT}/api/messages",
                                    timeout=2) as response:
            return str(response.read().count(b'"subject"'))
    except (urllib.error.URLError, OSError):
        return "?"


def status_line() -> str:
    produced = metric_sum(SERVICES["producer"], "fraudstream_messages_produced_total",
                          topic="transactions")
    decided = metric_sum(SERVICES["scorer"], "fraudstream_messages_produced_total",
                         topic="processed_transactions")
    dead = sum(metric_sum(port, "fraudstream_messages_dead_lettered_total")
               for port in SERVICES.values())
    archived = metric_sum(SERVICES["archiver"], "fraudstream_archiver_rows_total",
                          table="decisions")
    return (f"[{time.strftime('%H:%M:%S')}] produced {produced:.0f} · decided {decided:.0f} · "
            f"dead-lettered {dead:.0f} · searchable {opensearch_count()} · "
            f"archived {archived:.0f} · alert emails {mail_count()}")


def main() -> int:
    stack = [sys.executable, str(REPO / "infra/local/stack.py")]
    LOCAL.mkdir(parents=True, exist_ok=True)
    if subprocess.call([*stack, "up", "--if-needed-record", str(RECORD)]) != 0:
        print("could not start the local Kafka/OpenSearch (see above)", file=sys.stderr)
        return 1
    # A livelier default than the original 35/min, so a newcomer sees alerts soon.
    rate = os.environ.get("PRODUCER_RATE_PER_S", "5")
    common = {"KAFKA_BOOTSTRAP_SERVERS": KAFKA, "OPENSEARCH_URL": OPENSEARCH_URL,
              "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(SMTP_PORT), "HTTP_HOST": "127.0.0.1",
              # The compliance service's pii/, clean/, rejected/ and redacted/ folders.
              "COMPLIANCE_LOCAL_ROOT": str(LOCAL / "compliance"),
              # The archiver's Parquet lake (`make report` reads it); files every 15 s
              # so that a short run already has something to report on.
              "ARCHIVER_LAKE_DIR": str(LOCAL / "lake"), "ARCHIVER_FLUSH_INTERVAL_S": "15"}
    children = [Child("mailcatcher", [sys.executable, "infra/local/mailcatcher.py",
                                      "--smtp-port", str(SMTP_PORT),
                                      "--http-port", str(MAIL_UI_PORT),
                                      "--dir", str(LOCAL / "mail")])]
    children += [Child(name, [sys.executable, "-m", name], port,
                       {**common, "HTTP_PORT": str(port), "PRODUCER_RATE_PER_S": rate})
                 for name, port in SERVICES.items()]
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        for child in children:
            child.start()
        deadline = time.monotonic() + 120
        for child in children:
            if child.port is None:
                continue
            while not stopping and not http_ok(f"http://127.0.0.1:{child.port}/readyz"):
                if not child.alive() or time.monotonic() > deadline:
                    print(f"{child.name} did not become ready; see {LOGS / child.name}.log",
                          file=sys.stderr)
                    return 1
                time.sleep(0.5)
        print_banner()
        while not stopping:
            for child in children:
                if not child.alive():
                    print(f"{child.name} exited unexpectedly; see {LOGS / child.name}.log",
                          file=sys.stderr)
                    return 1
            print(status_line(), flush=True)
            end = time.monotonic() + STATUS_EVERY_S
            while not stopping and time.monotonic() < end:
                time.sleep(0.2)
        return 0
    finally:
        print("\nstopping services…", flush=True)
        for child in reversed(children):
            child.stop()
        subprocess.call([*stack, "down", "--recorded", str(RECORD)])
        print("stopped.")


def print_banner() -> None:
    lines = [
        "",
        "fraudstream is running. Where to look:",
        *(f"  {name:<9} http://127.0.0.1:{port}/readyz  ·  /metrics"
          for name, port in SERVICES.items()),
        f"  producer control: curl -X PUT -H 'content-type: application/json' "
        f"-d '{{\"rate_per_s\": 20}}' http://127.0.0.1:{SERVICES['producer']}/rate",
        f"  alert emails    : http://127.0.0.1:{MAIL_UI_PORT}/",
        f"  check a PDF     : curl -F file=@doc.pdf 'http://127.0.0.1:"
        f"{SERVICES['compliance']}/documents?redact=true'   (folders: {LOCAL / 'compliance'}/)",
        f"  decisions       : curl '{OPENSEARCH_URL}/processed_transactions/_search?"
        "q=fd.outcome:block&pretty'",
        f"  report          : make report   (SQL over the Parquet lake in {LOCAL / 'lake'}/)",
        f"  Kafka           : {KAFKA}   logs: {LOGS}/",
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
