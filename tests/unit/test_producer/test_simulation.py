"""The simulator: deterministic, contract-valid, consistent identities, labelled scenarios."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fraudstream_shared.events import Transaction
from producer.simulation import Population, Scenario, SimLabel, SimulationConfig, Simulator
from producer.simulation.geo import haversine_km

START = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
SAMPLE_SIZE = 50_000
SMALL = SimulationConfig(n_customers=200, n_merchants=400)

CONTRACT_FIELDS = {
    "transaction_amt", "transaction_currency", "event_id", "event_time", "user_agent",
    "product_category", "entity_id", "card_bin", "customer_name", "billing_street",
    "billing_city", "billing_state", "billing_zip", "billing_latitude", "billing_longitude",
    "customer_job", "ip_address", "email_address", "phone", "merchant_id", "schema_version",
}
BILLING = ("billing_street", "billing_city", "billing_state", "billing_zip",
           "billing_latitude", "billing_longitude")
IDENTITY = ("card_bin", "customer_name", "customer_job", "email_address", "phone")

Sample = list[tuple[dict[str, Any], SimLabel]]


@pytest.fixture(scope="module")
def simulator() -> Simulator:
    """The default population (5000 customers, 10000 merchants)."""
    return Simulator(SimulationConfig(), seed=7)


@pytest.fixture(scope="module")
def sample(simulator: Simulator) -> Sample:
    return list(simulator.events(START, count=SAMPLE_SIZE))


def test_same_seed_same_population_and_events() -> None:
    first = Simulator(SMALL, seed=3)
    second = Simulator(SMALL, seed=3)
    assert first.population == second.population
    assert list(first.events(START, count=3000)) == list(second.events(START, count=3000))


def test_other_seeds_give_other_events() -> None:
    simulator = Simulator(SMALL, seed=3)
    base = [e["event_id"] for e, _ in simulator.events(START, count=100)]
    other_stream = [e["event_id"] for e, _ in simulator.events(START, count=100, stream_seed=9)]
    other_population = Simulator(SMALL, seed=4).population
    assert set(base).isdisjoint(other_stream)
    assert other_population.customers[0].entity_id != simulator.population.customers[0].entity_id


def test_a_prefix_is_the_same_whatever_the_count() -> None:
    simulator = Simulator(SMALL, seed=3)
    assert list(simulator.events(START, count=50)) == list(simulator.events(START, count=500))[:50]


def test_every_event_follows_the_contract(sample: Sample) -> None:
    assert len(sample) == SAMPLE_SIZE
    for event, _ in sample:
        assert set(event) == CONTRACT_FIELDS
        assert event["event_time"].endswith("+00:00")
        Transaction.model_validate(event)
    assert len({event["event_id"] for event, _ in sample}) == SAMPLE_SIZE


def test_events_come_in_event_time_order_from_start(sample: Sample) -> None:
    times = [datetime.fromisoformat(event["event_time"]) for event, _ in sample]
    assert times == sorted(times)
    assert times[0] >= START


def test_until_bounds_the_stream() -> None:
    until = START + timedelta(days=1)
    events = list(Simulator(SMALL, seed=3).events(START, until=until))
    assert events
    assert all(START <= datetime.fromisoformat(e["event_time"]) < until for e, _ in events)


def test_identity_fields_are_consistent_per_customer(sample: Sample, simulator: Simulator) -> None:
    ids = {c.entity_id for c in simulator.population.customers}
    assert len(ids) == len(simulator.population.customers)
    seen: dict[str, dict[str, Any]] = {}
    for event, label in sample:
        assert event["entity_id"] in ids
        keys: tuple[str, ...] = IDENTITY
        if label.scenario is None:
            keys = IDENTITY + BILLING + ("ip_address", "user_agent")
        first = seen.setdefault(event["entity_id"], {})
        for key in keys:
            assert first.setdefault(key, event[key]) == event[key], key
    for event, _ in sample[:100]:
        assert len(event["card_bin"]) == 6
        assert event["card_bin"].isdigit()
        ssn = event["entity_id"].split("-")
        assert [len(part) for part in ssn] == [3, 2, 4]


def test_merchant_ids_and_categories(sample: Sample) -> None:
    merchants = {event["merchant_id"] for event, _ in sample}
    assert all(m.startswith("m-") and len(m) == 7 for m in merchants)
    assert len({event["product_category"] for event, _ in sample}) == 14


def test_fraud_rates_are_about_the_configured_ones(sample: Sample) -> None:
    scenarios = Counter(label.scenario for _, label in sample)
    share = {s: scenarios[s] / SAMPLE_SIZE for s in Scenario}
    fraud = sum(1 for _, label in sample if label.is_fraud) / SAMPLE_SIZE
    assert 0.006 < fraud < 0.016
    assert all(scenarios[s] > 0 for s in Scenario), scenarios
    assert 0.0004 < share[Scenario.LARGE_AMOUNT] < 0.002
    assert 0.0001 < share[Scenario.ACCOUNT_TAKEOVER] < 0.001
    assert 0.002 < share[Scenario.COMPROMISED_MERCHANT] < 0.009
    assert 0.001 < share[Scenario.COMPROMISED_CUSTOMER] < 0.006
    assert all(label.label == ("fraud" if label.is_fraud else "legit") for _, label in sample)


def test_large_amounts_are_always_fraud(sample: Sample) -> None:
    threshold = SimulationConfig().large_amount_threshold
    for event, label in sample:
        if event["transaction_amt"] > threshold:
            assert label.is_fraud
        if label.scenario is Scenario.LARGE_AMOUNT:
            assert event["transaction_amt"] > threshold


def test_compromises_hit_few_merchants_and_customers(sample: Sample) -> None:
    days = 1 + (datetime.fromisoformat(sample[-1][0]["event_time"]) - START).days
    merchants = {e["merchant_id"] for e, lab in sample
                 if lab.scenario is Scenario.COMPROMISED_MERCHANT}
    customers = {e["entity_id"] for e, lab in sample
                 if lab.scenario is Scenario.COMPROMISED_CUSTOMER}
    assert 0 < len(merchants) <= 2 * (28 + days)
    assert 0 < len(customers) <= 3 * (14 + days)


def test_account_takeover_bills_far_from_home_with_new_device(
    sample: Sample, simulator: Simulator
) -> None:
    homes = {c.entity_id: c for c in simulator.population.customers}
    takeovers = [e for e, lab in sample if lab.scenario is Scenario.ACCOUNT_TAKEOVER]
    assert takeovers
    for event in takeovers:
        home = homes[event["entity_id"]]
        assert event["ip_address"] != home.ip_address
        assert event["user_agent"] != home.user_agent
        km = haversine_km(home.billing_latitude, home.billing_longitude,
                          event["billing_latitude"], event["billing_longitude"])
        assert km >= 1000


def test_card_testing_comes_in_bursts_of_small_amounts(sample: Sample) -> None:
    bursts: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for event, label in sample:
        if label.scenario is Scenario.CARD_TESTING:
            assert event["transaction_amt"] < 5
            bursts[event["entity_id"], event["ip_address"]].append(
                datetime.fromisoformat(event["event_time"]))
    assert bursts
    complete = list(bursts.values())[:-1]  # the last one may be cut by the sample's end
    for times in complete:
        assert 5 <= len(times) <= 20
        assert times[-1] - times[0] <= timedelta(minutes=10)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="large_amount_rate"):
        SimulationConfig(large_amount_rate=2)
    with pytest.raises(ValueError, match="at least 2"):
        SimulationConfig(n_customers=1)


def test_population_is_reusable() -> None:
    population = Population.build(SMALL, seed=5)
    simulator = Simulator(SMALL, seed=5, population=population)
    assert simulator.population is population
    assert len(population.customers) == 200
    assert len(population.merchants) == 400
