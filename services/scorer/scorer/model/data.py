"""Labelled histories from files: events (JSONL, CSV, Parquet) and a labels CSV.

Needs the scorer's ``train`` extra (pandas, pyarrow). Events follow the
``transactions`` contract; labels have at least ``event_id,label`` (``fraud``/
``legit``, also ``1``/``0``/``true``/``false``) and optionally ``labelled_at``
and ``scenario`` (the kind of fraud, as the simulators write it: the
evaluation breaks its results down by it).
An event without a label is taken as legitimate (no chargeback ever came); a
label without ``labelled_at`` arrives ``delay_days`` after its event. Every
event yields one label event (carrying the event's merchant) for the replay, as
the producer publishes one per transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from scorer.features import LabelEvent, TxEvent

DAY_S = 86_400.0
TEXT_COLUMNS = ("event_id", "entity_id", "card_bin", "merchant_id", "ip_address",
                "user_agent", "transaction_currency", "billing_zip", "phone")
FRAUD_VALUES = {"fraud", "1", "true", "yes", "1.0"}


@dataclass(frozen=True)
class History:
    """Events in time order, their labels, and the label arrivals for the replay."""

    events: list[TxEvent]
    labels: list[LabelEvent]
    event_id: npt.NDArray[np.object_]
    customer: npt.NDArray[np.object_]
    time: npt.NDArray[np.float64]
    amount: npt.NDArray[np.float64]
    is_fraud: npt.NDArray[np.bool_]
    source: str
    scenario: npt.NDArray[np.object_] | None = None
    """The fraud scenario of each event ("" when not fraud or not given); None without."""

    def __len__(self) -> int:
        return len(self.events)

    def describe(self) -> dict[str, Any]:
        """A short description for model metadata and reports."""
        return {
            "source": self.source,
            "events": len(self),
            "frauds": int(self.is_fraud.sum()),
            "fraud_rate": float(self.is_fraud.mean()) if len(self) else 0.0,
            "customers": len(set(self.customer.tolist())),
            "first_event": _iso(float(self.time.min())) if len(self) else None,
            "last_event": _iso(float(self.time.max())) if len(self) else None,
        }


def read_events(path: str | Path) -> pd.DataFrame:
    """Read an events file by its extension."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(file)
    elif suffix == ".csv":
        frame = pd.read_csv(file, dtype={c: str for c in TEXT_COLUMNS})
    elif suffix in (".jsonl", ".ndjson", ".json"):
        frame = pd.read_json(file, lines=True, dtype=False)
    else:
        raise ValueError(f"unknown events format {suffix!r}: use .parquet, .jsonl or .csv")
    missing = {"event_id", "event_time", "entity_id", "transaction_amt"} - set(frame.columns)
    if missing:
        raise ValueError(f"events file lacks the columns {sorted(missing)}")
    return frame


def epoch_seconds(column: pd.Series) -> npt.NDArray[np.float64]:
    """Epoch seconds of timestamps (naive = UTC), computed exactly as ``datetime.timestamp``."""
    stamps = pd.to_datetime(column, utc=True, format="ISO8601")
    micros = stamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]").astype(np.int64)
    seconds: npt.NDArray[np.float64] = micros / 1e6
    return seconds


def _optional(frame: pd.DataFrame, name: str) -> list[Any]:
    if name not in frame.columns:
        return [None] * len(frame)
    column = frame[name]
    values: list[Any] = column.astype(object).where(column.notna(), None).tolist()
    return values


def _text(frame: pd.DataFrame, name: str) -> list[str | None]:
    return [None if v is None else str(v) for v in _optional(frame, name)]


def load_history(events_path: str | Path, labels_path: str | Path,
                 delay_days: float = 7.0) -> History:
    """Events sorted by time with labels joined, and one label arrival per event."""
    frame = read_events(events_path)
    frame = frame.assign(_t=epoch_seconds(frame["event_time"]))
    frame = frame.sort_values("_t", kind="stable").reset_index(drop=True)
    labels = pd.read_csv(labels_path, dtype={"event_id": str, "label": str})
    if not {"event_id", "label"} <= set(labels.columns):
        raise ValueError("labels file needs at least the columns event_id,label")
    labels = labels.drop_duplicates("event_id", keep="last").set_index("event_id")
    event_ids = frame["event_id"].astype(str)
    label_text = labels["label"].reindex(event_ids).fillna("legit").str.strip().str.lower()
    is_fraud = label_text.isin(FRAUD_VALUES).to_numpy()
    times = frame["_t"].to_numpy(dtype=float)
    arrival = times + delay_days * DAY_S
    if "labelled_at" in labels.columns:
        given = labels["labelled_at"].reindex(event_ids)
        known = given.notna().to_numpy()
        if known.any():
            arrival[known] = epoch_seconds(given[known])

    scenario = None
    if "scenario" in labels.columns:
        given_scenario = labels["scenario"].reindex(event_ids)
        scenario = given_scenario.where(given_scenario.notna(), "").astype(str).to_numpy(
            dtype=object)
        scenario[~is_fraud] = ""
    amounts = frame["transaction_amt"].to_numpy(dtype=float)
    currency = _text(frame, "transaction_currency")
    merchants = _text(frame, "merchant_id")
    lat = _optional(frame, "billing_latitude")
    lon = _optional(frame, "billing_longitude")
    events = [
        TxEvent(t, str(entity), float(amount), cur or "usd", ip or "", ua, card, merchant,
                None if la is None else float(la), None if lo is None else float(lo))
        for t, entity, amount, cur, ip, ua, card, merchant, la, lo in zip(
            times.tolist(), frame["entity_id"].astype(str).tolist(), amounts.tolist(),
            currency, _text(frame, "ip_address"), _text(frame, "user_agent"),
            _text(frame, "card_bin"), merchants, lat, lon, strict=True)
    ]
    label_events = [LabelEvent(a, m, bool(f)) for a, m, f in
                    zip(arrival.tolist(), merchants, is_fraud.tolist(), strict=True)]
    return History(
        events=events, labels=label_events,
        event_id=event_ids.to_numpy(dtype=object),
        customer=frame["entity_id"].astype(str).to_numpy(dtype=object),
        time=times, amount=amounts, is_fraud=is_fraud, source=str(events_path),
        scenario=scenario,
    )


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")
