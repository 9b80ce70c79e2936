"""Every service, started as a real process, serves health, readiness and metrics,
and exits cleanly within 30 s of SIGTERM."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import OPENSEARCH_URL, unique_token
from tests.e2e.faults import log_events
from tests.e2e.processes import ServiceProcess

pytestmark = pytest.mark.e2e

SERVICES = ["producer", "scorer", "notifier", "indexer", "archiver", "compliance"]
OFF_THE_DECISION_PATH = {"notifier", "indexer", "archiver"}
"""Services started here at niceness 10 (``CPU_NICE``), as a shared host may run them."""


def thread_niceness(pid: int) -> set[int]:
    """The niceness of every thread of process ``pid`` (field 19 of its ``stat``)."""
    found = set()
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as stat:
            # The command name (field 2) may hold spaces: count from after it.
            found.add(int(stat.read().rsplit(")", 1)[1].split()[16]))
    return found


@pytest.fixture
def service_factory(
    kafka_bootstrap: str, mailcatcher: tuple[int, str], tmp_path: Path
) -> Iterator[type[ServiceProcess]]:
    started: list[ServiceProcess] = []

    def make(name: str, **env: str) -> ServiceProcess:
        proc = ServiceProcess(
            name,
            {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "OPENSEARCH_URL": OPENSEARCH_URL,
             "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(mailcatcher[0]),
             "ARCHIVER_LAKE_DIR": str(tmp_path / "lake"),
             "COMPLIANCE_LOCAL_ROOT": str(tmp_path / "documents"), **env},
            tmp_path,
        )
        started.append(proc)
        return proc.start()

    yield make  # type: ignore[misc]
    for proc in started:
        proc.kill()


@pytest.mark.parametrize("name", SERVICES)
def test_health_readiness_metrics_and_sigterm(name: str, service_factory) -> None:  # type: ignore[no-untyped-def]
    service = service_factory(name, **({"CPU_NICE": "10"} if name in OFF_THE_DECISION_PATH
                                        else {}))
    service.wait_ready()

    health = service.get("/healthz")
    assert health.status_code == 200
    assert health.json()["service"] == name

    ready = service.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["checks"]["kafka"] == "ok"

    metrics = service.get("/metrics/").text
    assert f'fraudstream_ready{{service="{name}"}} 1.0' in metrics

    # Every thread runs at the service's niceness (they inherit it from the
    # main thread, which sets it before starting any).
    own = os.getpriority(os.PRIO_PROCESS, 0)
    expected = max(own, 10) if name in OFF_THE_DECISION_PATH else own
    assert service.proc is not None
    assert thread_niceness(service.proc.pid) == {expected}

    code, seconds = service.terminate(timeout=30)
    assert code == 0, service.log_tail()
    assert seconds < 30
    assert f'"{name}.stopped"' in service.log_tail(200)


def test_an_idle_scorer_is_ready_only_with_every_partitions_state_restored(
        service_factory) -> None:  # type: ignore[no-untyped-def]
    """No transaction is sent: the restore must not wait for a first batch."""
    suffix = unique_token()  # in every name, so the session's clean-up finds them
    scorer = service_factory(
        "scorer", TRANSACTIONS_TOPIC=f"idle-tx-{suffix}", DECISIONS_TOPIC=f"idle-dec-{suffix}",
        LABELS_TOPIC=f"idle-labels-{suffix}", KAFKA_CONSUMER_GROUP=f"idle-scorer-{suffix}")
    scorer.wait_ready()

    ready = scorer.get("/readyz").json()
    assert ready["checks"]["state"] == "ok"
    assigned = {int(tp.rsplit(":", 1)[1])
                for event in log_events(scorer.log_path, "scorer.partitions.assigned")
                for tp in event["partitions"]}
    restored = {event["partition"]
                for event in log_events(scorer.log_path, "scorer.state.restored")}
    assert assigned, scorer.log_tail()
    assert restored == assigned
    code, _ = scorer.terminate(timeout=30)
    assert code == 0, scorer.log_tail()
