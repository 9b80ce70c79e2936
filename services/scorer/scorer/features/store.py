"""The feature store: per-entity state updated in event-time order, and the features it yields.

One code path for serving and training: the scorer keeps one store per input
partition and one shared label store, and per batch calls
:meth:`~FeatureStore.served_rows`: per transaction :func:`served_row` (the
partition's :meth:`~FeatureStore.row` with merchant risk from the label store)
then :meth:`~FeatureStore.update`; and :meth:`~FeatureStore.apply_label` on the
label store per consumed label;
:func:`scorer.features.offline.replay` calls the very same functions over a
history, each event in the partition Kafka's default partitioner gives its key
(:mod:`scorer.features.partitioning`). A single store fed everything
(:meth:`FeatureStore.score_features`) equals one partition. The scorer runs this
store compiled (:mod:`scorer.features.native`, bit-identical); this one is the reference.

Entities and their keys (the changelog records and ``snapshot``/``restore`` use them):
``c|<entity_id>`` customer, ``k|<card_bin>|<entity_id>`` card,
``m|<merchant_id>`` merchant, ``i|<ip_address>`` IP. The input topic is keyed by
customer, so a partition's merchant and IP aggregates count that partition's
transactions only (all of a customer's and card's are there).

Time semantics:
- features are computed *before* the transaction is added to the state;
- windows are hour buckets (24 h, 7 d, 30 d) and minute buckets (1 h); a window
  spans between L-1 and L buckets (see :mod:`scorer.features.windows`);
- an event older than its entity's newest one but within ``lateness_s`` of the
  store's watermark (the newest event time seen) is scored against the
  entity's current windows (which may contain up to ``lateness_s`` of newer
  events) and its update goes to the bucket of its own time; an event older
  than the watermark minus ``lateness_s`` is scored the same way but *not*
  added to the state (counted in ``late_dropped``);
- merchant risk counts the labels that have *arrived* (``apply_label`` is
  called when a label is consumed), bucketed by ``labelled_at``: a label never
  influences a transaction scored before it arrived.

Memory: 32 bytes per non-empty bucket (at most 60 minute + 720 hour buckets per
entity, and 720 more for a merchant's labels) plus 16 bytes per distinct value
(at most ``distinct_cap`` per kind) plus about 1 KB of Python objects; see
:meth:`FeatureStore.memory_report`. Idle entities are removed by :meth:`expire`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

import numpy as np

from fraudstream_shared.events import Transaction, TransactionLabel
from scorer.features.state import DISTINCT_KINDS, HOUR, NO_HISTORY, FeatureState, hour_ring

NAN = math.nan
DAY_S = 86_400.0
HOME_CURRENCY = "usd"
EARTH_RADIUS_KM = 6371.0
BILLING_CHANGE_KM = 1.0
"""A billing location further than this from the previous one counts as a change."""
MIN_STD = 0.01
"""Floor of the standard deviation in z-scores (an entity that always pays the same)."""

HISTORY_PREFIX = "h/"
"""Changelog key of an entity's history record: ``h/<entity key>`` (no entity key starts so)."""
RECENT_HOURS = 24
"""Hour buckets a head record may hold past its cut before the history is written anew:
about a day of a busy entity's hours rides in every head record, the rest once a day."""

ENTITY_PREFIXES = ("cust", "card", "merch", "ip")
AMOUNT_WINDOWS = ("1h", "24h", "7d", "30d")
LABEL_WINDOWS = ("24h", "7d", "30d")


def _entity_names(prefix: str) -> list[str]:
    names = []
    for window in AMOUNT_WINDOWS:
        names += [f"{prefix}_cnt_{window}", f"{prefix}_sum_{window}", f"{prefix}_mean_{window}"]
    return [*names, f"{prefix}_secs_since_prev", f"{prefix}_amt_ratio_30d",
            f"{prefix}_amt_z_30d"]


TX_NAMES = ["tx_amount", "tx_hour", "tx_weekend", "tx_foreign_currency"]
CUSTOMER_EXTRA_NAMES = [
    "cust_distinct_ip_24h", "cust_distinct_ua_24h", "cust_distinct_merchant_24h",
    "cust_billing_km", "cust_billing_changed",
]
CUSTOMER_HISTORY_NAMES = [
    "cust_amt_ratio_7_30d", "cust_cnt_7_30d", "cust_amt_ratio_1_30d",
    "cust_mean_24h_vs_7_30d", "cust_mean_7d_vs_7_30d",
]
"""The amount against the customer's *older* history (days 7–30 or 1–30 before): a
compromised card's recent spending inflates the plain 30-day mean it is compared with."""
MERCHANT_RISK_NAMES = [
    name for window in LABEL_WINDOWS
    for name in (f"merch_fraud_cnt_{window}", f"merch_fraud_rate_{window}")
] + ["merch_labels_30d", "merch_fraud_streak", "merch_secs_since_fraud_label"]

FEATURE_NAMES: list[str] = [
    *TX_NAMES,
    *[name for prefix in ENTITY_PREFIXES for name in _entity_names(prefix)],
    *CUSTOMER_EXTRA_NAMES,
    *CUSTOMER_HISTORY_NAMES,
    *MERCHANT_RISK_NAMES,
]
"""The fixed order of the feature vector (models store the list they were trained on)."""

_ENTITY_WIDTH = len(_entity_names("x"))


class TxEvent(NamedTuple):
    """The fields of a transaction the features use; ``time`` in epoch seconds (UTC)."""

    time: float
    entity_id: str
    amount: float
    currency: str
    ip_address: str
    user_agent: str | None = None
    card_bin: str | None = None
    merchant_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @classmethod
    def of(cls, tx: Transaction) -> TxEvent:
        """The view of a contract transaction."""
        return cls(tx.event_time.timestamp(), tx.entity_id, float(tx.transaction_amt),
                   tx.transaction_currency, tx.ip_address, tx.user_agent, tx.card_bin,
                   tx.merchant_id, tx.billing_latitude, tx.billing_longitude)


class LabelEvent(NamedTuple):
    """An arrived label: ``time`` is ``labelled_at`` in epoch seconds."""

    time: float
    merchant_id: str | None
    is_fraud: bool

    @classmethod
    def of(cls, label: TransactionLabel) -> LabelEvent:
        """The view of a contract label."""
        return cls(label.labelled_at.timestamp(), label.merchant_id, label.label == "fraud")


def customer_key(entity_id: str) -> str:
    """Store key of a customer."""
    return f"c|{entity_id}"


def card_key(card_bin: str, entity_id: str) -> str:
    """Store key of a card (the BIN is only unique together with its holder)."""
    return f"k|{card_bin}|{entity_id}"


def merchant_key(merchant_id: str) -> str:
    """Store key of a merchant."""
    return f"m|{merchant_id}"


def ip_key(ip_address: str) -> str:
    """Store key of an IP address."""
    return f"i|{ip_address}"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def _value_hash(value: str) -> int:
    # Stable across processes (unlike hash()), so snapshots restore anywhere.
    return zlib.crc32(value.encode())


def vectorize(features: Mapping[str, float], names: Sequence[str] = FEATURE_NAMES
              ) -> list[float]:
    """The features in ``names`` order; NaN for any that is missing."""
    return [float(features.get(name, NAN)) for name in names]


class FeatureStore:
    """Per-entity state for the stateful features, with snapshots for a changelog."""

    def __init__(self, lateness_s: float = 3600.0, ttl_s: float = 35 * DAY_S,
                 distinct_cap: int = 64) -> None:
        if lateness_s < 0 or ttl_s <= 0 or distinct_cap < 1:
            raise ValueError("lateness_s >= 0, ttl_s > 0 and distinct_cap >= 1 are required")
        self.lateness_s = lateness_s
        self.ttl_s = ttl_s
        self.distinct_cap = distinct_cap
        self.states: dict[str, FeatureState] = {}
        self.watermark = -math.inf
        self.late_dropped = 0
        self._dirty: set[str] = set()
        self._history_dropped: set[str] = set()
        """Expired keys whose history record still needs its tombstone."""

    # -- serving API -----------------------------------------------------

    def features_for(self, tx: Transaction | TxEvent) -> dict[str, float]:
        """The features of ``tx`` from the current state (the state is not changed)."""
        return dict(zip(FEATURE_NAMES, self.row(_event(tx)), strict=True))

    def update(self, tx: Transaction | TxEvent) -> bool:
        """Add ``tx`` to its entities' state; ``False`` if it was too late to apply."""
        ev = _event(tx)
        if ev.time < self.watermark - self.lateness_s:
            self.late_dropped += 1
            return False
        if ev.time > self.watermark:
            self.watermark = ev.time
        t, amount = ev.time, ev.amount
        for key in self._keys(ev):
            if key is None:
                continue
            state = self.states.get(key)
            if state is None:
                state = self.states[key] = FeatureState()
            state.minute.add(t, amount)
            added = state.hour.add(t, amount)
            in_order = t >= state.last_time
            if in_order:
                state.last_time = t
            elif (added and state.history_cut is not None
                  and int(t // HOUR) < state.history_cut):
                # A late event changed an hour already in the history record.
                state.history_stale = True
            if t > state.last_activity:
                state.last_activity = t
            if key[0] == "c":
                self._update_customer(state, ev, in_order)
            self._dirty.add(key)
        return True

    def served_rows(self, events: Sequence[TxEvent], labels: object) -> np.ndarray:
        """Each event's :func:`served_row`, then its :meth:`update`, in order; one row each.

        The scorer's hot path (one call per batch): ``labels`` is the shared
        label store, a :class:`FeatureStore` too. The compiled store
        (:class:`~scorer.features.native.NativeFeatureStore`) does the same;
        both give the same floats.
        """
        if not isinstance(labels, FeatureStore):
            raise TypeError("a Python store serves merchant risk from a Python label store")
        rows = []
        for ev in events:
            rows.append(served_row(self, labels, ev))
            self.update(ev)
        return np.array(rows, dtype=float).reshape(len(rows), len(FEATURE_NAMES))

    def score_features(self, tx: Transaction | TxEvent) -> dict[str, float]:
        """Features of ``tx`` before it, then ``tx`` is added to the state."""
        features = self.features_for(tx)
        self.update(tx)
        return features

    def apply_label(self, label: TransactionLabel | LabelEvent) -> bool:
        """Count an arrived label in its merchant's risk; ``False`` without a merchant."""
        ev = LabelEvent.of(label) if isinstance(label, TransactionLabel) else label
        if ev.merchant_id is None:
            return False
        key = merchant_key(ev.merchant_id)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = FeatureState()
        if state.labels is None:
            state.labels = hour_ring()
        state.labels.add(ev.time, 1.0 if ev.is_fraud else 0.0)
        # A compromised merchant's labels are fraud after fraud; a sound one's
        # occasional fraud is followed by legitimate ones.
        if ev.is_fraud:
            state.fraud_streak += 1.0
            state.last_fraud_label = max(state.last_fraud_label, ev.time)
        else:
            state.fraud_streak = 0.0
        if ev.time > state.last_activity:
            state.last_activity = ev.time
        self._dirty.add(key)
        return True

    def expire(self, now: float | datetime) -> int:
        """Forget entities idle for longer than the TTL; returns how many (they become dirty)."""
        now_s = now.timestamp() if isinstance(now, datetime) else now
        cutoff = now_s - self.ttl_s
        idle = [key for key, state in self.states.items() if state.last_activity < cutoff]
        for key in idle:
            if self.states.pop(key).history_cut is not None:
                self._history_dropped.add(key)
            self._dirty.add(key)
        return len(idle)

    # -- changelog API ---------------------------------------------------

    def dirty_keys(self) -> set[str]:
        """Keys changed (or expired) since the previous call; the set is then cleared."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def clear_dirty(self) -> None:
        """Forget which keys changed (after a restore: that state is in the changelog)."""
        self._dirty = set()

    def changelog_records(self) -> list[tuple[str, bytes | None]]:
        """``(key, record or tombstone)`` for every entity changed since the last call.

        Each changed entity gets a head record under its own key
        (:meth:`FeatureState.encode_head`: everything but its older hour
        buckets). Its history record, ``h/<key>``, holding those older buckets
        (:meth:`FeatureState.encode_history`), is written only when the head
        would otherwise carry more than :data:`RECENT_HOURS` of them, or when a
        late event changed one: so an entity busy for 30 days writes a few
        hundred bytes per batch instead of its whole 23 KB state. Both records
        of an entity belong in the same transaction; :meth:`restore_changelog`
        joins them. An expired entity gets tombstones for both.

        The order is kept for writes without transactions, where a crash can
        land between two records: a new history comes before its head (a
        restore copes with a history newer than its head, not with an older
        one), and a history's tombstone after its head's (a head without
        history is complete; a history without head is ignored).
        """
        records: list[tuple[str, bytes | None]] = []
        for key in sorted(self.dirty_keys()):
            state = self.states.get(key)
            if state is None:
                records.append((key, None))
            else:
                hour = state.hour
                cut = NO_HISTORY if state.history_cut is None else state.history_cut
                if state.history_stale or hour.recent_count(cut) > RECENT_HOURS:
                    records.append((HISTORY_PREFIX + key, state.encode_history(hour.keys[-1])))
                records.append((key, state.encode_head()))
            if key in self._history_dropped:
                self._history_dropped.discard(key)
                if state is None or state.history_cut is None:
                    records.append((HISTORY_PREFIX + key, None))
        return records

    def restore_changelog(self, latest: Mapping[str, bytes | None]) -> None:
        """Load the newest changelog record of every key (as compaction keeps them).

        ``latest`` maps each key read to its last value (``None``: a
        tombstone). Head records are joined with their history records; whole
        snapshots written before the split (versions 1 and 2) load alone.
        Nothing becomes dirty. ``ValueError`` when a record is unreadable or a
        head's history is missing or older than its cut (a damaged changelog).
        """
        for key, value in latest.items():
            if key.startswith(HISTORY_PREFIX):
                continue  # read with its head
            if value is None:
                self.states.pop(key, None)
                continue
            self._put(key, FeatureState.decode_split(value, latest.get(HISTORY_PREFIX + key)))

    def snapshot(self, key: str) -> bytes | None:
        """The whole encoded state of ``key`` (one record); ``None`` if it has none."""
        state = self.states.get(key)
        return None if state is None else state.encode()

    def restore(self, key: str, data: bytes | None) -> None:
        """Load one whole snapshot (``None`` = tombstone: forget the key); not marked dirty.

        Takes what :meth:`snapshot` gives (and a head record without history);
        changelog records go through :meth:`restore_changelog`.
        """
        if data is None:
            self.states.pop(key, None)
            return
        self._put(key, FeatureState.decode_split(data, None))

    def _put(self, key: str, state: FeatureState) -> None:
        self.states[key] = state
        if state.last_time > self.watermark:
            self.watermark = state.last_time

    def memory_report(self) -> dict[str, float]:
        """Entities held and the average payload and snapshot bytes per entity."""
        n = len(self.states)
        if not n:
            return {"entities": 0, "payload_bytes_per_entity": 0.0,
                    "snapshot_bytes_per_entity": 0.0}
        payload = sum(s.approx_bytes() for s in self.states.values())
        encoded = sum(len(s.encode()) for s in self.states.values())
        return {"entities": n, "payload_bytes_per_entity": payload / n,
                "snapshot_bytes_per_entity": encoded / n}

    def __len__(self) -> int:
        return len(self.states)

    # -- the features ----------------------------------------------------

    def row(self, ev: TxEvent) -> list[float]:
        """The feature vector of ``ev`` in ``FEATURE_NAMES`` order (pure)."""
        t = ev.time
        weekday = int((t // DAY_S + 3) % 7)  # 1970-01-01 was a Thursday (weekday 3)
        row = [ev.amount, float(int(t % DAY_S // 3600)), 1.0 if weekday >= 5 else 0.0,
               0.0 if ev.currency == HOME_CURRENCY else 1.0]
        cust_key, crd_key, merch_key, addr_key = self._keys(ev)
        for key in (cust_key, crd_key, merch_key, addr_key):
            if key is None:
                row += [NAN] * _ENTITY_WIDTH
            else:
                row += _entity_features(self.states.get(key), t, ev.amount)
        row += self._customer_extra(self.states.get(cust_key), ev)
        row += _customer_history(row[len(TX_NAMES):len(TX_NAMES) + _ENTITY_WIDTH], ev.amount)
        row += _merchant_risk(self.states.get(merch_key) if merch_key else None, t,
                              known=merch_key is not None)
        return row

    @staticmethod
    def _keys(ev: TxEvent) -> tuple[str, str | None, str | None, str | None]:
        return (customer_key(ev.entity_id),
                card_key(ev.card_bin, ev.entity_id) if ev.card_bin else None,
                merchant_key(ev.merchant_id) if ev.merchant_id else None,
                ip_key(ev.ip_address) if ev.ip_address else None)

    def _customer_extra(self, state: FeatureState | None, ev: TxEvent) -> list[float]:
        if state is None:
            return [0.0, 0.0, 0.0, NAN, NAN]
        since = ev.time - DAY_S
        distinct = state.distinct or {}
        counts = [_seen_since(distinct.get(kind), since) for kind in DISTINCT_KINDS]
        km = changed = NAN
        if state.billing is not None and ev.latitude is not None and ev.longitude is not None:
            km = haversine_km(state.billing[0], state.billing[1], ev.latitude, ev.longitude)
            changed = 1.0 if km > BILLING_CHANGE_KM else 0.0
        return [*counts, km, changed]

    def _update_customer(self, state: FeatureState, ev: TxEvent, in_order: bool) -> None:
        if state.distinct is None:
            state.distinct = {kind: {} for kind in DISTINCT_KINDS}
        for kind, value in zip(DISTINCT_KINDS, (ev.ip_address, ev.user_agent, ev.merchant_id),
                               strict=True):
            if value:
                _remember(state.distinct[kind], _value_hash(value), ev.time, self.distinct_cap)
        if in_order and ev.latitude is not None and ev.longitude is not None:
            state.billing = (ev.latitude, ev.longitude)


def _event(tx: Transaction | TxEvent) -> TxEvent:
    return tx if isinstance(tx, TxEvent) else TxEvent.of(tx)


def _seen_since(seen: dict[int, float] | None, since: float) -> float:
    """How many values were last seen after ``since``, as a float feature."""
    if not seen:
        return 0.0
    times = seen.values()
    # Usually all of them: the set only keeps a day before its newest value.
    if min(times) > since:
        return float(len(seen))
    return float(sum(1 for last in times if last > since))


def _remember(seen: dict[int, float], value: int, t: float, cap: int) -> None:
    if t > seen.get(value, -math.inf):
        seen[value] = t
    # Prune what is older than the 24 h window, then enforce the cap (oldest out).
    newest = max(seen.values())
    for old in [h for h, s in seen.items() if s <= newest - DAY_S]:
        del seen[old]
    while len(seen) > cap:
        del seen[min(seen, key=seen.__getitem__)]


def _entity_features(state: FeatureState | None, t: float, amount: float) -> list[float]:
    if state is None:
        return [0.0, 0.0, NAN] * len(AMOUNT_WINDOWS) + [NAN, NAN, NAN]
    minute, hour = state.minute, state.hour
    c1h, s1h, _ = minute.window(0, int(t // minute.width))
    c24, s24, _, c7d, s7d, _, count, total, squares = hour.windows(int(t // hour.width))
    # count/total/squares are the 30-day window's.
    since = t - state.last_time if state.last_time > -math.inf else NAN
    if since == since:  # not NaN
        since = max(0.0, since)
    ratio = z = NAN
    if count >= 1:
        mean = total / count
        ratio = amount / mean if mean > 0 else NAN
        if count >= 2:
            variance = max(0.0, squares / count - mean * mean)
            z = (amount - mean) / max(math.sqrt(variance), MIN_STD)
    return [c1h, s1h, s1h / c1h if c1h else NAN, c24, s24, s24 / c24 if c24 else NAN,
            c7d, s7d, s7d / c7d if c7d else NAN, count, total, total / count if count else NAN,
            since, ratio, z]


def _customer_history(cust: list[float], amount: float) -> list[float]:
    # cust is the customer's _entity_features: (cnt, sum, mean) per AMOUNT_WINDOWS, then 3 more.
    cnt_24h, sum_24h, mean_24h, cnt_7d, sum_7d, mean_7d, cnt_30d, sum_30d = cust[3:11]
    older_cnt, older_sum = cnt_30d - cnt_7d, sum_30d - sum_7d
    older_mean = older_sum / older_cnt if older_cnt > 0 else NAN
    past_cnt, past_sum = cnt_30d - cnt_24h, sum_30d - sum_24h
    past_mean = past_sum / past_cnt if past_cnt > 0 else NAN
    return [_ratio(amount, older_mean), older_cnt, _ratio(amount, past_mean),
            _ratio(mean_24h, older_mean), _ratio(mean_7d, older_mean)]


def _ratio(a: float, b: float) -> float:
    return a / b if b == b and b > 0 and a == a else NAN


def merchant_risk(state: FeatureState | None, t: float, known: bool) -> list[float]:
    """Merchant-risk features (``MERCHANT_RISK_NAMES``) from a merchant's label state at t."""
    return _merchant_risk(state, t, known)


def _merchant_risk(state: FeatureState | None, t: float, known: bool) -> list[float]:
    if not known:
        return [NAN] * len(MERCHANT_RISK_NAMES)
    if state is None or state.labels is None:
        return [0.0, NAN] * len(LABEL_WINDOWS) + [0.0, 0.0, NAN]
    ring = state.labels
    at = ring.key(t)
    out: list[float] = []
    labels = 0.0
    for i in range(len(LABEL_WINDOWS)):
        labels, frauds, _ = ring.window(i, at)
        out += [frauds, frauds / labels if labels > 0 else NAN]
    since_fraud = (max(0.0, t - state.last_fraud_label)
                   if state.last_fraud_label > -math.inf else NAN)
    return [*out, labels, state.fraud_streak, since_fraud]


RISK_START = len(FEATURE_NAMES) - len(MERCHANT_RISK_NAMES)
"""Merchant risk closes the feature vector (the scorer takes it from the shared label store)."""


def served_row(store: FeatureStore, labels: FeatureStore, ev: TxEvent) -> list[float]:
    """The feature vector of ``ev`` exactly as the scorer serves it (pure).

    ``store`` is the state of the event's input partition (its customer's, card's,
    and the partition's share of its merchant's and IP's transactions); merchant
    risk comes from ``labels``, the store every scorer feeds with *all* labels.
    """
    row = store.row(ev)
    if ev.merchant_id:
        row[RISK_START:] = _merchant_risk(labels.states.get(merchant_key(ev.merchant_id)),
                                          ev.time, known=True)
    return row


def replay_order(events: Iterable[TxEvent], labels: Iterable[LabelEvent]
                 ) -> list[tuple[float, int, int]]:
    """Merge order of a history: ``(time, kind, index)`` with labels (kind 0) first at ties."""
    order = [(ev.time, 1, i) for i, ev in enumerate(events)]
    order += [(lb.time, 0, i) for i, lb in enumerate(labels)]
    order.sort()
    return order
