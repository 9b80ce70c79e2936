"""Knobs of the simulator and the names of its fraud scenarios."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Scenario(StrEnum):
    """Why a simulated transaction is fraudulent (the label's ``scenario``)."""

    LARGE_AMOUNT = "large_amount"
    COMPROMISED_MERCHANT = "compromised_merchant"
    COMPROMISED_CUSTOMER = "compromised_customer"
    ACCOUNT_TAKEOVER = "account_takeover"
    CARD_TESTING = "card_testing"


CATEGORIES: tuple[str, ...] = (
    "entertainment", "food_dining", "gas_transport", "grocery_net", "grocery_pos",
    "health_fitness", "home", "kids_pets", "misc_net", "misc_pos", "personal_care",
    "travel", "shopping_net", "shopping_pos",
)
"""The original sample's 14 Sparkov-style product categories."""

ONLINE_CATEGORIES: tuple[str, ...] = ("grocery_net", "misc_net", "shopping_net")
"""Card-not-present categories, where account takeover and card testing happen."""


@dataclass(frozen=True)
class SimulationConfig:
    """Population size, habits and fraud-scenario rates.

    Defaults follow the *Reproducible Machine Learning for Credit Card Fraud
    Detection* handbook's simulator (amounts over 220 are fraud; 2 merchants
    compromised per day for 28 days; 3 customers per day for 14 days, a third
    of whose transactions are fraudulent with amounts × 5), plus account
    takeover and card testing. With the defaults about 1 % of transactions are
    fraudulent.
    """

    n_customers: int = 5000
    n_merchants: int = 10000
    merchants_per_customer: int = 20
    mean_amount_range: tuple[float, float] = (5.0, 100.0)
    """Each customer's mean amount is uniform in this range; the std is half of it."""
    tx_per_day_range: tuple[float, float] = (0.0, 4.0)
    """Each customer's mean number of transactions per day is uniform in this range."""
    foreign_currency_rate: float = 0.05
    """Share of transactions in a currency other than the customer's own."""

    large_amount_threshold: float = 220.0
    """Every amount above this is fraud; legitimate amounts stay below it."""
    large_amount_rate: float = 0.001
    """Share of transactions turned into a large-amount fraud."""

    compromised_merchants_per_day: int = 2
    compromised_merchant_days: int = 28
    compromised_merchant_fraud_share: float = 1.0
    """Share of a compromised merchant's transactions that are fraudulent."""

    compromised_customers_per_day: int = 3
    compromised_customer_days: int = 14
    compromised_customer_fraud_share: float = 1 / 3
    compromised_customer_amount_factor: float = 5.0

    account_takeover_rate: float = 0.0005
    """Share of transactions made by someone who took the account over."""
    account_takeover_min_km: float = 1000.0
    """An account takeover's billing address is at least this far from home."""

    card_testing_burst_rate: float = 0.0001
    """Expected card-testing bursts per ordinary transaction."""
    card_testing_burst_size: tuple[int, int] = (5, 20)
    card_testing_max_amount: float = 5.0
    card_testing_gap_s: tuple[float, float] = (2.0, 30.0)
    """Seconds between two attempts of one burst (a burst lasts minutes)."""

    def __post_init__(self) -> None:
        if self.n_customers < 2 or self.n_merchants < 2:
            raise ValueError("the simulator needs at least 2 customers and 2 merchants")
        for name in ("large_amount_rate", "compromised_merchant_fraud_share",
                     "compromised_customer_fraud_share", "account_takeover_rate",
                     "card_testing_burst_rate", "foreign_currency_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        low, high = self.card_testing_burst_size
        if not 1 <= low <= high:
            raise ValueError("card_testing_burst_size must be (min, max) with 1 <= min <= max")
        if self.tx_per_day_range[1] <= 0:
            raise ValueError("tx_per_day_range must allow some transactions")
        if self.large_amount_threshold <= self.mean_amount_range[1]:
            raise ValueError("large_amount_threshold must exceed the largest mean amount")
