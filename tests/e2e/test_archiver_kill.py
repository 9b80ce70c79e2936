"""The archiver as a real process: kill -9 mid-file twice, still exactly N rows; the report agrees.

Decisions (built with the contract models) trickle onto a unique topic of the
shared Kafka for ~15 s while the archiver writes small files (a flush every 40
records per partition, or every second). It is killed with SIGKILL at a third
and at two thirds of the stream — with records buffered, files being written
or written but not yet committed — and restarted each time. Afterwards the
lake holds every event id exactly once, the files' offset ranges do not
overlap, and the report's queries — what ``make report`` runs — count exactly
the outcomes that were published.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from archiver.layout import parse_file_name
from archiver.report.__main__ import build
from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import log_events, make_decisions, produce_json
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

EVENTS = 600
PARTITIONS = 3
WAIT_S = 150.0

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def lake_files(lake: Path) -> list[Path]:
    return sorted((lake / "decisions").glob("dt=*/hour=*/*.parquet"))


def lake_ids(lake: Path) -> list[str]:
    """Every event id in the lake, duplicates kept (a file being renamed is skipped)."""
    ids: list[str] = []
    for path in lake_files(lake):
        try:
            ids += pq.read_table(path, columns=["event_id"]).column("event_id").to_pylist()
        except FileNotFoundError:
            continue
    return ids


async def test_kill_9_mid_file_twice_leaves_exactly_n_rows_and_the_report_agrees(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    run = unique_token()
    decisions = await topic_factory("archiver-kill-decisions", partitions=PARTITIONS)
    labels = await topic_factory("archiver-kill-labels", partitions=PARTITIONS)
    payloads = make_decisions(EVENTS, blocked_every=10, marker=run)
    lake = tmp_path / "lake"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "DECISIONS_TOPIC": decisions,
           "LABELS_TOPIC": labels, "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
           "KAFKA_CONSUMER_GROUP": f"archiver-{run}", "ARCHIVER_LAKE_DIR": str(lake),
           "ARCHIVER_MAX_ROWS": "40", "ARCHIVER_FLUSH_INTERVAL_S": "1"}
    archiver = ServiceProcess("archiver", env, tmp_path).start()
    archiver.wait_ready()
    publishing = asyncio.create_task(produce_json(
        kafka_bootstrap, decisions, payloads, pause_every=20, pause_s=0.3))
    try:
        for kill in (1, 2):
            # Kill at a third and at two thirds of the stream, while records keep coming.
            await poll_until(lambda k=kill: _more_rows(lake, k * EVENTS // 3),
                             f"{kill}/3 of the rows before kill {kill}", WAIT_S)
            archiver.kill()
            archiver = ServiceProcess("archiver", env, tmp_path).start()
            archiver.wait_ready()
        await asyncio.wait_for(publishing, WAIT_S)
        await poll_until(lambda: _more_rows(lake, EVENTS - 1), f"{EVENTS} rows", WAIT_S)
        # Let any replayed or straggling flush land before counting for good.
        await asyncio.sleep(3)
        ids = lake_ids(lake)
        status, _seconds = archiver.terminate()
    finally:
        archiver.kill()
        publishing.cancel()
    assert status == 0
    counts = Counter(ids)
    assert sum(counts.values()) == EVENTS, f"{sum(counts.values()) - EVENTS} extra rows"
    assert set(counts) == {p["event_id"] for p in payloads}
    assert max(counts.values()) == 1
    ranges = sorted({r for r in map(parse_file_name, (p.name for p in lake_files(lake)))
                     if r is not None})
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(ranges))
    # The restarts found where to resume (and what an interrupted flush left behind).
    assert len(log_events(archiver.log_path, "archiver.partition.resumed")) >= PARTITIONS

    # The report's numbers are the published decisions' numbers.
    results, files = build(lake)
    published = Counter(p["fd"]["outcome"] for p in payloads)
    assert dict(zip(results["outcome_counts"].column("outcome"),
                    results["outcome_counts"].column("decisions"), strict=True)) == published
    assert files == len(lake_files(lake))
    assert results["latency"].column("decisions") == [EVENTS]


async def _more_rows(lake: Path, at_least: int) -> bool:
    return len(lake_ids(lake)) >= at_least
