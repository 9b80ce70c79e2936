"""Rule sets reload live in a running scorer; an invalid one is rejected and the old stays."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from fraudstream_shared.events import ProcessedTransaction
from tests.conftest import TopicFactory, unique_name, unique_token
from tests.e2e.processes import REPO, ServiceProcess
from tests.support.factories import original_sample_transaction
from tests.support.polling import poll_until

pytestmark = pytest.mark.e2e

DEFAULT_RULES = REPO / "services/scorer/scorer/data/rules/default.yaml"

BLOCK_EVERYTHING = """\
version: "e2e-block-all"
mode: ALL_MATCHED
rules:
  - id: block_everything
    expression: transaction_amt >= 0
    outcome: block
    reason: "test rule: amount {transaction_amt} is not negative"
"""

BROKEN = """\
version: "e2e-broken"
mode: ALL_MATCHED
rules:
  - id: broken_rule
    expression: transaction_amt >= (1 +
    outcome: block
    reason: "never loads"
"""


def replace_atomically(path: Path, text: str) -> None:
    """Write a sibling file, then rename it over ``path`` (what operators should do)."""
    staging = path.with_suffix(".tmp")
    staging.write_text(text)
    os.replace(staging, path)


async def test_rules_reload_without_restart_and_bad_rules_are_rejected(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    source = await topic_factory("reload-tx", partitions=1)
    decisions = await topic_factory("reload-decisions", partitions=1)
    rules = tmp_path / "rules.yaml"
    rules.write_text(DEFAULT_RULES.read_text())
    run = unique_token()
    scorer = ServiceProcess("scorer", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"reload-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-reload-{run}", "KAFKA_TOPIC_PARTITIONS": "1",
        "SCORER_RULES_PATH": str(rules), "SCORER_RULES_RELOAD_S": "0.2",
    }, tmp_path).start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    reader = AIOKafkaConsumer(decisions, bootstrap_servers=kafka_bootstrap,
                              group_id=unique_name("reload-reader"),
                              auto_offset_reset="earliest", isolation_level="read_committed")
    await producer.start()
    await reader.start()
    seen: list[ProcessedTransaction] = []

    async def decide_one() -> ProcessedTransaction:
        event = original_sample_transaction(event_id=str(uuid.uuid4()), transaction_amt=12)
        await producer.send_and_wait(source, json.dumps(event).encode())

        async def arrived() -> ProcessedTransaction | None:
            for batch in (await reader.getmany(timeout_ms=300)).values():
                seen.extend(ProcessedTransaction.model_validate_json(r.value) for r in batch)
            return next((d for d in seen if d.event_id == event["event_id"]), None)
        found: ProcessedTransaction = await poll_until(arrived, "a decision", 60)
        return found

    try:
        scorer.wait_ready()
        first = await decide_one()
        assert first.fd.detector_version.startswith("2026-11-25")
        assert "block_high_score" in first.fd.rule_results  # the default set is in force

        replace_atomically(rules, BLOCK_EVERYTHING)

        async def reloaded() -> ProcessedTransaction | None:
            decision = await decide_one()
            return decision if decision.fd.detector_version == "e2e-block-all" else None
        after = await poll_until(reloaded, "decisions under the new rule set", 60, interval=0.5)
        assert after.fd.outcome == "block"
        assert after.fd.rule_results == {"block_everything": ["block"]}
        assert after.fd.reasons[0] == "block_everything: test rule: amount 12 is not negative"

        replace_atomically(rules, BROKEN)
        # Decide past several reload checks (one every 0.2 s at most): the old set rules.
        for _ in range(4):
            await asyncio.sleep(0.3)
            still = await decide_one()
        assert still.fd.detector_version == "e2e-block-all"
        assert still.fd.outcome == "block"
        log = scorer.log_tail(400)
        assert '"scorer.rules.rejected"' in log
        assert "broken_rule" in log
        assert scorer.get("/healthz").status_code == 200
    finally:
        await reader.stop()
        await producer.stop()
        code, _ = scorer.terminate()
        assert code == 0, scorer.log_tail()
