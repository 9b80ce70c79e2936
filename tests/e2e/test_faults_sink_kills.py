"""kill -9 the indexer mid-bulk and the notifier mid-send: nothing lost, nothing indexed twice.

Decisions (built with the contract models) are published at a steady pace to a
unique decisions topic on the shared Kafka; each sink is killed with SIGKILL
twice at different points of the stream and restarted. Afterwards OpenSearch
holds exactly one document per event id, every blocked decision has its
e-mail, duplicate e-mails are at most the alerts in flight (``NOTIFIER_CONCURRENCY``)
per notifier kill, and every restart
logs where it resumed (the redelivery).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from opensearchpy import AsyncOpenSearch

from tests.conftest import TopicFactory, unique_token
from tests.e2e.faults import (
    NOTIFIER_CONCURRENCY,
    alert_event_ids,
    blocked_every,
    doc_count,
    fault_events,
    indexed_ids,
    log_events,
    mails,
    make_decisions,
    produce_json,
    run_timeout,
    scaled_timeout,
    sink_environments,
    start_mailcatcher,
)
from tests.e2e.processes import ServiceProcess
from tests.support.polling import poll_until

EVENTS = fault_events(3000)
PARTITIONS = 3
WAIT_S = scaled_timeout(EVENTS)
# The decisions trickle in over ~20 s (3,000) to ~70 s (100,000): kills land mid-flow.
PUBLISH_S = 20 + EVENTS / 2000

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(run_timeout(WAIT_S, WAIT_S, WAIT_S))]


async def test_kill_9_indexer_and_notifier_twice_loses_and_duplicates_nothing(
    kafka_bootstrap: str, opensearch_url: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    run = unique_token()
    decisions = await topic_factory("faults-kill-decisions", partitions=PARTITIONS)
    index = f"faults-kill-{run}"
    payloads = make_decisions(EVENTS, blocked_every=blocked_every(EVENTS), marker=run)
    blocked = {p["event_id"] for p in payloads if p["fd"]["outcome"] == "block"}
    catcher, smtp_port, mail_url = start_mailcatcher(tmp_path / "mail")
    indexer_env, notifier_env = sink_environments(
        bootstrap=kafka_bootstrap, opensearch_url=opensearch_url, decisions=decisions,
        partitions=PARTITIONS, run=run, index=index,
        sent_topic=f"faults-kill-notified-{run}", smtp_port=smtp_port)
    client = AsyncOpenSearch(hosts=[opensearch_url])
    indexers = [ServiceProcess("indexer", indexer_env, tmp_path).start()]
    notifiers = [ServiceProcess("notifier", notifier_env, tmp_path).start()]
    try:
        indexers[0].wait_ready()
        notifiers[0].wait_ready()
        # Paced traffic, so that the kills land while work is flowing.
        producing = asyncio.create_task(produce_json(kafka_bootstrap, decisions, payloads,
                                                     pause_every=100,
                                                     pause_s=PUBLISH_S * 100 / EVENTS))

        async def at_least(n: int, count: Callable[[], Awaitable[int]]) -> bool:
            return await count() >= n

        async def docs() -> int:
            return await doc_count(client, index)

        async def sent() -> int:
            return len(await asyncio.to_thread(mails, mail_url))

        # Indexer: killed after ~20 % and ~55 % of the documents; notifier after
        # ~20 % and ~55 % of the alerts; each restarted at once.
        for fraction in (0.2, 0.55):
            await poll_until(lambda f=fraction: at_least(int(EVENTS * f), docs),
                             f"{fraction:.0%} of the documents", WAIT_S)
            indexers[-1].kill()
            indexers.append(ServiceProcess("indexer", indexer_env, tmp_path).start())
            await poll_until(lambda f=fraction: at_least(int(len(blocked) * f), sent),
                             f"{fraction:.0%} of the alerts", WAIT_S)
            notifiers[-1].kill()
            notifiers.append(ServiceProcess("notifier", notifier_env, tmp_path).start())
        await producing

        await poll_until(lambda: at_least(EVENTS, docs), f"{EVENTS} documents", WAIT_S)

        async def all_alerts() -> bool:
            return blocked <= set(alert_event_ids(await asyncio.to_thread(mails, mail_url)))
        await poll_until(all_alerts, f"{len(blocked)} alerts", WAIT_S)
        await asyncio.sleep(2)  # would a late duplicate arrive?

        ids = await indexed_ids(client, index)
        alerts = alert_event_ids(await asyncio.to_thread(mails, mail_url))
    finally:
        for service in [*indexers, *notifiers]:
            if service.proc is not None and service.proc.poll() is None:
                code, _ = service.terminate()
                assert code == 0, service.log_tail()
        await client.close()
        catcher.terminate()
        catcher.wait(timeout=10)

    assert len(ids) == EVENTS, "exactly N documents"
    assert set(ids) == {p["event_id"] for p in payloads}, "document ids are the event ids"
    counts = Counter(alerts)
    assert set(counts) == blocked, "an alert for every blocked decision, and only those"
    duplicates = sum(c - 1 for c in counts.values())
    kills = len(notifiers) - 1
    assert duplicates <= kills * NOTIFIER_CONCURRENCY, \
        f"{duplicates} duplicate alerts for {kills} kills of {NOTIFIER_CONCURRENCY} in flight"

    # Every restart logs where it picked up again.
    for restarted in indexers[1:]:
        resumed = log_events(restarted.log_path, "indexer.partitions.resumed")
        assert resumed, restarted.log_tail()
        assert any(offset for entry in resumed for offset in entry["committed"].values()), \
            "a restart resumes from committed offsets, not from the start"
    for restarted in notifiers[1:]:
        restored = log_events(restarted.log_path, "notifier.sent.restored")
        assert restored, restarted.log_tail()
        assert sum(entry["event_ids"] for entry in restored) > 0, "the sent history is reloaded"
    skipped = sum(len(log_events(n.log_path, "notifier.alert.duplicate_skipped"))
                  for n in notifiers)
    replaced = sum(entry["replaced"] for i in indexers
                   for entry in log_events(i.log_path, "indexer.bulk.indexed"))
    # Reported for the record: redelivered alerts skipped, redelivered documents overwritten.
    print(f"kills: indexer 2, notifier {kills}; duplicate alerts {duplicates}, "
          f"skipped redeliveries {skipped}, replaced documents {replaced}")
