"""The orchestrator of ``make bench``: starts processes, watches them, collects the figures.

Everything runs against the already running local Kafka and OpenSearch, on
topics, consumer groups and indices named ``bench-<run>-<phase>…`` that are
deleted at the end with the lakes and mail the services wrote (``--keep`` keeps
them). Phases, in order:

1. ``pipeline``: the scorer (exactly-once, then at-least-once), indexer and
   notifier (with a local SMTP catcher) as separate processes under stepped
   open-loop load; optionally a sustained run (``--sustain-seconds``).
2. ``null``: the pass-through null scorer under the same steps (exactly-once on/off).
3. ``floor``: the whole pipeline with the null scorer in the scorer's place,
   forwarding decisions made beforehand (:mod:`bench.floor`): what the
   machine carries when scoring costs nothing.
4. ``kafka``: Kafka's ProducerPerformance and EndToEndLatency.
5. ``capacity``: a preloaded backlog drained by the scorer, then passed
   through by the null scorer, then its decisions by the indexer, then by a
   raw bulk loader; py-spy profiles of the scorer and the indexer draining.
6. ``micro``: the scorer's parts in isolation.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import platform
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opensearchpy import AsyncOpenSearch

from bench import kafkatools, profile
from bench.common import (
    DEFAULT_PARTITIONS,
    REPO,
    WORK,
    bench_settings,
    read_json,
    topic_partitions,
    write_json,
)
from bench.floor import write_decided_pool
from bench.observe import SearchablePoller, group_lag, searchable_samples
from bench.payloads import (
    as_alert_burst,
    iso_utc,
    read_pool,
    render,
    simulate_pool,
    templates,
    write_pool,
)
from bench.procstats import (
    ProcSample,
    autogroup_enabled,
    internal_log_bytes,
    load_average,
    machine_cpu_seconds,
    sample,
    server_state,
    speed_probe,
)
from bench.schedule import Schedule, Step
from bench.services import Service, ServiceError
from bench.stats import (
    indexer_pair_figures,
    json_number,
    latency_breakdown,
    median_drain,
    per_thousand,
    pooled_windows,
    rate,
    summarize,
)
from bench.targets import BUFFERING
from fraudstream_shared.kafka import create_admin, create_producer, create_reader
from scorer.settings import ScorerSettings

PHASES = ("pipeline", "latency", "null", "floor", "kafka", "capacity", "micro")
MONITOR_EVERY_S = 1.0
JUDGE_BEFORE_END_S = 2.5
"""A step's lag is judged this long before its end (the generator then stops at its end)."""
POOL_SIZE = 20_000
ALERT_BURST_DECISIONS = 20_000
"""Decisions in the notifier's fraud wave (taken from the capacity backlog's)."""
ALERT_BURST_EVERY = 10
"""One decision in this many is blocked in the fraud wave (1 in 50 to 70 in recent ladders)."""
PRELOAD_RATE = 200_000.0
"""The capacity phase preloads its backlog "at" this rate: as fast as the generator can."""
SCORED_KINDS = ("pipeline", "latency")
"""Runs whose decisions the real scorer made during the run, so they carry its timings (the
floor's pool was decided beforehand, the null scorer adds none)."""
LATENCY_WARMUP = (0.5, 10.0)
"""The latency phase's warm-up: this share of its rate, for this many seconds. Its services
start cold, where the ladder's had already carried the lower steps."""


@dataclass(frozen=True)
class Options:
    """What to run and for how long (``python -m bench run --help``)."""

    rates: tuple[float, ...] = (100, 250, 500, 1000, 2500, 5000, 7500, 10000)
    step_seconds: float = 30.0
    warmup_seconds: float = 5.0
    null_step_seconds: float = 15.0
    floor_rates: tuple[float, ...] = (1000, 2500, 5000, 7500)
    sustain_seconds: float = 0.0
    sustain_rate: float = 5000.0
    latency_rate: float = 2500.0
    latency_windows: int = 5
    latency_seconds: float = 30.0
    capacity_events: int = 60_000
    capacity_repeats: int = 3
    perf_records: int = 300_000
    e2e_messages: int = 2_000
    drain_timeout_s: float = 60.0
    saturation_lag_s: float = 3.0
    profile_seconds: float = 15.0
    partitions: int = DEFAULT_PARTITIONS
    phases: tuple[str, ...] = PHASES
    keep: bool = False
    keep_runs: int = 5
    bootstrap: str = "127.0.0.1:9092"
    opensearch_url: str = "http://127.0.0.1:9200"


# --------------------------------------------------------------------------- naming


@dataclass(frozen=True)
class Names:
    """Bench-unique topics, groups and index of one phase."""

    run: str
    phase: str

    @property
    def prefix(self) -> str:
        """Every name of the phase starts with this."""
        return f"bench-{self.run}-{self.phase}"

    @property
    def transactions(self) -> str:
        """The input topic."""
        return f"{self.prefix}.transactions"

    @property
    def decisions(self) -> str:
        """The output topic."""
        return f"{self.prefix}.decisions"

    def group(self, service: str) -> str:
        """The consumer group of ``service``."""
        return f"{self.prefix}-{service}"

    @property
    def index(self) -> str:
        """The OpenSearch index.

        The indexer's template matches ``<index>*``, so no bench index name may
        start with another one: each ends in ``-idx``.
        """
        return f"{self.prefix}-idx"

    def other_index(self, tag: str) -> str:
        """A further index of the phase (``<prefix>-<tag>-idx``)."""
        return f"{self.prefix}-{tag}-idx"


# --------------------------------------------------------------------------- processes


def scorer_env(names: Names, opts: Options, *, exactly_once: bool) -> dict[str, str]:
    """Environment of a bench scorer."""
    return {"KAFKA_BOOTSTRAP_SERVERS": opts.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(opts.partitions),
            "TRANSACTIONS_TOPIC": names.transactions, "DECISIONS_TOPIC": names.decisions,
            "LABELS_TOPIC": f"{names.prefix}.labels",
            "KAFKA_CONSUMER_GROUP": names.group("scorer"),
            "SCORER_EXACTLY_ONCE": "true" if exactly_once else "false"}


def indexer_env(names: Names, opts: Options, group: str | None = None,
                index: str | None = None) -> dict[str, str]:
    """Environment of a bench indexer."""
    return {"KAFKA_BOOTSTRAP_SERVERS": opts.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(opts.partitions),
            "DECISIONS_TOPIC": names.decisions, "OPENSEARCH_URL": opts.opensearch_url,
            "OPENSEARCH_INDEX": index or names.index,
            "KAFKA_CONSUMER_GROUP": group or names.group("indexer")}


def notifier_env(names: Names, opts: Options, smtp_port: int) -> dict[str, str]:
    """Environment of a bench notifier (mail goes to the bench's SMTP catcher)."""
    return {"KAFKA_BOOTSTRAP_SERVERS": opts.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(opts.partitions),
            "DECISIONS_TOPIC": names.decisions,
            "NOTIFIER_SENT_TOPIC": f"{names.prefix}.notified",
            "KAFKA_CONSUMER_GROUP": names.group("notifier"),
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}


def archiver_env(names: Names, opts: Options, lake: Path) -> dict[str, str]:
    """Environment of a bench archiver (a local lake in the run's work folder)."""
    return {"KAFKA_BOOTSTRAP_SERVERS": opts.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(opts.partitions),
            "DECISIONS_TOPIC": names.decisions, "LABELS_TOPIC": f"{names.prefix}.labels",
            "KAFKA_CONSUMER_GROUP": names.group("archiver"),
            "ARCHIVER_DESTINATION": "local", "ARCHIVER_LAKE_DIR": str(lake)}


def nullscorer_env(names: Names, opts: Options, *, exactly_once: bool) -> dict[str, str]:
    """Environment of the null scorer: the scorer's fetch and batch options in that mode.

    The null scorer stands for the scorer with the scoring taken out, so it
    polls as the scorer would (the same settings, read from the same
    environment). With the common defaults it was answered as soon as any
    record arrived and, with exactly-once, committed a transaction per
    partition that often: the floor run's broker spent 0.22–0.24 CPU-seconds
    per 1,000 events at 2,500 tx/s where the real pipeline's spent 0.14.
    """
    scorer = ScorerSettings(scorer_exactly_once=exactly_once)
    return {"KAFKA_BOOTSTRAP_SERVERS": opts.bootstrap,
            "KAFKA_TOPIC_PARTITIONS": str(opts.partitions),
            "NULL_INPUT_TOPIC": names.transactions, "NULL_OUTPUT_TOPIC": names.decisions,
            "KAFKA_CONSUMER_GROUP": names.group("nullscorer"),
            "NULL_EXACTLY_ONCE": "true" if exactly_once else "false",
            "KAFKA_FETCH_MIN_BYTES": str(scorer.kafka_fetch_min_bytes),
            "KAFKA_FETCH_MAX_WAIT_MS": str(scorer.kafka_fetch_max_wait_ms),
            "NULL_MAX_BATCH": str(scorer.scorer_max_batch)}


SERVICE_OUTPUTS = ("*-lake", "mail")
"""What the bench's services write into a run's directory: the archivers' lakes and the
SMTP catcher's mail, copies of what the pipeline decided and alerted (about 280 MB of
a full run's 470)."""


def remove_service_outputs(work: Path) -> list[Path]:
    """Delete the directories the services wrote under ``work``; the ones deleted.

    The measurements (``*.npz``, ``*.json``) and the logs are the run's record and
    stay; without this, every ``make bench`` left about 470 MB under ``.local/bench``.
    """
    removed = []
    for pattern in SERVICE_OUTPUTS:
        for path in sorted(work.glob(pattern)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


RUN_DIR = re.compile(r"\d{8}t\d{4}-[0-9a-f]{4}")
"""The name of a run's work directory (:attr:`Bench.run_id`): ``<UTC date>t<hhmm>-<hex>``."""


def prune_earlier_runs(root: Path, keep: int, current: str) -> list[Path]:
    """Delete all but the ``keep`` newest run directories under ``root``; the ones deleted.

    Each run leaves its logs, latency arrays and profiles behind (about 190 MB a
    full run), so a machine that benchmarks every day would fill its disk. Only
    directories named like a run (:data:`RUN_DIR`) are counted and deleted, newest
    by name (the name starts with the UTC time), and never ``current``, the run
    about to start, whose directory may already exist.
    """
    if keep < 0:
        raise ValueError(f"keep must be 0 or more, got {keep}")
    if not root.is_dir():
        return []
    earlier = sorted((path for path in root.iterdir()
                      if path.is_dir() and RUN_DIR.fullmatch(path.name)
                      and path.name != current),
                     key=lambda path: path.name, reverse=True)
    removed = earlier[keep:]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed


def find_server_pid(main_class: str, marker: str) -> int | None:
    """The pid of the shared local server running ``main_class`` with ``marker`` in its argv."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if main_class in argv and marker in argv:
            return int(entry.name)
    return None


def local_broker(folder: Path) -> tuple[int | None, dict[str, int] | None]:
    """The pid of the local stack's broker, whose argv names ``folder``, and its internal topics.

    The internal topics' bytes are what the broker's cleanings will rewrite: up
    to a day of transaction markers on a broker that has run exactly-once for
    hours (bench/HISTORY.md). They are read from ``folder/data`` only when that
    broker is the one running: a bench pointed at another broker would
    otherwise report a stale folder. ``(None, None)`` when it is not running.
    """
    pid = find_server_pid("kafka.Kafka", str(folder))
    return pid, internal_log_bytes(folder / "data") if pid else None


def metric_value(port: int, name: str, **labels: str) -> float:
    """Sum of a Prometheus metric's samples on a service (``nan`` if unreachable).

    ``labels`` keeps only the samples that carry each of them.
    """
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics/", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return math.nan
    return metric_sum(text, name, **labels)


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of metric ``name``'s samples in Prometheus exposition ``text``, filtered by labels."""
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    total = 0.0
    for line in text.splitlines():
        if not (line.startswith(name + "{") or line.startswith(name + " ")):
            continue
        if all(label in line.split("}", 1)[0] for label in wanted):
            total += float(line.rsplit(" ", 1)[1])
    return total


def default_notifier_concurrency() -> int:
    """``NOTIFIER_CONCURRENCY``'s default: what the notifier does out of the box."""
    from notifier.settings import NotifierSettings

    return int(NotifierSettings.model_fields["notifier_concurrency"].default)


def git_commit() -> str:
    """The checked-out commit (with ``+dirty`` when bench-relevant files differ)."""
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The machine the figures come from."""
    memory = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) / 1024 / 1024
    return {"cores": os.cpu_count(), "cpu_model": cpu_model(), "memory_gib": round(memory, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "load_average": [round(x, 2) for x in load_average()],
            "sched_autogroup": autogroup_enabled(),
            "speed_probe_ms": speed_probe()}


# --------------------------------------------------------------------------- the run


@dataclass
class Watched:
    """A process whose CPU and memory are sampled, with its samples per step boundary."""

    name: str
    pid: Callable[[], int | None]
    boundaries: list[ProcSample | None] = field(default_factory=list)
    max_rss_by_step: dict[int, float] = field(default_factory=dict)
    last: ProcSample | None = None

    def take(self) -> ProcSample | None:
        """Sample now (remembering the last good sample)."""
        pid = self.pid()
        current = sample(pid) if pid else None
        if current is not None:
            self.last = current
        return current


class Bench:
    """One ``make bench`` run."""

    def __init__(self, opts: Options, run_id: str | None = None) -> None:
        self.opts = opts
        self.run_id = run_id or datetime.now(UTC).strftime("%Y%m%dt%H%M") + "-" + \
            secrets.token_hex(2)
        self.work = WORK / self.run_id
        self.logs = self.work / "logs"
        self.pool_path = self.work / "pool.jsonl"
        self.decided_pool_path = self.work / "pool-decided.jsonl"
        self.settings = bench_settings(opts.bootstrap)
        self.mailcatcher: Service | None = None
        self.results: dict[str, Any] = {}
        self.services: list[Service] = []
        self.admin: AIOKafkaAdminClient
        self.reader: AIOKafkaConsumer
        self.search: AsyncOpenSearch
        self.kafka_pid: int | None = None
        self.opensearch_pid: int | None = None

    # -- helpers ---------------------------------------------------------

    def say(self, text: str) -> None:
        """Progress on the terminal."""
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    def start(self, service: Service, ready: bool = True) -> Service:
        """Start a service (and wait for ``/readyz``), remembering it for clean-up."""
        self.services.append(service.start())
        if ready:
            service.wait_ready()
        return service

    def stop_all(self) -> None:
        """Stop every process this run started (SIGTERM, then SIGKILL after 30 s)."""
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def bench_process(self, name: str, module: str, spec: dict[str, Any]) -> Service:
        """A bench child process (generator, measurer, loader…) reading a JSON spec."""
        spec_path = self.work / f"{name}.spec.json"
        write_json(spec_path, spec)
        return Service(name, {}, self.logs, argv=[sys.executable, "-m", module, str(spec_path)],
                       http=False)

    def make_pool(self) -> None:
        """Simulate the pool of transactions every phase sends."""
        if not self.pool_path.exists():
            self.say(f"simulating {POOL_SIZE} transactions for the pool…")
            write_pool(self.pool_path, simulate_pool(POOL_SIZE))

    # -- phases ------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Every selected phase; returns the results (also written to the work dir)."""
        pruned = prune_earlier_runs(WORK, self.opts.keep_runs, self.run_id)
        if pruned:
            runs = "1 earlier run" if len(pruned) == 1 else f"{len(pruned)} earlier runs"
            self.say(f"deleted the work directories of {runs} in {WORK} (--keep-runs "
                     f"{self.opts.keep_runs}): {', '.join(p.name for p in pruned)}")
        self.work.mkdir(parents=True, exist_ok=True)
        self.make_pool()
        started = datetime.now(UTC)
        self.results = {
            "version": 1, "run_id": self.run_id, "started": started.isoformat(),
            "git_commit": git_commit(), "machine_before": machine(),
            "options": {k: list(v) if isinstance(v, tuple) else v
                        for k, v in self.opts.__dict__.items()},
        }
        self.admin = create_admin(self.settings)
        await self.admin.start()
        self.reader = create_reader(self.settings)
        await self.reader.start()
        self.search = AsyncOpenSearch(hosts=[self.opts.opensearch_url], timeout=30)
        self.kafka_pid, internal_logs = local_broker(REPO / ".local" / "kafka")
        self.opensearch_pid = find_server_pid("LocalOpenSearch",
                                              str(REPO / ".local" / "opensearch"))
        self.results["servers_before"] = {
            name: server_state(pid) if pid else None
            for name, pid in (("kafka", self.kafka_pid), ("opensearch", self.opensearch_pid))}
        self.results["kafka_internal_log_bytes"] = internal_logs
        try:
            if "pipeline" in self.opts.phases:
                await self.pipeline_phase()
            if "latency" in self.opts.phases:
                await self.latency_phase()
            if "null" in self.opts.phases:
                await self.null_phase()
            if "floor" in self.opts.phases:
                await self.floor_phase()
            if "kafka" in self.opts.phases:
                await self.kafka_phase()
            if "capacity" in self.opts.phases:
                await self.capacity_phase()
            if "micro" in self.opts.phases:
                await self.micro_phase()
        finally:
            self.stop_all()
            if not self.opts.keep:
                await self.clean_up()
            await self.search.close()
            await self.reader.stop()
            await self.admin.close()
        self.results["machine_after"] = machine()
        self.results["finished"] = datetime.now(UTC).isoformat()
        write_json(self.work / "results.json", self.results)
        return self.results

    async def clean_up(self) -> None:
        """Delete this run's topics and indices, and what its services wrote to disk.

        Only this run's: the servers are shared. The measurements and logs in the
        run's directory stay.
        """
        remove_service_outputs(self.work)
        mine = f"bench-{self.run_id}-"
        with contextlib.suppress(Exception):
            topics = [t for t in await self.admin.list_topics() if t.startswith(mine)]
            if topics:
                await self.admin.delete_topics(topics)
        with contextlib.suppress(Exception):
            await self.search.indices.delete(index=f"{mine}*")
        with contextlib.suppress(Exception):
            templates_ = await self.search.indices.get_index_template(name=f"fraudstream-{mine}*")
            for template in templates_.get("index_templates", []):
                await self.search.indices.delete_index_template(name=template["name"])

    def mail(self) -> Service:
        """The local SMTP catcher the notifier sends to (started once)."""
        if self.mailcatcher is None or not self.mailcatcher.alive():
            smtp = free_port_pair()
            self.mailcatcher = self.start(Service(
                "mailcatcher", {}, self.logs, http=False,
                argv=[sys.executable, "infra/local/mailcatcher.py", "--smtp-port", str(smtp[0]),
                      "--http-port", str(smtp[1]), "--dir", str(self.work / "mail")]),
                ready=False)
            self.mailcatcher.port = smtp[0]
            wait_for_port(smtp[0])
        return self.mailcatcher

    async def pipeline_phase(self) -> None:
        """The real services under stepped load, exactly-once on, then off; then sustained."""
        schedule = Schedule.stepped(self.opts.rates, self.opts.step_seconds)
        runs = []
        for exactly_once in (True, False):
            mode = "eos" if exactly_once else "alo"
            runs.append(await self.stepped(f"pipe-{mode}", schedule, exactly_once=exactly_once,
                                           null=False))
        self.results["pipeline"] = runs
        if self.opts.sustain_seconds > 0:
            sustained = Schedule((Step(self.opts.sustain_rate, self.opts.sustain_seconds),))
            self.results["sustained"] = await self.stepped("sustain", sustained,
                                                           exactly_once=True, null=False)

    async def latency_phase(self) -> None:
        """The pipeline held at one rate for several windows, exactly-once on, then off.

        One step of the ladder is one sample of a tail that swings by 2× between
        runs of the same code; the p99 targets are judged on these windows
        pooled (``stepped_result`` adds ``pooled``), and every window's own p99
        shows how far a single step can be trusted.
        """
        o = self.opts
        schedule = Schedule.stepped([o.latency_rate] * o.latency_windows, o.latency_seconds)
        share, seconds = LATENCY_WARMUP
        self.results["latency"] = [
            await self.stepped(f"lat-{'eos' if eos else 'alo'}", schedule, exactly_once=eos,
                               null=False, kind="latency",
                               warmup_step=Step(o.latency_rate * share, seconds))
            for eos in (True, False)]

    async def null_phase(self) -> None:
        """The null scorer under the same steps, exactly-once on and off."""
        schedule = Schedule.stepped(self.opts.rates, self.opts.null_step_seconds)
        self.results["null_scorer"] = [
            await self.stepped(f"null-{'eos' if eos else 'alo'}", schedule, exactly_once=eos,
                               null=True)
            for eos in (True, False)]

    async def floor_phase(self) -> None:
        """The pipeline with a pass-through scorer forwarding decided events (exactly-once)."""
        if not self.decided_pool_path.exists():
            self.say("deciding the pool with the scorer's engine for the floor run…")
            await write_decided_pool(read_pool(self.pool_path), self.decided_pool_path)
        schedule = Schedule.stepped(self.opts.floor_rates, self.opts.step_seconds)
        self.results["floor"] = [await self.stepped("floor-eos", schedule, exactly_once=True,
                                                    null=True, sinks=True,
                                                    pool=self.decided_pool_path)]

    async def stepped(self, phase: str, schedule: Schedule, *, exactly_once: bool,
                      null: bool, sinks: bool | None = None,
                      pool: Path | None = None, kind: str | None = None,
                      warmup_step: Step | None = None) -> dict[str, Any]:
        """One stepped run; returns its per-step figures.

        ``null`` puts the null scorer in the scorer's place; ``sinks`` (default:
        not ``null``) runs the indexer, notifier and archiver behind it; ``pool``
        replaces the pool of transactions the generator sends. ``kind`` names
        the run in the results (default: from ``null`` and ``sinks``).
        ``warmup_step`` replaces the default warm-up (the first step's rate for
        ``Options.warmup_seconds``), reported apart from the steps.
        """
        names = Names(self.run_id, phase)
        sinks = not null if sinks is None else sinks
        self.say(f"{phase}: starting services")
        watched: list[tuple[Service, str, str]] = []  # (service, group, topic)
        if null:
            first = self.start(Service("nullscorer-" + phase,
                                       nullscorer_env(names, self.opts, exactly_once=exactly_once),
                                       self.logs, module="bench.nullscorer"))
            watched.append((first, names.group("nullscorer"), names.transactions))
        else:
            first = self.start(Service("scorer-" + phase,
                                       scorer_env(names, self.opts, exactly_once=exactly_once),
                                       self.logs, module="scorer"))
            watched.append((first, names.group("scorer"), names.transactions))
        if sinks:
            mail = self.mail()
            assert mail.port is not None
            indexer = Service("indexer-" + phase, indexer_env(names, self.opts), self.logs,
                              module="indexer").start()
            notifier = Service("notifier-" + phase, notifier_env(names, self.opts, mail.port),
                               self.logs, module="notifier").start()
            archiver = Service("archiver-" + phase,
                               archiver_env(names, self.opts, self.work / f"{phase}-lake"),
                               self.logs, module="archiver").start()
            self.services += [indexer, notifier, archiver]
            indexer.wait_ready()
            notifier.wait_ready()
            archiver.wait_ready()
            watched += [(indexer, names.group("indexer"), names.decisions),
                        (notifier, names.group("notifier"), names.decisions),
                        (archiver, names.group("archiver"), names.decisions)]
        out = self.work / f"{phase}-measure.npz"
        ready = self.work / f"{phase}-measure.ready"
        control = self.work / f"{phase}-measure.control.json"
        measurer = self.start(self.bench_process(f"measure-{phase}", "bench.measure", {
            "bootstrap": self.opts.bootstrap, "topic": names.decisions, "prefix": names.prefix,
            "out": str(out), "control": str(control), "ready": str(ready)}), ready=False)
        await wait_for_file(ready, measurer)
        if warmup_step is None and self.opts.warmup_seconds > 0:
            warmup_step = Step(schedule.steps[0].rate, self.opts.warmup_seconds)
        warmup = warmup_step is not None
        if warmup_step is not None:
            # A short first step, reported apart: the first events after a
            # start meet cold connections and caches.
            schedule = Schedule((warmup_step, *schedule.steps))
        started = self.work / f"{phase}-generate.started.json"
        generator = self.start(self.bench_process(f"generate-{phase}", "bench.generate", {
            "bootstrap": self.opts.bootstrap, "topic": names.transactions,
            "pool": str(pool or self.pool_path), "partitions": self.opts.partitions,
            "steps": [{"rate": s.rate, "seconds": s.seconds} for s in schedule.steps],
            "prefix": names.prefix, "out": str(self.work / f"{phase}-generate.json"),
            "started": str(started),
        }), ready=False)
        await wait_for_file(started, generator)
        t0 = float(read_json(started)["t0"])
        poller = None
        poll_task = None
        stop_polling = asyncio.Event()
        if sinks:
            poller = SearchablePoller(self.search, names.index,
                                      searchable_samples(schedule, t0, names.prefix))
            poll_task = asyncio.create_task(poller.run(stop_polling))
        # (short name, service, group, topic): the figures name a service without its phase.
        named = [(s.name.removesuffix("-" + phase), s, g, t) for s, g, t in watched]
        procs = [Watched(name, pid_of(s)) for name, s, _, _ in named]
        procs += [Watched("generator", pid_of(generator)), Watched("measurer", pid_of(measurer)),
                  Watched("kafka", lambda: self.kafka_pid),
                  Watched("opensearch", lambda: self.opensearch_pid)]
        if sinks and self.mailcatcher is not None:
            procs.append(Watched("mailcatcher", pid_of(self.mailcatcher)))
        monitor = Monitor(self, schedule, t0, procs,
                          [(name, g, t) for name, _, g, t in named],
                          first_judged=1 if warmup else 0)
        judged = schedule.steps[1:] if warmup else schedule.steps
        warm_up = (f"a {warmup_step.seconds:g} s warm-up at {warmup_step.rate:g} tx/s, then "
                   if warmup_step is not None else "")
        steps = f"{len(judged)} step{'' if len(judged) == 1 else 's'}"
        self.say(f"{phase}: {warm_up}{steps} of {judged[-1].seconds:g} s at "
                 f"{', '.join(f'{s.rate:g}' for s in judged)} tx/s")
        saturated_at = await monitor.until_generator_done(generator)
        monitor.end_of_sending()
        summary = read_json(self.work / f"{phase}-generate.json")
        sent = int(summary["sent"])
        deadline = time.time() + self.opts.drain_timeout_s
        write_json(control, {"expected": sent, "deadline": deadline})
        if poller is not None:
            poller.sent = sent
        self.say(f"{phase}: {sent} sent; waiting for the last decisions (≤ "
                 f"{self.opts.drain_timeout_s:.0f} s)")
        buffering = {name: s for name, s, _, _ in named if name in BUFFERING}
        left = await monitor.until_drained(measurer, deadline, buffering)
        for name, messages in left.items():
            self.say(f"{phase}: the {name} was {messages} records behind after its graceful "
                     f"stop (records it had not read or not written)")
        if poll_task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(poll_task),
                                       timeout=max(0.0, deadline + 5 - time.time()))
            stop_polling.set()
            await poll_task
        monitor.boundary(final=True)
        for service, _, _ in watched:
            service.stop()
        measurer.stop()
        return self.stepped_result(phase, schedule, t0, summary, saturated_at, monitor,
                                   out, poller, exactly_once=exactly_once, warmup=warmup,
                                   kind=kind or ("floor" if null and sinks else
                                                 "null_scorer" if null else "pipeline"))

    def stepped_result(self, phase: str, schedule: Schedule, t0: float, summary: dict[str, Any],
                       saturated_at: int | None, monitor: Monitor, out: Path,
                       poller: SearchablePoller | None, *, exactly_once: bool,
                       warmup: bool, kind: str) -> dict[str, Any]:
        """Per-step figures from the measurer's arrays and the monitor's samples.

        With ``warmup`` the schedule's first step is the warm-up: reported as
        ``warmup``, not among the steps. A ``latency`` run also gets ``pooled``:
        the latency of every step's events together (:func:`pooled_windows`).
        """
        data = np.load(out)
        seq, intended, arrival = data["seq"], data["intended"], data["arrival"]
        step_of = np.searchsorted(np.asarray(schedule.first_events), seq, side="right") - 1
        latency_ms = (arrival - intended) * 1000
        measured = read_json(out.with_suffix(".json"))
        steps = []
        for k, step in enumerate(schedule.steps):
            sent_k = int(summary["steps"][k]["sent"])
            if sent_k == 0:
                steps.append({"rate": step.rate, "seconds": step.seconds, "run": False})
                continue
            mine = latency_ms[step_of == k]
            start, end = schedule.step_window(k)
            arrived_in_window = int(np.count_nonzero(
                (arrival >= t0 + start) & (arrival < t0 + end)))
            window = end - start if sent_k >= step.events else sent_k / step.rate
            result: dict[str, Any] = {
                "rate": step.rate, "seconds": step.seconds, "run": True,
                "offered": step.events, "sent": sent_k, "decided": len(mine),
                "achieved_per_s": round(rate(arrived_in_window, window), 1),
                "decision_ms": summarize(mine, missing=sent_k - len(mine)).as_dict(),
                "generator": summary["steps"][k]["send_lateness_ms"],
                "saturated": saturated_at == k,
            }
            if kind in SCORED_KINDS and "scoring" in data:
                in_step = step_of == k
                result["breakdown_ms"] = latency_breakdown(
                    mine, data["scoring"][in_step], data["decided"][in_step])
            if poller is not None:
                wanted = [s for s in poller.wanted() if s.step == k]
                found = [poller.found[s.event_id] * 1000 for s in wanted
                         if s.event_id in poller.found]
                result["searchable_ms"] = summarize(found, missing=len(wanted) - len(found)
                                                    ).as_dict()
            result.update(monitor.step_figures(k, sent_k))
            steps.append(result)
        warm = steps.pop(0) if warmup else None
        pooled = None
        if kind == "latency":
            judged = step_of >= (1 if warmup else 0)
            pooled = pooled_windows(
                steps, latency_ms[judged],
                data["scoring"][judged] if "scoring" in data else None,
                data["decided"][judged] if "decided" in data else None)
        return {"phase": phase, "pooled": pooled, "exactly_once": exactly_once, "warmup": warm,
                "kind": kind,
                "t0": iso_utc(t0), "sent": int(summary["sent"]),
                "received": measured["received"], "duplicates": measured["duplicates"],
                "outcomes": measured["outcomes"], "saturated_at_rate":
                    schedule.steps[saturated_at].rate if saturated_at is not None else None,
                "generator_cpu_seconds": round(float(summary["cpu_seconds"]), 2),
                "measurer_cpu_seconds": round(float(measured["cpu_seconds"]), 2),
                "peak_rss_mib": monitor.peak_rss(), "steps": steps,
                "searchable_poll_errors": poller.errors if poller is not None else None}

    async def kafka_phase(self) -> None:
        """Kafka's own tools: producer ceiling (plain and transactional) and round-trip latency."""
        names = Names(self.run_id, "kafka")
        perf, e2e = f"{names.prefix}.perf", f"{names.prefix}.e2e"
        perf_txn = f"{names.prefix}.perftxn"
        await self.admin.create_topics([NewTopic(perf, self.opts.partitions, 1),
                                        NewTopic(perf_txn, self.opts.partitions, 1),
                                        NewTopic(e2e, 1, 1)])
        payloads = self.work / "payloads.txt"
        pool = templates(read_pool(self.pool_path), self.opts.partitions)
        now = time.time()
        payloads.write_bytes(b"\n".join(render(t, f"perf-{i}", now)
                                        for i, t in enumerate(pool)) + b"\n")
        size = round(payloads.stat().st_size / len(pool))
        results: dict[str, Any] = {"payload_bytes_mean": size}
        loop = asyncio.get_running_loop()
        try:
            self.say("kafka: resolving kafka-tools with Maven (cached after the first run)")
            await loop.run_in_executor(None, kafkatools.classpath)
            self.say(f"kafka: ProducerPerformance, {self.opts.perf_records} records")
            results["producer_performance"] = await loop.run_in_executor(
                None, lambda: kafkatools.producer_performance(
                    self.opts.bootstrap, perf, self.opts.perf_records, payloads))
            self.say("kafka: ProducerPerformance with a transaction every 100 ms")
            results["producer_performance_transactional"] = await loop.run_in_executor(
                None, lambda: kafkatools.producer_performance(
                    self.opts.bootstrap, perf_txn, self.opts.perf_records, payloads,
                    transaction_ms=100))
            self.say(f"kafka: EndToEndLatency, {self.opts.e2e_messages} messages")
            results["end_to_end_latency"] = await loop.run_in_executor(
                None, lambda: kafkatools.end_to_end_latency(
                    self.opts.bootstrap, e2e, self.opts.e2e_messages, size))
        except (kafkatools.ToolError, OSError, subprocess.TimeoutExpired) as exc:
            results["error"] = str(exc)[-1500:]
            self.say(f"kafka: failed: {str(exc)[:300]}")
        self.results["kafka_tools"] = results

    async def capacity_phase(self) -> None:
        """Drain a preloaded backlog: scorer, then indexer, then the raw bulk loader; profiles."""
        names = Names(self.run_id, "cap")
        n = self.opts.capacity_events
        env = scorer_env(names, self.opts, exactly_once=True)
        self.say(f"capacity: preloading {n} transactions")
        first = self.start(Service("scorer-cap-init", env, self.logs, module="scorer"))
        first.stop()  # it created the topics; the backlog is written while no scorer runs
        preload = await self.preload(names, n, "cap-preload")
        results: dict[str, Any] = {"events": n, "generator": preload}
        self.say(f"capacity: scorer draining {n} (exactly-once)")
        drains = [await self.drain_scorer(names, env, n, "cap")]
        for i in range(1, self.opts.capacity_repeats):
            # The same backlog again from its start: a new group has an empty state
            # (its own changelog) and reads from the first offset, as the first drain
            # did; its own decisions topic keeps the indexer's input to one copy.
            self.say(f"capacity: scorer draining the same {n} again ({i + 1} of "
                     f"{self.opts.capacity_repeats})")
            decisions = f"{names.decisions}-r{i}"
            await self.admin.create_topics([NewTopic(decisions, self.opts.partitions, 1)])
            again = {**env, "KAFKA_CONSUMER_GROUP": names.group(f"scorer-r{i}"),
                     "DECISIONS_TOPIC": decisions}
            drains.append(await self.drain_scorer(names, again, n, f"cap-r{i}",
                                                  topic=decisions))
        results["scorer"] = median_drain(drains)
        # The same backlog through our Kafka plumbing alone (no scoring): what
        # the scorer's loop, consumer and transactional producers cost per event.
        self.say(f"capacity: null scorer passing the same {n} through (exactly-once)")
        passthrough = f"{names.prefix}.passthrough"
        # Created here: the measurer reads it before the null scorer starts.
        await self.admin.create_topics([NewTopic(passthrough, self.opts.partitions, 1)])
        null_env = {**nullscorer_env(names, self.opts, exactly_once=True),
                    "NULL_OUTPUT_TOPIC": passthrough}
        results["nullscorer"] = await self.drain_scorer(
            names, null_env, n, "cap-null", module="bench.nullscorer", topic=passthrough)
        results.update(await self.indexer_against_raw(names, n))
        # The notifier on a fraud wave made of these decisions (one in
        # ALERT_BURST_EVERY blocked): one alert at a time, then as many in flight as
        # it sends by default (each a new group with its own sent topic, so both
        # send every alert).
        burst = min(n, ALERT_BURST_DECISIONS)
        self.say(f"capacity: a fraud wave of {burst} decisions, one in {ALERT_BURST_EVERY} "
                 "blocked")
        burst_topic, burst = await self.alert_burst(names, burst)
        results["notifier"] = []
        for concurrency in sorted({1, default_notifier_concurrency()}):
            self.say(f"capacity: notifier alerting on the fraud wave, {concurrency} in flight")
            results["notifier"].append(
                await self.drain_notifier(names, burst_topic, burst, concurrency))
        profiles: dict[str, Any] = {}
        if self.opts.profile_seconds > 0:
            # A scorer of a new group re-decides the whole backlog from the start
            # with an empty changelog, so the profile shows scoring, not a restore.
            self.say(f"capacity: profiling a new scorer group re-deciding the {n} events")
            profile_env = {**env, "KAFKA_CONSUMER_GROUP": names.group("scorer-profile")}
            profiles["scorer"] = await self.profiled(
                Service("scorer-cap-profile", profile_env, self.logs, module="scorer"))
            self.say("capacity: profiling a new indexer group re-indexing the decisions")
            profiles["indexer"] = await self.profiled(Service(
                "indexer-cap-profile",
                indexer_env(names, self.opts, group=names.group("indexer-profile"),
                            index=names.other_index("profile")), self.logs, module="indexer"))
        results["profiles"] = profiles
        self.results["capacity"] = results

    async def preload(self, names: Names, n: int, tag: str) -> dict[str, Any]:
        """Send ``n`` transactions as fast as the generator can; its achieved rate."""
        out = self.work / f"{tag}-generate.json"
        started = time.time()
        generator = self.start(self.bench_process(f"generate-{tag}", "bench.generate", {
            "bootstrap": self.opts.bootstrap, "topic": names.transactions,
            "pool": str(self.pool_path), "partitions": self.opts.partitions,
            "steps": [{"rate": PRELOAD_RATE, "seconds": n / PRELOAD_RATE}],
            "t0": started, "prefix": f"{names.prefix}-{tag}", "out": str(out)}), ready=False)
        await generator.exited()
        if generator.exit_code() != 0:
            raise ServiceError(f"the generator failed:\n{generator.log_tail()}")
        summary = read_json(out)
        seconds = float(summary["send_seconds"])
        return {"sent": summary["sent"], "seconds": round(seconds, 2),
                "events_per_s": round(summary["sent"] / seconds, 1),
                "cpu_seconds": round(summary["cpu_seconds"], 2),
                "process_seconds": round(time.time() - started, 2)}

    async def drain_scorer(self, names: Names, env: dict[str, str], n: int, tag: str, *,
                           module: str = "scorer", topic: str | None = None
                           ) -> dict[str, Any]:
        """Start a scorer (or ``module``) on the backlog; time and CPU from ready to the end.

        The end is its last output on ``topic`` (default: the decisions topic).
        """
        out = self.work / f"{tag}-measure.npz"
        ready = self.work / f"{tag}-measure.ready"
        control = self.work / f"{tag}-measure.control.json"
        write_json(control, {"expected": n, "deadline": time.time() + 600})
        measurer = self.start(self.bench_process(f"measure-{tag}", "bench.measure", {
            "bootstrap": self.opts.bootstrap, "topic": topic or names.decisions,
            "prefix": f"{names.prefix}-cap-preload", "out": str(out), "control": str(control),
            "ready": str(ready)}), ready=False)
        await wait_for_file(ready, measurer)
        scorer = self.start(Service(f"{module.rsplit('.', 1)[-1]}-{tag}", env, self.logs,
                                    module=module))
        at_ready = scorer.sample()
        await measurer.exited()
        at_end = scorer.sample()
        peak = at_end.peak_rss_mib if at_end else None
        # The real scorer says what its feature-state changelog cost (the null one has none).
        changelog_bytes = (metric_value(scorer.port, "fraudstream_scorer_changelog_bytes_total")
                           if module == "scorer" and scorer.port is not None else math.nan)
        scorer.stop()
        data = np.load(out)
        arrival = np.sort(data["arrival"])
        got = len(arrival)
        seconds = float(arrival[-1] - arrival[0]) if got > 1 else math.nan
        cpu = (at_end.cpu_seconds - at_ready.cpu_seconds) if at_end and at_ready else math.nan
        return {"decided": got, "seconds": round(seconds, 2),
                "events_per_s": round(rate(got, seconds), 1),
                "cpu_seconds": round(cpu, 2),
                "events_per_cpu_second": round(got / cpu, 1) if cpu > 0 else None,
                "cpu_per_1k_events": json_number(round(per_thousand(cpu, got), 3)),
                "peak_rss_mib": round(peak, 1) if peak else None,
                "changelog_bytes_per_event": json_number(round(changelog_bytes / got, 1)
                                                         if got else math.nan),
                "exactly_once": True}

    async def indexer_against_raw(self, names: Names, n: int) -> dict[str, Any]:
        """The indexer and the raw bulk loader on the same decisions, in pairs.

        ``capacity_repeats`` pairs, each an indexer drain (a new group into a new
        index) and a raw load run back to back, the order alternating so that
        neither side always gets the warmer OpenSearch. The raw loader's rate
        swung by a third between runs (10,620–14,573 docs/s), so one pair's share
        was as noisy as one scorer drain: the verdict takes the median share.
        """
        drains: list[dict[str, Any]] = []
        loads: list[dict[str, Any]] = []
        pairs = self.opts.capacity_repeats
        for i in range(pairs):
            of = f" (pair {i + 1} of {pairs})" if pairs > 1 else ""
            for part in ("indexer", "raw") if i % 2 == 0 else ("raw", "indexer"):
                if part == "raw":
                    self.say(f"capacity: raw bulk loader, the same documents{of}")
                    loads.append(await self.raw_bulk(names, n, f"r{i}"))
                    continue
                self.say(f"capacity: indexer indexing the same {n} decisions{of}")
                renamed = {} if i == 0 else {"group": names.group(f"indexer-r{i}"),
                                             "index": names.other_index(f"r{i}")}
                drains.append(await self.drain_indexer(names, n, f"cap-r{i}", **renamed))
        return indexer_pair_figures(drains, loads)

    async def drain_indexer(self, names: Names, n: int, tag: str, *, group: str | None = None,
                            index: str | None = None) -> dict[str, Any]:
        """Start an indexer on ``n`` decisions; time and CPU from ready to the n-th ack.

        ``group`` and ``index`` default to the phase's own (a repeat needs new ones).
        """
        indexer = self.start(Service(f"indexer-{tag}",
                                     indexer_env(names, self.opts, group=group, index=index),
                                     self.logs, module="indexer"))
        assert indexer.port is not None
        at_ready, t_ready = indexer.sample(), time.time()
        search_ready = self.opensearch_sample()
        deadline = t_ready + 600
        indexed = 0.0
        while time.time() < deadline:
            indexed = metric_value(indexer.port, "fraudstream_indexer_documents_indexed_total")
            if indexed >= n:
                break
            await asyncio.sleep(0.1)
        t_done = time.time()
        at_end = indexer.sample()
        search_cpu = self.opensearch_cpu_since(search_ready)
        indexer.stop()
        seconds = t_done - t_ready
        cpu = (at_end.cpu_seconds - at_ready.cpu_seconds) if at_end and at_ready else math.nan
        return {"indexed": int(indexed), "seconds": round(seconds, 2),
                "opensearch_cpu_per_1k_docs": json_number(
                    round(per_thousand(search_cpu, int(indexed)), 3)),
                "docs_per_s": round(rate(int(indexed), seconds), 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_per_1k_docs": json_number(round(per_thousand(cpu, int(indexed)), 3)),
                "peak_rss_mib": round(at_end.peak_rss_mib, 1) if at_end else None,
                "bulk_size": 500}

    async def alert_burst(self, names: Names, n: int) -> tuple[str, int]:
        """The first ``n`` decisions again on a topic of their own, as a fraud wave.

        One in :data:`ALERT_BURST_EVERY` is made a block (:func:`as_alert_burst`);
        keys, and so partitions, stay the decisions' own. Returns the topic and
        how many decisions it holds (fewer than ``n`` only if fewer could be read).
        """
        topic = f"{names.prefix}.alert-burst"
        await self.admin.create_topics([NewTopic(topic, self.opts.partitions, 1)])
        reader = create_reader(self.settings)
        await reader.start()
        keyed: list[tuple[bytes | None, bytes]] = []
        try:
            tps = [TopicPartition(names.decisions, p) for p in range(self.opts.partitions)]
            reader.assign(tps)
            ends = await reader.end_offsets(tps)
            deadline = time.monotonic() + 120
            while len(keyed) < n and time.monotonic() < deadline:
                positions = [await reader.position(tp) for tp in tps]
                if all(at >= ends[tp] for at, tp in zip(positions, tps, strict=True)):
                    break
                for records in (await reader.getmany(timeout_ms=500)).values():
                    keyed += [(r.key, r.value) for r in records if r.value is not None]
        finally:
            await reader.stop()
        chosen = keyed[:n]
        values = as_alert_burst([value for _, value in chosen], ALERT_BURST_EVERY)
        producer = create_producer(self.settings)
        await producer.start()
        try:
            for (key, _), value in zip(chosen, values, strict=True):
                await producer.send(topic, value, key=key)
            await producer.flush()
        finally:
            await producer.stop()
        return topic, len(chosen)

    async def drain_notifier(self, names: Names, topic: str, n: int,
                             concurrency: int) -> dict[str, Any]:
        """Start a notifier on ``topic``'s ``n`` decisions; time and CPU to its last alert.

        Done once it has read ``n`` decisions and settled an alert (sent,
        duplicate or failed) for every alerting one it read.
        """
        mail = self.mail()
        assert mail.port is not None
        tag = f"notifier-cap-c{concurrency}"
        env = {**notifier_env(names, self.opts, mail.port), "DECISIONS_TOPIC": topic,
               "KAFKA_CONSUMER_GROUP": names.group(tag),
               "NOTIFIER_SENT_TOPIC": f"{names.prefix}.{tag}.notified",
               "NOTIFIER_CONCURRENCY": str(concurrency)}
        notifier = self.start(Service(tag, env, self.logs, module="notifier"))
        assert notifier.port is not None
        at_ready, t_ready = notifier.sample(), time.time()
        mail_ready = mail.sample()
        deadline = t_ready + 600
        seen = settled = alerting = 0.0
        while time.time() < deadline:
            seen = metric_value(notifier.port, "fraudstream_notifier_decisions_total")
            alerting = metric_value(notifier.port, "fraudstream_notifier_decisions_total",
                                    outcome="block")
            settled = metric_value(notifier.port, "fraudstream_alerts_total")
            if seen >= n and settled >= alerting:
                break
            await asyncio.sleep(0.1)
        t_done = time.time()
        at_end, mail_end = notifier.sample(), mail.sample()
        sent = metric_value(notifier.port, "fraudstream_alerts_total", result="sent")
        notifier.stop()
        seconds = t_done - t_ready
        cpu = (at_end.cpu_seconds - at_ready.cpu_seconds) if at_end and at_ready else math.nan
        mail_cpu = (mail_end.cpu_seconds - mail_ready.cpu_seconds
                    if mail_end and mail_ready else math.nan)
        return {"concurrency": concurrency, "block_every": ALERT_BURST_EVERY,
                "decisions": int(seen), "alerts": int(sent),
                "seconds": round(seconds, 2),
                "decisions_per_s": round(rate(int(seen), seconds), 1),
                "alerts_per_s": round(rate(int(sent), seconds), 1),
                "cpu_seconds": round(cpu, 2),
                "cpu_per_1k_decisions": json_number(round(per_thousand(cpu, int(seen)), 3)),
                "mailcatcher_cpu_seconds": json_number(round(mail_cpu, 2)),
                "peak_rss_mib": round(at_end.peak_rss_mib, 1) if at_end else None}

    async def raw_bulk(self, names: Names, n: int, tag: str) -> dict[str, Any]:
        """The same decisions as documents, bulk-loaded straight into OpenSearch.

        ``tag`` names this load's files and indices (each load needs new ones).
        """
        out = self.work / f"bulkload-{tag}.json"
        search_before = self.opensearch_sample()
        loader = self.start(self.bench_process(f"bulkload-{tag}", "bench.bulkload", {
            "bootstrap": self.opts.bootstrap, "opensearch_url": self.opts.opensearch_url,
            "topic": names.decisions, "count": n, "index": names.other_index(f"raw-{tag}"),
            "batch": 500, "out": str(out)}), ready=False)
        await loader.exited()
        search_cpu = self.opensearch_cpu_since(search_before)
        if loader.exit_code() != 0:
            return {"error": loader.log_tail()}
        result: dict[str, Any] = read_json(out)
        # OpenSearch's CPU over the whole loader run (both in-flight settings): what
        # indexing itself costs the machine, whoever sends the documents.
        loaded = sum(int(run.get("documents", 0)) for run in result.get("runs", []))
        result["opensearch_cpu_per_1k_docs"] = json_number(
            round(per_thousand(search_cpu, loaded), 3))
        return result

    def opensearch_sample(self) -> ProcSample | None:
        """The OpenSearch server's CPU so far (None when its process is unknown)."""
        return sample(self.opensearch_pid) if self.opensearch_pid else None

    def opensearch_cpu_since(self, before: ProcSample | None) -> float:
        """OpenSearch CPU seconds since ``before`` (NaN when unknown)."""
        after = self.opensearch_sample()
        if before is None or after is None:
            return math.nan
        return after.cpu_seconds - before.cpu_seconds

    async def profiled(self, service: Service) -> dict[str, Any]:
        """Start ``service`` on a backlog and sample it with py-spy while it works."""
        out = self.work / f"{service.name}.pyspy.txt"
        self.start(service)
        loop = asyncio.get_running_loop()
        error = await loop.run_in_executor(
            None, lambda: profile.record_pid(service.pid, self.opts.profile_seconds, out))
        service.stop()
        method = "py-spy record --pid (attached)"
        if error is not None:
            # Attaching needs ptrace permission; py-spy may still trace its own child.
            self.say(f"py-spy could not attach ({error[:120]}); running the service as its child")
            child = Service(service.name + "-child", {}, self.logs,
                            argv=profile.child_argv(service.argv, out))
            child.env = {**service.env}
            child.port = service.port
            self.start(child)
            await asyncio.sleep(self.opts.profile_seconds)
            for pid in child_pids(child.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 15)
            await asyncio.sleep(2)
            child.stop()
            method = "py-spy record -- python -m … (service as py-spy's child)"
            if not out.exists():
                return {"error": error, "method": method}
        summary = profile.summarize(out.read_text(errors="replace"))
        return {"method": method, "seconds": self.opts.profile_seconds, "rate_hz": 100,
                **summary.as_dict()}

    async def micro_phase(self) -> None:
        """The scorer's parts in isolation (a separate process)."""
        self.say("micro: decode, features, model, rules, engine, encode")
        out = self.work / "micro.json"
        micro = self.start(self.bench_process("micro", "bench.micro", {
            "pool": str(self.pool_path), "events": 5000, "batch": 500, "out": str(out)}),
            ready=False)
        await micro.exited()
        if micro.exit_code() != 0:
            self.results["micro"] = {"error": micro.log_tail()}
            return
        self.results["micro"] = read_json(out)


class Monitor:
    """Samples processes, lag and the machine each second; cuts them at step boundaries."""

    def __init__(self, bench: Bench, schedule: Schedule, t0: float, procs: list[Watched],
                 groups: Sequence[tuple[str, str, str]], first_judged: int = 0) -> None:
        self.bench = bench
        self.first_judged = first_judged
        self.schedule = schedule
        self.t0 = t0
        self.procs = procs
        self.groups = groups
        self.step = -1
        self.machine: list[tuple[float, float]] = []
        # The machine when the generator stopped: the last step's busy cores are
        # measured to here, not over the drain that follows (mostly idle waiting
        # for the archiver's next flush).
        self.sending_ended: tuple[float, float] | None = None
        self.loads: list[float] = []
        self.lags: dict[str, list[tuple[float, int]]] = {name: [] for name, _, _ in groups}
        self.partitions: dict[str, list[int]] = {}

    def current_step(self) -> int:
        """The step the schedule is in now (-1 before the start)."""
        elapsed = time.time() - self.t0
        if elapsed < 0:
            return -1
        starts = self.schedule.step_starts
        k = 0
        while k + 1 < len(starts) and elapsed >= starts[k + 1]:
            k += 1
        return k

    def end_of_sending(self) -> None:
        """Snapshot the machine's CPU when the generator has sent its last event."""
        self.sending_ended = machine_cpu_seconds()

    def boundary(self, final: bool = False) -> None:
        """Snapshot CPU of every process and of the machine (a step starts or the run ends)."""
        for proc in self.procs:
            proc.boundaries.append(proc.take() or proc.last)
        self.machine.append(machine_cpu_seconds())
        if not final:
            self.loads.append(load_average()[0])

    async def sample(self) -> None:
        """One round of samples: memory of every process, lag of every group."""
        k = max(self.step, 0)
        for proc in self.procs:
            now = proc.take()
            if now is not None:
                proc.max_rss_by_step[k] = max(proc.max_rss_by_step.get(k, 0.0), now.rss_mib)
        for name, group, topic in self.groups:
            if topic not in self.partitions:
                self.partitions[topic] = await topic_partitions(self.bench.admin, topic)
            with contextlib.suppress(Exception):
                lag = await group_lag(self.bench.admin, self.bench.reader, group, topic,
                                      self.partitions[topic])
                self.lags[name].append((time.time(), lag))

    def lag_seconds_now(self) -> float:
        """The worst group's latest lag, in seconds of the current step's rate."""
        k = max(self.step, 0)
        worst = 0.0
        for name, samples in self.lags.items():
            if samples and name not in BUFFERING:
                worst = max(worst, samples[-1][1] / self.schedule.steps[k].rate)
        return worst

    async def until_generator_done(self, generator: Service) -> int | None:
        """Watch until the generator exits; the step that saturated the system, if any.

        Shortly before each step ends its lag is judged: above the saturation
        threshold, the generator is told to finish that step and stop (a
        higher offered load would only grow the backlog).
        """
        saturated: int | None = None
        judged = -1
        last = len(self.schedule.steps) - 1
        while generator.alive():
            k = self.current_step()
            # After a saturated step the generator only finishes that step: the
            # next one never starts, and the drain counts towards the last.
            while self.step < k and saturated is None:
                self.step += 1
                self.boundary()
                if self.step > 0:
                    self.bench.say(f"  step {self.step + 1}: "
                                   f"{self.schedule.steps[self.step].rate:g} tx/s")
            await self.sample()
            if saturated is None and self.first_judged <= self.step < last \
                    and self.step > judged:
                _, end = self.schedule.step_window(self.step)
                if time.time() >= self.t0 + end - JUDGE_BEFORE_END_S:
                    judged = self.step
                    if self.lag_seconds_now() > self.bench.opts.saturation_lag_s:
                        saturated = self.step
                        self.bench.say(f"  saturated at {self.schedule.steps[self.step].rate:g}"
                                       f" tx/s (lag {self.lag_seconds_now():.1f} s): this is "
                                       "the last step")
                        generator.signal(signal.SIGUSR1)
            await asyncio.sleep(MONITOR_EVERY_S)
        if generator.exit_code() != 0:
            raise ServiceError(f"the generator failed:\n{generator.log_tail()}")
        if saturated is None and self.step >= self.first_judged:
            await self.sample()
            if self.lag_seconds_now() > self.bench.opts.saturation_lag_s:
                saturated = self.step
        return saturated

    async def until_drained(self, measurer: Service, deadline: float,
                            buffering: Mapping[str, Service]) -> dict[str, int]:
        """Sample until the measurer has everything and every other group has caught up;
        then stop the ``buffering`` services (by name) and return the lag each left behind.

        A buffering service (the archiver) holds records until a file is worth
        writing, up to a minute: waiting for its lag to clear would idle every phase
        until its timer fires. A graceful stop writes what it holds and commits, the
        way a deployment's rolling restart does, and its CPU is counted to its exit.
        A lag left after that stop is records it had not read, or not written.
        """
        allowed = 2 * self.bench.opts.partitions
        while time.time() < deadline:
            await self.sample()
            caught_up = all(samples and samples[-1][1] <= allowed
                            for name, samples in self.lags.items() if name not in buffering)
            if not measurer.alive() and caught_up:
                break
            await asyncio.sleep(0.5)
        for name, service in buffering.items():
            cpu_seconds = await service.stop_counting_cpu()
            if cpu_seconds is not None:
                self.count_to_exit(name, cpu_seconds)
        if not buffering:
            return {}
        await self.sample()
        return {name: self.lags[name][-1][1] for name in buffering
                if self.lags.get(name) and self.lags[name][-1][1] > allowed}

    def count_to_exit(self, name: str, cpu_seconds: float) -> None:
        """Make ``cpu_seconds`` (its whole life's) the exited process ``name``'s last sample."""
        for proc in self.procs:
            if proc.name == name and proc.last is not None:
                proc.last = dataclasses.replace(proc.last, cpu_seconds=cpu_seconds)

    def step_figures(self, k: int, events: int) -> dict[str, Any]:
        """CPU per 1,000 events, peak memory and lag of step ``k`` (all ran steps)."""
        cpu: dict[str, Any] = {}
        rss: dict[str, Any] = {}
        for proc in self.procs:
            if k + 1 < len(proc.boundaries):
                a, b = proc.boundaries[k], proc.boundaries[k + 1]
                if a is not None and b is not None:
                    cpu[proc.name] = json_number(round(per_thousand(
                        b.cpu_seconds - a.cpu_seconds, events), 3))
            if k in proc.max_rss_by_step:
                rss[proc.name] = round(proc.max_rss_by_step[k], 1)
        start, end = self.schedule.step_window(k)
        lag: dict[str, Any] = {}
        for name, samples in self.lags.items():
            inside = [n for t, n in samples if self.t0 + start <= t < self.t0 + end + 1]
            if inside:
                worst = max(inside)
                lag[name] = {"max_messages": worst,
                             "max_seconds": round(worst / self.schedule.steps[k].rate, 3)}
        figures: dict[str, Any] = {"cpu_s_per_1k": cpu, "max_rss_mib": rss, "lag": lag}
        if k + 1 < len(self.machine):
            (busy0, total0), (busy1, total1) = self.machine[k], self.machine[k + 1]
            if k + 2 == len(self.machine) and self.sending_ended is not None:
                busy1, total1 = self.sending_ended
            cores = os.cpu_count() or 1
            figures["machine_busy_cores"] = round(
                (busy1 - busy0) / (total1 - total0) * cores, 2) if total1 > total0 else None
        if k < len(self.loads):
            figures["load_average_1m_at_start"] = round(self.loads[k], 2)
        return figures

    def peak_rss(self) -> dict[str, float]:
        """Peak resident memory (VmHWM) of each process, MiB."""
        return {p.name: round(p.last.peak_rss_mib, 1) for p in self.procs
                if p.last is not None}


# --------------------------------------------------------------------------- small helpers


def pid_of(service: Service) -> Callable[[], int | None]:
    """A function giving the service's pid while it runs (``None`` after it exited)."""
    return lambda: service.pid if service.alive() else None


def free_port_pair() -> tuple[int, int]:
    """Two free TCP ports."""
    from bench.services import free_port

    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


def wait_for_port(port: int, timeout: float = 30) -> None:
    """Block until something accepts connections on ``port``."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ServiceError(f"nothing listens on port {port} after {timeout:.0f}s")


async def wait_for_file(path: Path, process: Service, timeout: float = 60) -> None:
    """Wait until ``process`` has written ``path`` (its readiness signal)."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(path.exists):
        if not process.alive():
            raise ServiceError(f"{process.name} exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{process.name} not ready after {timeout:.0f}s")
        await asyncio.sleep(0.1)


def child_pids(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            children += [int(x) for x in (task / "children").read_text().split()]
    return children
