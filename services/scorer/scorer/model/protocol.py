"""The Fraud Detection Handbook's validation protocol with delayed feedback.

Features are computed over the whole history (labels only once arrived); the
model trains on ``train_days`` from ``train_start``, the next ``delay_days``
are skipped (their labels have not arrived when the model is deployed), and it
is tested on the ``test_days`` after that. As in the Handbook, the test set of
each day excludes the customers already known to be defrauded: those with a
fraud in the training window or in any day at least ``delay_days + 1`` days
before (their card would have been blocked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

DAY_S = 86_400.0


@dataclass(frozen=True)
class Protocol:
    """Training, delay and test windows (whole UTC days)."""

    train_start: datetime
    train_days: int = 7
    delay_days: int = 7
    test_days: int = 7

    @classmethod
    def fit_to(cls, first: float, last: float, train_start: datetime | None = None,
               train_days: int = 7, delay_days: int = 7, test_days: int = 7) -> Protocol:
        """The given windows, or the latest ones that fit in ``[first, last]`` (epoch s)."""
        if min(train_days, test_days) < 1 or delay_days < 0:
            raise ValueError("train and test need at least a day, the delay is not negative")
        if train_start is None:
            last_day = math.floor(last / DAY_S)  # the last (maybe partial) day is not used
            start_day = last_day - (train_days + delay_days + test_days)
            if start_day * DAY_S < first:
                raise ValueError("the data is too short for the protocol's windows")
            train_start = datetime.fromtimestamp(start_day * DAY_S, UTC)
        elif train_start.tzinfo is None:
            train_start = train_start.replace(tzinfo=UTC)
        return cls(train_start, train_days, delay_days, test_days)

    @property
    def start_s(self) -> float:
        """Training start, epoch seconds."""
        return self.train_start.timestamp()

    @property
    def test_start_s(self) -> float:
        """Test start, epoch seconds."""
        return self.start_s + (self.train_days + self.delay_days) * DAY_S

    @property
    def test_end_s(self) -> float:
        """Test end (exclusive), epoch seconds."""
        return self.test_start_s + self.test_days * DAY_S

    def train_mask(self, time: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Rows in the training window."""
        end = self.start_s + self.train_days * DAY_S
        return (time >= self.start_s) & (time < end)

    def test_mask(self, time: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """Rows in the test window."""
        return (time >= self.test_start_s) & (time < self.test_end_s)

    def test_day(self, time: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Day number within the test window (meaningful on test rows)."""
        return np.floor((time - self.test_start_s) / DAY_S).astype(np.int64)

    def unknown_customers_mask(self, time: npt.NDArray[np.float64],
                               customer: npt.NDArray[np.object_],
                               is_fraud: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        """Test rows whose customer was not yet known to be defrauded (the Handbook's test set)."""
        keep = self.test_mask(time)
        for day in range(self.test_days):
            day_start = self.test_start_s + day * DAY_S
            known_until = day_start - self.delay_days * DAY_S
            known = set(customer[is_fraud & (time >= self.start_s) & (time < known_until)])
            rows = keep & (time >= day_start) & (time < day_start + DAY_S)
            keep[rows] = ~np.isin(customer[rows], list(known))
        return keep

    def describe(self) -> dict[str, str | int]:
        """The windows as ISO dates, for metadata and reports."""
        def day(s: float) -> str:
            return datetime.fromtimestamp(s, UTC).date().isoformat()
        return {
            "train_start": day(self.start_s), "train_days": self.train_days,
            "delay_days": self.delay_days, "test_start": day(self.test_start_s),
            "test_days": self.test_days, "test_end_exclusive": day(self.test_end_s),
        }


def parse_day(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (UTC midnight) or ``None``."""
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def add_days(moment: datetime, days: float) -> datetime:
    """``moment`` plus ``days``."""
    return moment + timedelta(days=days)
