#!/usr/bin/env python3
"""Run a real local Kafka (KRaft) broker and OpenSearch node without Docker.

Both servers are plain JVM processes whose jars come from Maven Central (see
``kafka/pom.xml`` and ``opensearch/pom.xml`` next to this file). Stdlib only.

Usage::

    python3 infra/local/stack.py up     [kafka|opensearch|all] [--if-needed-record FILE]
    python3 infra/local/stack.py down   [kafka|opensearch|all] [--recorded FILE]
    python3 infra/local/stack.py status
    python3 infra/local/stack.py logs   [kafka|opensearch|all] [-n LINES]
    python3 infra/local/stack.py wipe   [kafka|opensearch|all]

See ``infra/local/README.md`` for settings, layout and troubleshooting.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
COMPONENTS: tuple[str, ...] = ("kafka", "opensearch")
LOG_TAIL_LINES = 40
STOP_GRACE_SECONDS = 30.0
INSTALL_HINT = (
    "JDK 17+ and Maven are required: apt-get install openjdk-17-jdk-headless maven "
    "(macOS: brew install openjdk@17 maven)"
)

KAFKA_MAIN = "kafka.Kafka"
OPENSEARCH_MAIN = "dev.fraudstream.LocalOpenSearch"


class StackError(Exception):
    """A user-facing failure: printed without a traceback, exit status 1."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Settings:
    """Everything configurable, read once from the environment."""

    local_dir: Path
    kafka_port: int
    kafka_controller_port: int
    opensearch_port: int
    opensearch_transport_port: int
    start_timeout: float
    fresh: bool

    @classmethod
    def from_env(cls) -> Settings:
        """Read settings from env vars, falling back to the documented defaults."""
        return cls(
            local_dir=Path(os.environ.get("FS_LOCAL_DIR") or REPO / ".local").resolve(),
            kafka_port=_env_int("KAFKA_PORT", 9092),
            kafka_controller_port=_env_int("KAFKA_CONTROLLER_PORT", 9093),
            opensearch_port=_env_int("OPENSEARCH_PORT", 9200),
            opensearch_transport_port=_env_int("OPENSEARCH_TRANSPORT_PORT", 9300),
            start_timeout=float(_env_int("FS_START_TIMEOUT", 180)),
            fresh=os.environ.get("FS_FRESH", "") not in ("", "0", "false", "no"),
        )

    @property
    def run_dir(self) -> Path:
        return self.local_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.local_dir / "logs"

    @property
    def build_dir(self) -> Path:
        return self.local_dir / "build"


def _env_int(name: str, default: int) -> int:
    """Parse an integer env var, with an error that names the variable."""
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name}={raw!r} is not an integer") from None


# --------------------------------------------------------------------------- components


@dataclass(frozen=True)
class Component:
    """One managed server: how to prepare, launch and probe it."""

    name: str
    main_class: str  # used to recognise our process in /proc (guards against pid reuse)
    ports: tuple[tuple[int, str], ...]  # (port, env var that overrides it)
    url: str
    prepare: Callable[[Settings], list[str]]  # builds/configures, returns the argv
    is_ready: Callable[[Settings], bool]
    data_dir: Path

    def pid_file(self, s: Settings) -> Path:
        return s.run_dir / f"{self.name}.pid"

    def log_file(self, s: Settings) -> Path:
        return s.log_dir / f"{self.name}.log"


def components(s: Settings) -> dict[str, Component]:
    """The components, keyed by name, configured from the settings."""
    return {
        "kafka": Component(
            name="kafka",
            main_class=KAFKA_MAIN,
            ports=(
                (s.kafka_port, "KAFKA_PORT"),
                (s.kafka_controller_port, "KAFKA_CONTROLLER_PORT"),
            ),
            url=f"127.0.0.1:{s.kafka_port}",
            prepare=prepare_kafka,
            is_ready=kafka_ready,
            data_dir=s.local_dir / "kafka",
        ),
        "opensearch": Component(
            name="opensearch",
            main_class=OPENSEARCH_MAIN,
            ports=(
                (s.opensearch_port, "OPENSEARCH_PORT"),
                (s.opensearch_transport_port, "OPENSEARCH_TRANSPORT_PORT"),
            ),
            url=f"http://127.0.0.1:{s.opensearch_port}",
            prepare=prepare_opensearch,
            is_ready=opensearch_ready,
            data_dir=s.local_dir / "opensearch",
        ),
    }


def select(s: Settings, which: Sequence[str]) -> list[Component]:
    """Resolve CLI component names ('all' or empty means every component)."""
    comps = components(s)
    unknown = sorted(set(which) - {*COMPONENTS, "all"})
    if unknown:
        raise StackError(
            f"unknown component(s) {', '.join(unknown)}; choose from {', '.join(COMPONENTS)}, all"
        )
    names = list(COMPONENTS) if not which or "all" in which else list(dict.fromkeys(which))
    return [comps[n] for n in names]


# --------------------------------------------------------------------------- maven / java


def require_tools() -> None:
    """Fail early, with install instructions, if java or mvn is missing."""
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise StackError(f"{' and '.join(missing)} not found on PATH. {INSTALL_HINT}")
    # `java -version` prints e.g. 'openjdk version "17.0.15"' (or "1.8.0_392") on stderr.
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = 0
    if match:  # Java 8 and older report "1.<major>"
        major = int(match.group(2) if match.group(1) == "1" and match.group(2) else match.group(1))
    if major < 17:
        raise StackError(f"java on PATH is version {major or 'unknown'}. {INSTALL_HINT}")


def _is_fresh(output: Path, inputs: Iterable[Path]) -> bool:
    """True if output exists and is newer than every input (a make-style cache)."""
    if not output.exists():
        return False
    mtime = output.stat().st_mtime
    return all(p.stat().st_mtime < mtime for p in inputs)


def _mvn(pom: Path, *goals: str) -> None:
    """Run Maven quietly in batch mode; raise with its output on failure."""
    cmd = ["mvn", "-q", "-B", "-f", str(pom), *goals]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
        raise StackError(f"{' '.join(cmd)} failed:\n" + "\n".join(output))


def _classpath(pom: Path, out: Path, extra_inputs: Sequence[Path] = (), *extra_args: str) -> str:
    """Resolve (cached) the runtime classpath of a pom into ``out`` and return it."""
    if not _is_fresh(out, [pom, *extra_inputs]):
        out.parent.mkdir(parents=True, exist_ok=True)
        _mvn(
            pom,
            *extra_args,
            "dependency:build-classpath",
            "-Dmdep.includeScope=runtime",
            f"-Dmdep.outputFile={out}",
        )
        out.touch()  # the plugin keeps the old mtime when the content is unchanged
    return out.read_text().strip()


def _java(heap_min: str, heap_max: str, *args: str) -> list[str]:
    """A java argv with the flags both servers share."""
    return [
        "java",
        f"-Xms{heap_min}",
        f"-Xmx{heap_max}",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        "-Dfile.encoding=UTF-8",
        *args,
    ]


# --------------------------------------------------------------------------- kafka


def _kafka_paths(s: Settings) -> tuple[Path, Path, Path]:
    """(config dir, data dir, cluster id file) of the local broker."""
    base = s.local_dir / "kafka"
    return base / "config", base / "data", base / "cluster.id"


def _kafka_cluster_id(path: Path) -> str:
    """Load or create the persistent cluster id (Kafka's base64url 16-byte Uuid)."""
    if path.exists():
        return path.read_text().strip()
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):  # Kafka rejects ids that look like CLI flags
            break
    path.write_text(cid + "\n")
    return cid


def _kafka_server_properties(s: Settings, data_dir: Path) -> str:
    """Broker+controller config; rewritten on every start so port changes apply."""
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        # Static voters (not a dynamic quorum) so the controller port can be
        # changed between restarts without touching the formatted storage.
        "controller.quorum.voters": f"1@127.0.0.1:{s.kafka_controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port},"
        f"CONTROLLER://127.0.0.1:{s.kafka_controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{s.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # Topics are created explicitly by the application, never by accident.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        "default.replication.factor": "1",
        # Single node: internal topics must not ask for 3 replicas. One partition
        # each keeps the first transactional/consumer-group call fast.
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "1",
        "transaction.max.timeout.ms": "900000",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # Tests create and join groups constantly; don't wait 3 s per rebalance.
        "group.initial.rebalance.delay.ms": "0",
    }
    header = "# Generated by infra/local/stack.py on every start; edit the script, not this file.\n"
    return header + "".join(f"{k}={v}\n" for k, v in props.items())


# Console-only: stack.py redirects stdout to $FS_LOCAL_DIR/logs/kafka.log.
_KAFKA_LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
"""


def prepare_kafka(s: Settings) -> list[str]:
    """Resolve jars, write config, format storage on first start; return argv."""
    cp = _classpath(HERE / "kafka" / "pom.xml", s.build_dir / "kafka.classpath")
    config_dir, data_dir, cid_file = _kafka_paths(s)
    config_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    server_props = config_dir / "server.properties"
    server_props.write_text(_kafka_server_properties(s, data_dir))
    log4j = config_dir / "log4j2.properties"
    log4j.write_text(_KAFKA_LOG4J2)
    jvm = _java("512m", "1g", f"-Dlog4j2.configurationFile={log4j}", "-cp", cp)

    if not (data_dir / "meta.properties").exists():
        cluster_id = _kafka_cluster_id(cid_file)
        fmt = subprocess.run(
            [
                *jvm,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(server_props),
                "--ignore-formatted",
            ],
            capture_output=True,
            text=True,
        )
        if fmt.returncode != 0:
            raise StackError(f"kafka storage format failed:\n{fmt.stdout}{fmt.stderr}")
    return [*jvm, KAFKA_MAIN, str(server_props)]


def _kafka_request(port: int, api_key: int, api_version: int, body: bytes) -> bytes:
    """Send one request (classic header v1) and return the response after its header."""
    correlation_id = 0x5EED
    client_id = b"fraudstream-stack"
    header = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id))
    payload = header + client_id + body
    with socket.create_connection(("127.0.0.1", port), timeout=2.0) as sock:
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        response = _recv_exact(sock, size)
    (got_id,) = struct.unpack(">i", response[:4])
    if got_id != correlation_id:
        raise ConnectionError("kafka: correlation id mismatch")
    return response[4:]


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly n bytes or raise if the peer closes first."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("kafka closed the connection")
        buf += chunk
    return bytes(buf)


def kafka_ready(s: Settings) -> bool:
    """Ready when ApiVersions succeeds and Metadata lists at least one live broker."""
    try:
        # ApiVersions v0 is supported by every broker version: int16 error_code first.
        (error_code,) = struct.unpack(">h", _kafka_request(s.kafka_port, 18, 0, b"")[:2])
        if error_code != 0:
            return False
        # Metadata v4 (the oldest Kafka 4.x accepts): null topics = all, no auto-create.
        # Response: int32 throttle_time_ms, then int32 broker count.
        resp = _kafka_request(s.kafka_port, 3, 4, struct.pack(">ib", -1, 0))
        brokers: int = struct.unpack(">ii", resp[:8])[1]
        return brokers >= 1
    except (OSError, struct.error):
        return False


# --------------------------------------------------------------------------- opensearch


def prepare_opensearch(s: Settings) -> list[str]:
    """Build our launcher jar and resolve the classpath (both cached); return argv."""
    project = HERE / "opensearch"
    pom = project / "pom.xml"
    sources = [*sorted((project / "src").rglob("*.java")), pom]
    target = s.build_dir / "opensearch-target"
    jar = target / "local-opensearch-0.0.0.jar"
    build_dir_arg = f"-Dfs.build.directory={target}"
    if not _is_fresh(jar, sources):
        _mvn(pom, build_dir_arg, "package")
        jar.touch()
    cp = _classpath(pom, s.build_dir / "opensearch.classpath", sources, build_dir_arg)
    data = s.local_dir / "opensearch" / "data"
    data.mkdir(parents=True, exist_ok=True)
    return _java(
        "1g",
        "1g",
        # Flags from OpenSearch's own config/jvm.options: no Netty direct arenas
        # sized for a big server, and let the node (not log4j's hook) shut
        # logging down so the close sequence is still logged.
        "-Dio.netty.allocator.numDirectArenas=0",
        "-Dio.netty.noUnsafe=true",
        "-Dio.netty.noKeySetOptimization=true",
        "-Dio.netty.recycler.maxCapacityPerThread=0",
        "-Dlog4j.shutdownHookEnabled=false",
        "-Dlog4j2.disable.jmx=true",
        "-cp",
        f"{jar}{os.pathsep}{cp}",
        OPENSEARCH_MAIN,
        str(data),
        str(s.opensearch_port),
        str(s.opensearch_transport_port),
    )


def opensearch_ready(s: Settings) -> bool:
    """Ready when health is yellow/green and our launcher has applied its settings.

    LocalOpenSearch sets ``cluster.default_number_of_replicas=0`` just after
    the node starts; waiting for it means no index is created with a replica.
    """
    base = f"http://127.0.0.1:{s.opensearch_port}"
    try:
        health = _get_json(f"{base}/_cluster/health")
        applied = _get_json(f"{base}/_cluster/settings?flat_settings=true")
    except (OSError, ValueError, urllib.error.URLError):
        return False
    return health.get("status") in (
        "yellow",
        "green",
    ) and "cluster.default_number_of_replicas" in applied.get("persistent", {})


def _get_json(url: str) -> dict[str, Any]:
    """GET a URL and decode its JSON object body (short timeout: this is a probe)."""
    with urllib.request.urlopen(url, timeout=2.0) as resp:
        body = json.load(resp)
    return body if isinstance(body, dict) else {}


# --------------------------------------------------------------------------- processes


def read_pid(c: Component, s: Settings) -> int | None:
    """The pid of our live server process, or None (stale pid files are removed)."""
    path = c.pid_file(s)
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    if _is_our_process(pid, c.main_class):
        return pid
    path.unlink(missing_ok=True)
    return None


def _is_our_process(pid: int, main_class: str) -> bool:
    """Alive and running our main class: protects against recycled pids."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False  # someone else's process: certainly not ours
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():  # no procfs (macOS): trust the pid file
        return True
    try:
        return main_class.encode() in cmdline.read_bytes().split(b"\0")
    except OSError:
        return False


def port_free(port: int) -> bool:
    """True if we could listen on 127.0.0.1:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the JVM servers use, so TIME_WAIT leftovers don't count as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
        except OSError:
            return False
    return True


def check_ports(comps: Iterable[Component]) -> None:
    """Raise a clear error for the first busy port of a component we must start."""
    seen: dict[int, str] = {}
    for c in comps:
        for port, env_var in c.ports:
            if port in seen:
                raise StackError(
                    f"port {port} is configured for both {seen[port]} and "
                    f"{c.name}; change {env_var}"
                )
            seen[port] = c.name
            if not port_free(port):
                raise StackError(
                    f"port {port} needed by {c.name} is already in use by another process. "
                    f"Stop that process or choose another port, e.g. {env_var}={port + 1000}"
                )


def start(c: Component, argv: list[str], s: Settings) -> subprocess.Popen[bytes]:
    """Launch detached (own session, survives this script) with output to its log."""
    log = c.log_file(s)
    log.parent.mkdir(parents=True, exist_ok=True)
    if log.exists():  # keep exactly one previous run for post-mortems
        log.replace(log.with_suffix(".log.1"))
    with log.open("ab") as out:
        out.write(f"# stack.py {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=s.local_dir,
            start_new_session=True,
        )
    s.run_dir.mkdir(parents=True, exist_ok=True)
    c.pid_file(s).write_text(f"{proc.pid}\n")
    return proc


def stop(c: Component, s: Settings) -> bool:
    """SIGTERM, wait up to STOP_GRACE_SECONDS, then SIGKILL. True if it was running."""
    pid = read_pid(c, s)
    if pid is None:
        c.pid_file(s).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        print(f"{c.name}: did not stop within {STOP_GRACE_SECONDS:.0f}s, sending SIGKILL")
        with contextlib.suppress(ProcessLookupError):  # it may have just exited
            os.killpg(pid, signal.SIGKILL)  # pid == pgid thanks to start_new_session
    c.pid_file(s).unlink(missing_ok=True)
    return True


def _alive(pid: int) -> bool:
    """True while pid exists; also reaps it if it is our child (avoids zombies)."""
    try:
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            return False
    except ChildProcessError:
        pass  # not our child: fall through to the signal probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a text file ('' if it does not exist)."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 256 * 1024))  # logs can be large; the end is enough
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# --------------------------------------------------------------------------- commands


def cmd_up(s: Settings, which: Sequence[str], record: Path | None) -> int:
    """Start what is not already running, wait until everything requested is ready."""
    if record is not None:
        record.write_text("")  # a failed/no-op call must not leave stale names behind
    wanted = select(s, which)
    to_start: list[Component] = []
    waiting: list[Component] = []
    for c in wanted:
        if read_pid(c, s) is None:
            to_start.append(c)
        elif c.is_ready(s):
            print(f"{c.name} already running on {c.url}")
        else:
            waiting.append(c)  # e.g. another `up` is still starting it: just wait
            print(f"{c.name} is starting (pid {read_pid(c, s)}); waiting for it")
    if not to_start and not waiting:
        return 0

    argvs: dict[str, list[str]] = {}
    if to_start:
        require_tools()
        check_ports(to_start)
        if s.fresh:
            wipe_data(to_start, s)
        argvs = _prepare_all(to_start, s)
        check_ports(to_start)  # again: the Maven step can take a while
    procs = {c.name: start(c, argvs[c.name], s) for c in to_start}

    try:
        failed = wait_ready([*to_start, *waiting], procs, s)
    except KeyboardInterrupt:
        failed = True  # don't leave half-started servers behind on Ctrl-C
    if failed:
        for c in to_start:
            stop(c, s)
        return 1
    if record is not None:
        record.write_text("".join(f"{c.name}\n" for c in to_start))
    return 0


def _prepare_all(comps: Sequence[Component], s: Settings) -> dict[str, list[str]]:
    """Run the (Maven-heavy) prepare steps concurrently; they are independent."""
    s.build_dir.mkdir(parents=True, exist_ok=True)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(comps)) as pool:
        futures = {c.name: pool.submit(c.prepare, s) for c in comps}
        return {name: f.result() for name, f in futures.items()}


def wait_ready(
    comps: Sequence[Component], procs: dict[str, subprocess.Popen[bytes]], s: Settings
) -> bool:
    """Poll until all are ready. Returns True if any failed (log tail already printed)."""
    started = time.monotonic()
    pending = {c.name: c for c in comps}
    failed = False
    while pending:
        for name, c in list(pending.items()):
            proc = procs.get(name)
            exited = proc.poll() is not None if proc else read_pid(c, s) is None
            if exited:
                _report_failure(c, s, "exited during startup")
                failed = True
            elif c.is_ready(s):
                print(f"{name} ready on {c.url} ({time.monotonic() - started:.1f}s)")
            elif time.monotonic() - started > s.start_timeout:
                _report_failure(
                    c,
                    s,
                    f"not ready after {s.start_timeout:.0f}s "
                    "(raise FS_START_TIMEOUT if the machine is slow)",
                )
                failed = True
            else:
                continue  # still starting
            del pending[name]
        if pending:
            time.sleep(0.5)
    return failed


def _report_failure(c: Component, s: Settings, why: str) -> None:
    """Explain a failed start, with the end of that component's log."""
    log = c.log_file(s)
    print(f"{c.name} {why}; last {LOG_TAIL_LINES} lines of {log}:", file=sys.stderr)
    print(tail(log, LOG_TAIL_LINES), file=sys.stderr)


def cmd_down(s: Settings, which: Sequence[str], record: Path | None) -> int:
    """Stop components (all, the named ones, or only those listed in a record file)."""
    if record is not None:
        names = record.read_text().split() if record.exists() else []
        comps = select(s, names) if names else []
    else:
        comps = select(s, which)
    for c in comps:
        print(f"{c.name} stopped" if stop(c, s) else f"{c.name} not running")
    return 0


def cmd_status(s: Settings) -> int:
    """Print each component's state; 0 only if every component is up and ready."""
    all_ready = True
    for c in select(s, ()):
        pid = read_pid(c, s)
        if pid is None:
            state, ok = "stopped", False
        elif c.is_ready(s):
            state, ok = f"running, ready on {c.url} (pid {pid})", True
        else:
            state, ok = f"running but NOT ready on {c.url} (pid {pid})", False
        all_ready = all_ready and ok
        print(f"{c.name:<11} {state}")
    return 0 if all_ready else 1


def cmd_logs(s: Settings, which: Sequence[str], lines: int) -> int:
    """Print the tail of each selected component's log."""
    for c in select(s, which):
        log = c.log_file(s)
        print(f"==> {log} <==")
        print(tail(log, lines) or "(no log yet)")
    return 0


def wipe_data(comps: Iterable[Component], s: Settings) -> None:
    """Delete data dirs; refuses while the component is running."""
    for c in comps:
        if read_pid(c, s) is not None:
            raise StackError(f"{c.name} is running; run `stack.py down {c.name}` before wiping")
        if c.data_dir.exists():
            shutil.rmtree(c.data_dir)
            print(f"{c.name}: wiped {c.data_dir}")


def cmd_wipe(s: Settings, which: Sequence[str]) -> int:
    """The `wipe` subcommand: reset the selected components to an empty state."""
    wipe_data(select(s, which), s)
    return 0


# --------------------------------------------------------------------------- cli


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Command-line interface (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="stack.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add_components(p: argparse.ArgumentParser) -> None:
        # No `choices=`: argparse rejects the empty default of nargs="*" with
        # choices; select() validates the names instead.
        p.add_argument(
            "components",
            nargs="*",
            default=[],
            metavar="{kafka,opensearch,all}",
            help="component(s); default all",
        )

    up = sub.add_parser("up", help="start (idempotent) and wait until ready")
    add_components(up)
    up.add_argument(
        "--if-needed-record",
        type=Path,
        metavar="FILE",
        help="write the names of the components this call started into FILE",
    )
    down = sub.add_parser("down", help="stop (SIGTERM, then SIGKILL after 30s)")
    add_components(down)
    down.add_argument(
        "--recorded",
        type=Path,
        metavar="FILE",
        help="stop only the components listed in FILE (from up --if-needed-record)",
    )
    sub.add_parser("status", help="show state; exit 0 only if all are ready")
    logs = sub.add_parser("logs", help="print the end of the logs")
    add_components(logs)
    logs.add_argument("-n", "--lines", type=int, default=LOG_TAIL_LINES)
    wipe = sub.add_parser("wipe", help="delete data dirs (components must be stopped)")
    add_components(wipe)
    return parser.parse_args(argv)


@contextlib.contextmanager
def state_lock(s: Settings) -> Iterator[None]:
    """Serialise commands that change state, so two concurrent `up`s (e.g. two
    terminals or parallel test runs) cannot both start the same server."""
    s.run_dir.mkdir(parents=True, exist_ok=True)
    with (s.run_dir / "stack.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print("waiting for another stack.py command to finish...", file=sys.stderr)
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: dispatch the subcommand, turning StackError into exit status 1."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        s = Settings.from_env()
        if args.command in ("up", "down", "wipe"):
            with state_lock(s):
                return dispatch(s, args)
        return dispatch(s, args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def dispatch(s: Settings, args: argparse.Namespace) -> int:
    """Run one subcommand."""
    if args.command == "up":
        return cmd_up(s, args.components, args.if_needed_record)
    if args.command == "down":
        return cmd_down(s, args.components, args.recorded)
    if args.command == "status":
        return cmd_status(s)
    if args.command == "logs":
        return cmd_logs(s, args.components, args.lines)
    return cmd_wipe(s, args.components)


if __name__ == "__main__":
    sys.exit(main())
