"""The Handbook simulator: its published scenarios, determinism, and the contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fraudstream_shared.events import Transaction
from producer.simulate import main as simulate_main
from producer.simulation.handbook import (
    COMPROMISED_CUSTOMER,
    COMPROMISED_TERMINAL,
    DAY_S,
    LARGE_AMOUNT,
    HandbookConfig,
    HandbookData,
    simulate,
    terminals_in_reach,
)

SMALL = HandbookConfig(n_customers=400, n_terminals=800, days=60)


@pytest.fixture(scope="module")
def data() -> HandbookData:
    return simulate(SMALL, seed=11)


def test_same_seed_same_data_other_seed_other_data(data: HandbookData) -> None:
    again = simulate(SMALL, seed=11)
    np.testing.assert_array_equal(data.time, again.time)
    np.testing.assert_array_equal(data.amount, again.amount)
    np.testing.assert_array_equal(data.scenario, again.scenario)
    assert not np.array_equal(simulate(SMALL, seed=12).amount[:100], data.amount[:100])


def test_volume_and_time_order(data: HandbookData) -> None:
    # 400 customers × U(0, 4) a day ≈ 800 a day, minus draws outside the day.
    assert 600 * 60 < len(data) < 900 * 60
    assert np.all(np.diff(data.time) >= 0)
    start = SMALL.start.timestamp()
    assert data.time.min() >= start
    assert data.time.max() < start + SMALL.days * DAY_S


def test_terminals_are_within_the_radius() -> None:
    rng = np.random.default_rng(0)
    customers, terminals = rng.uniform(0, 100, (50, 2)), rng.uniform(0, 100, (500, 2))
    offsets, reach = terminals_in_reach(customers, terminals, 5.0)
    for c in range(50):
        used = reach[offsets[c]:offsets[c + 1]]
        distance = np.hypot(*(terminals - customers[c]).T)
        assert set(used.tolist()) == set(np.nonzero(distance < 5.0)[0].tolist())


def test_scenario_1_is_every_amount_above_220(data: HandbookData) -> None:
    large = data.scenario == LARGE_AMOUNT
    assert np.all(data.amount[large] > 220)
    assert np.all(data.fraud[data.amount > 220])


def test_scenario_2_compromised_terminals_lose_every_transaction(data: HandbookData) -> None:
    day = ((data.time - SMALL.start.timestamp()) // DAY_S).astype(int)
    bad = data.scenario == COMPROMISED_TERMINAL
    # ~2 new terminals a day for 28 days: about 56 compromised of 800 (7 %) in steady state.
    share = bad[day >= 28].mean()
    assert 0.03 < share < 0.12
    # On a day a terminal is compromised, every one of its transactions is fraud.
    for terminal, bad_day in set(zip(data.terminal[bad].tolist(), day[bad].tolist(),
                                     strict=True)):
        assert data.fraud[(data.terminal == terminal) & (day == bad_day)].all()


def test_scenario_3_a_third_of_a_compromised_customers_spending_times_5(
        data: HandbookData) -> None:
    stolen = data.scenario == COMPROMISED_CUSTOMER
    assert stolen.any()
    day = ((data.time - SMALL.start.timestamp()) // DAY_S).astype(int)
    shares = []
    for customer in np.unique(data.customer[stolen])[:40]:
        mine = data.customer == customer
        first = day[mine & stolen].min()
        window = mine & (day >= first) & (day < first + 14)
        shares.append(stolen[window].sum() / window.sum())
    assert 0.2 < float(np.mean(shares)) < 0.5
    assert data.amount[stolen].mean() > 3 * data.amount[data.scenario == 0].mean()


def test_overall_fraud_rate_is_near_the_handbooks(data: HandbookData) -> None:
    # The Handbook reports about 0.8 %; a small grid has more terminal fraud per customer.
    assert 0.003 < data.fraud.mean() < 0.1


def test_cli_writes_contract_events_and_delayed_labels(tmp_path: Path) -> None:
    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.csv"
    assert simulate_main(["--preset", "handbook", "--days", "3", "--customers", "30",
                          "--terminals", "60", "--out", str(events), "--labels",
                          str(labels), "--seed", "1"]) == 0
    lines = events.read_text().splitlines()
    first = Transaction.model_validate_json(lines[0])
    assert first.entity_id.startswith("c-")
    assert first.merchant_id is not None
    assert first.merchant_id.startswith("t-")
    header, row = labels.read_text().splitlines()[:2]
    assert header == "event_id,label,labelled_at,scenario"
    event_id, label, labelled_at, _ = row.split(",")
    assert event_id == first.event_id
    assert label in ("fraud", "legit")
    delay = Transaction.model_validate({**first.model_dump(), "event_time": labelled_at})
    assert (delay.event_time - first.event_time).days == 7
