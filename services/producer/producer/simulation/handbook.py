"""The Fraud Detection Handbook's simulated setting, vectorised with numpy.

Reimplements, from its published description (Le Borgne et al., *Reproducible
Machine Learning for Credit Card Fraud Detection — Practical Handbook*, chapter
"Transaction data simulator"), the data set its baselines are measured on, so
that our model can be compared with them:

- customers on a 100 × 100 grid, each with a mean amount U(5, 100), a standard
  deviation of half of it and a mean number of transactions a day U(0, 4);
- terminals (our merchants) uniform on the grid; a customer uses the terminals
  within a radius of 5 of home, uniformly;
- each day, a Poisson number of transactions per customer at N(noon, 20 000 s)
  seconds into the day (draws outside the day are discarded), amounts
  N(mean, std) redrawn U(0, 2·mean) when negative;
- fraud scenario 1: every amount above 220; scenario 2: every day 2 random
  terminals are compromised for 28 days (all their transactions are fraud);
  scenario 3: every day 3 random customers are compromised for 14 days, and a
  third of their transactions (a Bernoulli draw here) are fraud with the
  amount multiplied by 5.

Output is columnar (:class:`HandbookData`); :meth:`HandbookData.columns` gives
the ``transactions`` contract's fields: ``entity_id`` ``c-000123``,
``merchant_id`` ``t-00042``, placeholders for e-mail and IP that are constant
per customer, and billing coordinates mapped from the grid onto a 10° × 10°
square of the US (``lat = 30 + y/10``, ``lon = -100 + x/10``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

DAY_S = 86_400
LEGIT, LARGE_AMOUNT, COMPROMISED_TERMINAL, COMPROMISED_CUSTOMER = 0, 1, 2, 3
SCENARIO_NAMES = {LEGIT: "", LARGE_AMOUNT: "large_amount",
                  COMPROMISED_TERMINAL: "compromised_merchant",
                  COMPROMISED_CUSTOMER: "compromised_customer"}
"""Scenario codes and the names the fraudstream simulator uses for the same ideas."""

_CHUNK = 500
"""Customers per block when finding terminals in reach (bounds a distance matrix to ~20 MB)."""


@dataclass(frozen=True)
class HandbookConfig:
    """The Handbook's published parameters (its defaults)."""

    n_customers: int = 5000
    n_terminals: int = 10000
    days: int = 183
    start: datetime = datetime(2018, 4, 1, tzinfo=UTC)
    grid: float = 100.0
    radius: float = 5.0
    mean_amount_range: tuple[float, float] = (5.0, 100.0)
    tx_per_day_range: tuple[float, float] = (0.0, 4.0)
    large_amount: float = 220.0
    terminals_per_day: int = 2
    terminal_days: int = 28
    customers_per_day: int = 3
    customer_days: int = 14
    customer_fraud_share: float = 1 / 3
    customer_amount_factor: float = 5.0
    label_delay_days: float = 7.0
    """Labels arrive this long after the transaction (the Handbook's delay period)."""

    def __post_init__(self) -> None:
        if self.n_customers < 1 or self.n_terminals < 1 or self.days < 1:
            raise ValueError("customers, terminals and days must be positive")
        if self.terminals_per_day > self.n_terminals:
            raise ValueError("cannot compromise more terminals a day than there are")
        if self.customers_per_day > self.n_customers:
            raise ValueError("cannot compromise more customers a day than there are")


@dataclass(frozen=True)
class HandbookData:
    """The simulated transactions, one numpy column per attribute, sorted by time."""

    time: npt.NDArray[np.float64]
    """Epoch seconds (UTC)."""
    customer: npt.NDArray[np.int64]
    terminal: npt.NDArray[np.int64]
    amount: npt.NDArray[np.float64]
    scenario: npt.NDArray[np.int8]
    customer_xy: npt.NDArray[np.float64]
    label_delay_s: float
    seed: int

    @property
    def fraud(self) -> npt.NDArray[np.bool_]:
        """True for fraudulent transactions."""
        fraud: npt.NDArray[np.bool_] = self.scenario != LEGIT
        return fraud

    def __len__(self) -> int:
        return len(self.time)

    def columns(self) -> dict[str, list[object]]:
        """The ``transactions`` contract as columns (``event_time`` as aware datetimes)."""
        ids = [f"c-{c:06d}" for c in range(len(self.customer_xy))]
        emails = [f"{i}@example.com" for i in ids]
        ips = [f"10.{(c >> 16) & 255}.{(c >> 8) & 255}.{c & 255}"
               for c in range(len(self.customer_xy))]
        lat = np.round(30.0 + self.customer_xy[:, 1] / 10.0, 4).tolist()
        lon = np.round(-100.0 + self.customer_xy[:, 0] / 10.0, 4).tolist()
        cust = self.customer.tolist()
        return {
            "event_id": self.event_ids(),
            "event_time": [datetime.fromtimestamp(t, UTC) for t in self.time.tolist()],
            "entity_id": [ids[c] for c in cust],
            "transaction_amt": np.round(self.amount, 2).tolist(),
            "transaction_currency": ["usd"] * len(self),
            "email_address": [emails[c] for c in cust],
            "ip_address": [ips[c] for c in cust],
            "billing_latitude": [lat[c] for c in cust],
            "billing_longitude": [lon[c] for c in cust],
            "merchant_id": [f"t-{t:05d}" for t in self.terminal.tolist()],
            "schema_version": [1] * len(self),
        }

    def event_ids(self) -> list[str]:
        """Stable event ids: the seed and the position in time order."""
        return [f"hb{self.seed}-{i:08d}" for i in range(len(self))]

    def label_columns(self) -> dict[str, list[object]]:
        """``event_id,label,labelled_at,scenario`` (labels arrive after the delay)."""
        arrived = self.time + self.label_delay_s
        return {
            "event_id": self.event_ids(),
            "label": np.where(self.fraud, "fraud", "legit").tolist(),
            "labelled_at": [datetime.fromtimestamp(t, UTC) for t in arrived.tolist()],
            "scenario": [SCENARIO_NAMES[int(s)] for s in self.scenario.tolist()],
        }


def terminals_in_reach(customer_xy: npt.NDArray[np.float64],
                       terminal_xy: npt.NDArray[np.float64], radius: float
                       ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """CSR adjacency ``(offsets, terminals)``.

    Customer ``c`` uses ``terminals[offsets[c]:offsets[c + 1]]``.
    """
    pieces = []
    degrees = np.zeros(len(customer_xy), dtype=np.int64)
    r2 = radius * radius
    for lo in range(0, len(customer_xy), _CHUNK):
        block = customer_xy[lo:lo + _CHUNK]
        d2 = ((block[:, None, 0] - terminal_xy[None, :, 0]) ** 2
              + (block[:, None, 1] - terminal_xy[None, :, 1]) ** 2)
        rows, cols = np.nonzero(d2 < r2)  # row-major: grouped by customer
        degrees[lo:lo + len(block)] = np.bincount(rows, minlength=len(block))
        pieces.append(cols.astype(np.int64))
    offsets = np.zeros(len(customer_xy) + 1, dtype=np.int64)
    np.cumsum(degrees, out=offsets[1:])
    terminals = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)
    return offsets, terminals


def _compromised(rng: np.random.Generator, days: int, size: int, per_day: int,
                 duration: int) -> npt.NDArray[np.bool_]:
    """``[day, index]`` is True while ``index`` is compromised (from its draw day on)."""
    table = np.zeros((days, size), dtype=bool)
    for day in range(days):
        chosen = rng.choice(size, per_day, replace=False)
        table[day:day + duration, chosen] = True
    return table


def simulate(config: HandbookConfig | None = None, seed: int = 0) -> HandbookData:
    """Simulate the Handbook's data set; the same config and seed give the same data."""
    cfg = config or HandbookConfig()
    rng = np.random.default_rng(seed)
    n_c, n_t, days = cfg.n_customers, cfg.n_terminals, cfg.days
    customer_xy = rng.uniform(0, cfg.grid, size=(n_c, 2))
    mean_amount = rng.uniform(*cfg.mean_amount_range, size=n_c)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(*cfg.tx_per_day_range, size=n_c)
    terminal_xy = rng.uniform(0, cfg.grid, size=(n_t, 2))
    offsets, reach = terminals_in_reach(customer_xy, terminal_xy, cfg.radius)
    degree = np.diff(offsets)

    counts = rng.poisson(np.broadcast_to(tx_per_day, (days, n_c)))
    cell = np.repeat(np.arange(days * n_c), counts.ravel())
    day, customer = cell // n_c, cell % n_c
    second = rng.normal(DAY_S / 2, 20_000, size=len(cell))
    keep = (second > 0) & (second < DAY_S) & (degree[customer] > 0)
    day, customer, second = day[keep], customer[keep], second[keep]
    n = len(day)

    amount = rng.normal(mean_amount[customer], std_amount[customer])
    negative = amount < 0
    amount[negative] = rng.uniform(0, 2 * mean_amount[customer[negative]])
    amount = np.round(amount, 2)
    pick = np.floor(rng.random(n) * degree[customer]).astype(np.int64)
    terminal = reach[offsets[customer] + pick]

    scenario = np.zeros(n, dtype=np.int8)
    scenario[amount > cfg.large_amount] = LARGE_AMOUNT
    bad_terminals = _compromised(rng, days, n_t, cfg.terminals_per_day, cfg.terminal_days)
    scenario[bad_terminals[day, terminal]] = COMPROMISED_TERMINAL
    bad_customers = _compromised(rng, days, n_c, cfg.customers_per_day, cfg.customer_days)
    stolen = bad_customers[day, customer] & (rng.random(n) < cfg.customer_fraud_share)
    amount[stolen] = np.round(amount[stolen] * cfg.customer_amount_factor, 2)
    scenario[stolen] = COMPROMISED_CUSTOMER

    time = cfg.start.timestamp() + day * DAY_S + np.round(second, 3)
    order = np.argsort(time, kind="stable")
    return HandbookData(
        time=time[order], customer=customer[order], terminal=terminal[order],
        amount=amount[order], scenario=scenario[order], customer_xy=customer_xy,
        label_delay_s=cfg.label_delay_days * DAY_S, seed=seed,
    )
