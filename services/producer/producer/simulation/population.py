"""A stable, seeded population of customers and merchants.

Everything Faker makes is made here, once: the simulator never calls Faker per
event, which keeps generation fast and the identity of each customer stable.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from faker import Faker

from producer.simulation.config import CATEGORIES, ONLINE_CATEGORIES, SimulationConfig
from producer.simulation.geo import STATES, utc_offset_seconds

CURRENCIES: tuple[str, ...] = ("usd", "gbp", "egp", "cad", "eur")
"""The original sample's currencies; customers pay mostly in ``usd``."""

FRAUDSTER_USER_AGENTS = 64
"""Size of the pool of user agents that account takeovers and card testers use."""


@dataclass(frozen=True, slots=True)
class Customer:
    """A card holder: fixed identity fields, a home and spending habits."""

    index: int
    entity_id: str
    card_bin: str
    customer_name: str
    billing_street: str
    billing_city: str
    billing_state: str
    billing_zip: str
    billing_latitude: float
    billing_longitude: float
    customer_job: str
    ip_address: str
    email_address: str
    phone: str
    user_agent: str
    currency: str
    mean_amount: float
    std_amount: float
    tx_per_day: float
    utc_offset_s: int
    merchants: tuple[int, ...]
    """Indices of the merchants this customer shops at."""

    @property
    def exp_neg_tx_per_day(self) -> float:
        """``e^-λ`` for drawing the daily transaction count (Poisson)."""
        return math.exp(-self.tx_per_day)


@dataclass(frozen=True, slots=True)
class Merchant:
    """A terminal or web shop: id, category and location."""

    index: int
    merchant_id: str
    category: str
    latitude: float
    longitude: float
    state: str

    @property
    def online(self) -> bool:
        """Card-not-present merchant."""
        return self.category in ONLINE_CATEGORIES


@dataclass(frozen=True)
class Population:
    """Customers, merchants and a pool of fraudster user agents, built from a seed."""

    customers: tuple[Customer, ...]
    merchants: tuple[Merchant, ...]
    online_merchants: tuple[int, ...]
    fraudster_user_agents: tuple[str, ...]

    @classmethod
    def build(cls, config: SimulationConfig, seed: int) -> Population:
        """The same ``config`` and ``seed`` always build the same population."""
        rng = random.Random(f"population-{seed}")
        fake = Faker("en_US")
        fake.seed_instance(seed)
        states = list(STATES)
        weights = [STATES[s][2] for s in states]

        merchants = _build_merchants(config, rng, states, weights)
        by_state: dict[str, list[int]] = {}
        for merchant in merchants:
            by_state.setdefault(merchant.state, []).append(merchant.index)
        online = tuple(m.index for m in merchants if m.online) or (0,)

        customers = []
        seen_ids: set[str] = set()
        for index in range(config.n_customers):
            customers.append(
                _build_customer(index, config, rng, fake, states, weights, by_state,
                                len(merchants), seen_ids)
            )
        user_agents = tuple(fake.user_agent() for _ in range(FRAUDSTER_USER_AGENTS))
        return cls(tuple(customers), tuple(merchants), online, user_agents)


def _build_merchants(
    config: SimulationConfig, rng: random.Random, states: list[str], weights: list[float]
) -> list[Merchant]:
    width = max(5, len(str(config.n_merchants - 1)))
    merchants = []
    for index in range(config.n_merchants):
        state = rng.choices(states, weights)[0]
        lat, lon, _ = STATES[state]
        merchants.append(Merchant(
            index=index,
            merchant_id=f"m-{index:0{width}d}",
            category=rng.choice(CATEGORIES),
            latitude=round(lat + rng.uniform(-0.8, 0.8), 4),
            longitude=round(lon + rng.uniform(-1.0, 1.0), 4),
            state=state,
        ))
    return merchants


def _build_customer(
    index: int,
    config: SimulationConfig,
    rng: random.Random,
    fake: Faker,
    states: list[str],
    weights: list[float],
    merchants_by_state: dict[str, list[int]],
    n_merchants: int,
    seen_ids: set[str],
) -> Customer:
    state = rng.choices(states, weights)[0]
    lat, lon, _ = STATES[state]
    home_lat = round(lat + rng.uniform(-0.8, 0.8), 4)
    home_lon = round(lon + rng.uniform(-1.0, 1.0), 4)
    entity_id = fake.ssn()
    while entity_id in seen_ids:  # entity_id is the customer's key: it must be unique
        entity_id = fake.ssn()
    seen_ids.add(entity_id)
    mean_amount = rng.uniform(*config.mean_amount_range)
    # Mostly local shops, a few far away or online ones.
    local = merchants_by_state.get(state, [])
    k_local = min(len(local), max(1, config.merchants_per_customer - 3))
    pool = rng.sample(local, k_local) if local else []
    while len(pool) < config.merchants_per_customer:
        pool.append(rng.randrange(n_merchants))
    return Customer(
        index=index,
        entity_id=entity_id,
        card_bin=str(rng.choice((4, 5))) + f"{rng.randrange(100000):05d}",
        customer_name=fake.first_name(),
        billing_street=fake.street_address(),
        billing_city=fake.city(),
        billing_state=state,
        billing_zip=fake.zipcode_in_state(state),
        billing_latitude=home_lat,
        billing_longitude=home_lon,
        customer_job=fake.job(),
        ip_address=fake.ipv4_public(),
        email_address=fake.free_email(),
        phone=fake.phone_number(),
        user_agent=fake.chrome(),
        currency="usd" if rng.random() < 0.9 else rng.choice(CURRENCIES),
        mean_amount=mean_amount,
        std_amount=mean_amount / 2,
        tx_per_day=rng.uniform(*config.tx_per_day_range),
        utc_offset_s=utc_offset_seconds(home_lon),
        merchants=tuple(pool),
    )
