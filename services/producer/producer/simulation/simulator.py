"""The seeded, deterministic transaction simulator (pure: no I/O, no clock).

Time advances day by day. At the start of each day some merchants and
customers become compromised; every customer makes a Poisson number of
transactions at times spread around their local noon; card-testing bursts are
added; the day's schedule is sorted and each entry is turned into a
``transactions``-contract dict together with its label. Events therefore come
out in event-time order, and the same seed always gives the same events.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

from fraudstream_shared.events import SCHEMA_VERSION
from producer.simulation.config import Scenario, SimulationConfig
from producer.simulation.geo import haversine_km
from producer.simulation.population import CURRENCIES, Customer, Population

DAY_S = 86_400
NOON_S = 43_200
TIME_OF_DAY_STD_S = 20_000.0
"""Spread of a customer's transaction times around local noon (the handbook's value)."""

CARD_TESTING_MIN_AMOUNT = 0.5
ORDINARY = -1
"""Burst number of a schedule entry that is an ordinary (non card-testing) transaction."""


class SimLabel(NamedTuple):
    """The ground truth of one simulated transaction."""

    is_fraud: bool
    scenario: Scenario | None
    """The fraud scenario that made it; ``None`` for a legitimate transaction."""

    @property
    def label(self) -> Literal["fraud", "legit"]:
        """The ``transaction_labels`` spelling."""
        return "fraud" if self.is_fraud else "legit"


LEGIT = SimLabel(False, None)

SimulatedEvent = tuple[dict[str, Any], SimLabel]
"""A ``transactions``-contract dict and its label."""


class _Burst(NamedTuple):
    merchant: int
    ip_address: str
    user_agent: str


def as_epoch_seconds(moment: datetime) -> float:
    """Epoch seconds of ``moment``; naive datetimes are UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; a normal approximation for large means)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def random_ipv4(rng: random.Random) -> str:
    """A public-looking IPv4 address (first octet 11–223, not 127)."""
    first = rng.choice([o for o in range(11, 224) if o != 127])
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


class Simulator:
    """Generates labelled transactions for a population built from ``seed``.

    ``events`` is restartable: each call starts a fresh stream, so the same
    seed, start and stream seed always yield the same events.
    """

    def __init__(
        self,
        config: SimulationConfig | None = None,
        seed: int = 0,
        *,
        population: Population | None = None,
    ) -> None:
        self.config = config or SimulationConfig()
        self.seed = seed
        self.population = population or Population.build(self.config, seed)

    def events(
        self,
        start: datetime,
        count: int | None = None,
        until: datetime | None = None,
        *,
        stream_seed: int | None = None,
    ) -> Iterator[SimulatedEvent]:
        """Yield ``(transaction, label)`` in event-time order from ``start``.

        Stops after ``count`` events or before ``until`` (whichever comes
        first); with neither it never stops. ``stream_seed`` (default: the
        population seed) picks a different stream over the same population —
        the live producer uses a fresh one per run so event ids never repeat.
        """
        chosen = self.seed if stream_seed is None else stream_seed
        stream = _Stream(self.config, self.population, random.Random(f"events-{chosen}"))
        start_ts = as_epoch_seconds(start)
        until_ts = as_epoch_seconds(until) if until is not None else math.inf
        first_day = math.floor(start_ts / DAY_S) * DAY_S
        produced = 0
        if count is not None and count <= 0:
            return
        day = 0
        while True:
            day_start = first_day + day * DAY_S
            if day_start >= until_ts:
                return
            stream.begin_day(day)
            for when, customer, burst in stream.schedule_day(day_start):
                if when < start_ts:
                    continue
                if when >= until_ts:
                    return
                yield stream.materialise(when, customer, burst, day)
                produced += 1
                if count is not None and produced >= count:
                    return
            day += 1


class _Stream:
    """The mutable state of one run of :meth:`Simulator.events`."""

    def __init__(self, config: SimulationConfig, population: Population,
                 rng: random.Random) -> None:
        self.config = config
        self.population = population
        self.rng = rng
        self.customers = population.customers
        self.merchants = population.merchants
        # index → first day on which it is no longer compromised
        self.bad_merchants: dict[int, int] = {}
        self.bad_customers: dict[int, int] = {}
        self.bursts: list[_Burst] = []

    def begin_day(self, day: int) -> None:
        """Expire old compromises and compromise new merchants and customers."""
        cfg = self.config
        if day == 0:
            # Start in steady state, as if the simulation had been running for
            # a while: otherwise the first weeks would have almost no
            # compromised merchants or customers.
            for past in range(1, cfg.compromised_merchant_days):
                self._compromise(self.bad_merchants, len(self.merchants),
                                 cfg.compromised_merchants_per_day,
                                 cfg.compromised_merchant_days - past)
            for past in range(1, cfg.compromised_customer_days):
                self._compromise(self.bad_customers, len(self.customers),
                                 cfg.compromised_customers_per_day,
                                 cfg.compromised_customer_days - past)
        for table in (self.bad_merchants, self.bad_customers):
            for index in [i for i, expiry in table.items() if expiry <= day]:
                del table[index]
        self._compromise(self.bad_merchants, len(self.merchants),
                         cfg.compromised_merchants_per_day, day + cfg.compromised_merchant_days)
        self._compromise(self.bad_customers, len(self.customers),
                         cfg.compromised_customers_per_day, day + cfg.compromised_customer_days)

    def _compromise(self, table: dict[int, int], size: int, how_many: int, expiry: int) -> None:
        for index in self.rng.sample(range(size), min(how_many, size)):
            table[index] = max(expiry, table.get(index, 0))

    def schedule_day(self, day_start: float) -> list[tuple[float, int, int]]:
        """``(epoch seconds, customer index, burst number)`` of the day, sorted by time."""
        rng = self.rng
        gauss, random_ = rng.gauss, rng.random
        entries: list[tuple[float, int, int]] = []
        append = entries.append
        for customer in self.customers:
            limit = customer.exp_neg_tx_per_day
            product = random_()
            while product > limit:  # inline Poisson draw: this loop is the hot path
                product *= random_()
                offset = (gauss(NOON_S, TIME_OF_DAY_STD_S) - customer.utc_offset_s) % DAY_S
                append((round(day_start + offset, 3), customer.index, ORDINARY))
        self.bursts = []
        for _ in range(poisson(rng, self.config.card_testing_burst_rate * len(entries))):
            self._add_burst(day_start, entries)
        entries.sort()
        return entries

    def _add_burst(self, day_start: float, entries: list[tuple[float, int, int]]) -> None:
        cfg, rng = self.config, self.rng
        number = len(self.bursts)
        self.bursts.append(_Burst(
            merchant=rng.choice(self.population.online_merchants),
            ip_address=random_ipv4(rng),
            user_agent=rng.choice(self.population.fraudster_user_agents),
        ))
        victim = rng.randrange(len(self.customers))
        when = day_start + rng.uniform(0, DAY_S - 3600)
        for _ in range(rng.randint(*cfg.card_testing_burst_size)):
            entries.append((round(when, 3), victim, number))
            when += rng.uniform(*cfg.card_testing_gap_s)

    def materialise(self, when: float, customer_index: int, burst: int, day: int
                    ) -> SimulatedEvent:
        """Turn one schedule entry into a transaction dict and its label."""
        cfg, rng = self.config, self.rng
        c = self.customers[customer_index]
        ip_address, user_agent, currency = c.ip_address, c.user_agent, c.currency
        billing: Customer = c
        if burst != ORDINARY:
            attack = self.bursts[burst]
            merchant = self.merchants[attack.merchant]
            ip_address, user_agent, currency = attack.ip_address, attack.user_agent, "usd"
            amount = rng.uniform(CARD_TESTING_MIN_AMOUNT, cfg.card_testing_max_amount - 0.01)
            label = SimLabel(True, Scenario.CARD_TESTING)
        else:
            merchant = self.merchants[rng.choice(c.merchants)]
            amount = self._habitual_amount(c)
            if rng.random() < cfg.foreign_currency_rate:
                currency = rng.choice(CURRENCIES)
            draw = rng.random()
            if (self.bad_merchants.get(merchant.index, -1) > day
                    and rng.random() < cfg.compromised_merchant_fraud_share):
                label = SimLabel(True, Scenario.COMPROMISED_MERCHANT)
            elif (self.bad_customers.get(c.index, -1) > day
                    and rng.random() < cfg.compromised_customer_fraud_share):
                amount *= cfg.compromised_customer_amount_factor
                label = SimLabel(True, Scenario.COMPROMISED_CUSTOMER)
            elif draw < cfg.account_takeover_rate:
                merchant = self.merchants[rng.choice(self.population.online_merchants)]
                ip_address = random_ipv4(rng)
                user_agent = rng.choice(self.population.fraudster_user_agents)
                billing = self._far_away_customer(c)
                amount = min(amount * rng.uniform(1.5, 3.0), cfg.large_amount_threshold)
                label = SimLabel(True, Scenario.ACCOUNT_TAKEOVER)
            elif draw < cfg.account_takeover_rate + cfg.large_amount_rate:
                threshold = cfg.large_amount_threshold
                amount = rng.uniform(threshold + 0.01, threshold * 5)
                label = SimLabel(True, Scenario.LARGE_AMOUNT)
            else:
                label = LEGIT
        event = {
            "transaction_amt": round(amount, 2),
            "transaction_currency": currency,
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "event_time": datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds"),
            "user_agent": user_agent,
            "product_category": merchant.category,
            "entity_id": c.entity_id,
            "card_bin": c.card_bin,
            "customer_name": c.customer_name,
            "billing_street": billing.billing_street,
            "billing_city": billing.billing_city,
            "billing_state": billing.billing_state,
            "billing_zip": billing.billing_zip,
            "billing_latitude": billing.billing_latitude,
            "billing_longitude": billing.billing_longitude,
            "customer_job": c.customer_job,
            "ip_address": ip_address,
            "email_address": c.email_address,
            "phone": c.phone,
            "merchant_id": merchant.merchant_id,
            "schema_version": SCHEMA_VERSION,
        }
        return event, label

    def _habitual_amount(self, c: Customer) -> float:
        # The handbook's draw: normal around the habit, redrawn uniformly when
        # negative — and here also when above the large-amount threshold, so
        # that "amount > threshold" is always fraud.
        amount = self.rng.gauss(c.mean_amount, c.std_amount)
        threshold = self.config.large_amount_threshold
        if amount < 0 or amount >= threshold:
            amount = self.rng.uniform(0, min(2 * c.mean_amount, threshold - 0.01))
        return amount

    def _far_away_customer(self, c: Customer) -> Customer:
        """Another customer whose home is far from ``c``'s (the attacker's billing address)."""
        best = c
        best_km = -1.0
        for _ in range(20):
            other = self.customers[self.rng.randrange(len(self.customers))]
            km = haversine_km(c.billing_latitude, c.billing_longitude,
                              other.billing_latitude, other.billing_longitude)
            if km >= self.config.account_takeover_min_km:
                return other
            if km > best_km:
                best, best_km = other, km
        return best
