"""Bad input, property-based: every junk value is decided or dead-lettered with a reason.

The same generator feeds (1) a hypothesis test of the real contract codec and
(2) a fixed, seeded sample of ~100 values sent through a running scorer on
unique topics: the scorer must not crash and in = decided + dead-lettered.
"""

from __future__ import annotations

import json
import math
import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import given, settings
from hypothesis import strategies as st

from fraudstream_shared.events import DeadLetter, Transaction, decode
from fraudstream_shared.events.topics import dead_letter_topic
from fraudstream_shared.exceptions import PoisonMessageError
from tests.conftest import TopicFactory, unique_token
from tests.e2e.processes import ServiceProcess
from tests.support.factories import original_sample_transaction

REASONS = {"empty_value", "oversized", "invalid_utf8", "invalid_json", "not_an_object",
           "schema_violation"}
FIELDS = list(original_sample_transaction())
WEIRD: list[Any] = [None, True, -1, 0, 10**30, -(10**30), 1e308, -0.0, math.nan, math.inf,
                    -math.inf, "", "x" * 300, [], {}, [1, "a"], {"a": {"b": None}}, "ü\u0000"]


def junk_value(rng: random.Random) -> bytes:
    """One junk (or borderline valid) message value."""
    kind = rng.randrange(8)
    base = original_sample_transaction(event_id=str(uuid.UUID(int=rng.getrandbits(128))))
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 200))
    if kind == 1:  # every field given a random type
        return json.dumps({f: rng.choice(WEIRD) for f in FIELDS}).encode()
    if kind == 2:  # one field of the wrong type or value
        base[rng.choice(FIELDS)] = rng.choice(WEIRD)
    elif kind == 3:  # amounts
        base["transaction_amt"] = rng.choice([math.nan, math.inf, -math.inf, -5, -0.01, 10**20,
                                              1e308, 0, 1e-9])
    elif kind == 4:  # timestamps far away
        base["event_time"] = rng.choice(["0001-01-01T00:00:00", "9999-12-31T23:59:59.999999",
                                         "1970-01-01T00:00:00Z", "2999-01-01T00:00:00+14:00",
                                         "not a date", "2024-02-30T00:00:00"])
    elif kind == 5:  # extra fields
        for i in range(rng.randrange(1, 5)):
            base[f"extra_{i}"] = rng.choice(WEIRD)
    elif kind == 6:  # a missing field
        del base[rng.choice(FIELDS)]
    else:  # valid (also produces duplicates of event ids with the seeded sample)
        pass
    return json.dumps(base, allow_nan=True).encode()


@pytest.mark.timeout(120)
@settings(max_examples=200, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_codec_decodes_or_rejects_every_junk_value_with_a_reason(rng: random.Random) -> None:
    value = junk_value(rng)
    reason: str | None = None
    try:
        tx = decode(Transaction, value)
    except PoisonMessageError as error:
        reason = error.reason
    if reason is not None:
        assert reason in REASONS
        return
    assert math.isfinite(tx.transaction_amt)
    assert tx.transaction_amt >= 0


def test_a_5_mb_value_is_rejected_as_oversized() -> None:
    with pytest.raises(PoisonMessageError) as info:
        decode(Transaction, b'{"event_id": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    assert info.value.reason == "oversized"


@pytest.mark.e2e
async def test_a_scorer_decides_or_dead_letters_every_junk_value(
    kafka_bootstrap: str, topic_factory: TopicFactory, tmp_path: Path,
) -> None:
    rng = random.Random(20240501)
    values = [junk_value(rng) for _ in range(97)]
    valid = json.dumps(original_sample_transaction(event_id=str(uuid.uuid4()))).encode()
    values += [valid, valid]  # a duplicate event id
    values.append(b'{"event_id": "big", "pad": "' + b"x" * (5 * 1024 * 1024) + b'"}')
    run = unique_token()
    # The scorer creates its input topic itself, with room for 5 MB values.
    source = f"faults-junk-tx-{run}"
    decisions = await topic_factory("faults-junk-decisions", partitions=3)
    scorer = ServiceProcess("scorer", {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "TRANSACTIONS_TOPIC": source,
        "DECISIONS_TOPIC": decisions, "LABELS_TOPIC": f"faults-junk-labels-{run}",
        "KAFKA_CONSUMER_GROUP": f"scorer-junk-{run}", "KAFKA_TOPIC_PARTITIONS": "3",
    }, tmp_path).start()
    try:
        scorer.wait_ready()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all",
                                    max_request_size=8 * 1024 * 1024)
        await producer.start()
        try:
            for i, value in enumerate(values):
                await producer.send_and_wait(source, value, key=str(i % 7).encode())
        finally:
            await producer.stop()
        decided = await _read_until_total(kafka_bootstrap, decisions, dead_letter_topic(source),
                                          len(values))
        assert scorer.proc is not None
        assert scorer.proc.poll() is None, "the scorer did not crash: " + scorer.log_tail()
    finally:
        if scorer.proc is not None and scorer.proc.poll() is None:
            code, _ = scorer.terminate()
            assert code == 0, scorer.log_tail()
    out, letters = decided
    assert len(values) == len(out) + len(letters), "in = decided + dead-lettered, exactly"
    assert all(letter.reason in REASONS for letter in letters)
    assert any(letter.reason == "oversized" for letter in letters)
    assert all(letter.error for letter in letters)


async def _read_until_total(bootstrap: str, decisions: str, dlq: str, total: int
                            ) -> tuple[list[bytes], list[DeadLetter]]:
    """Read both outputs until they hold ``total`` records together (then a grace read)."""
    from tests.e2e.test_pipeline import TopicReader
    from tests.support.polling import poll_until

    async with TopicReader(bootstrap, decisions) as out, TopicReader(bootstrap, dlq) as dead:
        async def enough() -> bool:
            return len(await out.read()) + len(await dead.read()) >= total
        await poll_until(enough, f"{total} decided or dead-lettered", 120)
        await out.read()
        await dead.read()
        return out.values, [DeadLetter.model_validate_json(v) for v in dead.values]
