"""Offline features: replay a history through the serving code, as the scorers see it.

The scorer keeps one :class:`FeatureStore` per input partition of the
``transactions`` topic (keyed by customer) and one label store that every
scorer instance fills with *all* labels (merchant risk is global). The replay
does the same: each event goes to the partition Kafka's default partitioner
picks for its key (:func:`scorer.features.partitioning.partition_of`), its row
is :func:`~scorer.features.store.served_row` of that partition's store and the
shared label store, and labels are applied to the label store when they arrive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fraudstream_shared.events import Transaction, TransactionLabel
from scorer.features.partitioning import partition_of
from scorer.features.store import (
    FEATURE_NAMES,
    FeatureStore,
    LabelEvent,
    TxEvent,
    replay_order,
    served_row,
)


@dataclass
class PartitionedStores:
    """What a scorer group holds: a store per input partition and the shared label store."""

    partitions: int = 1
    lateness_s: float = 3600.0
    stores: list[FeatureStore] = field(init=False)
    labels: FeatureStore = field(init=False)
    _partition_of: dict[str, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError("at least one partition")
        self.stores = [FeatureStore(lateness_s=self.lateness_s) for _ in range(self.partitions)]
        self.labels = FeatureStore(lateness_s=self.lateness_s)

    def store_for(self, entity_id: str) -> FeatureStore:
        """The store of the partition a customer's transactions land on."""
        p = self._partition_of.get(entity_id)
        if p is None:
            p = self._partition_of[entity_id] = partition_of(entity_id, self.partitions)
        return self.stores[p]

    def score(self, ev: TxEvent) -> list[float]:
        """The event's served feature row, then the event is added to its partition."""
        store = self.store_for(ev.entity_id)
        row = served_row(store, self.labels, ev)
        store.update(ev)
        return row

    def apply_label(self, label: LabelEvent) -> None:
        """An arrived label counts in the (global) merchant risk."""
        self.labels.apply_label(label)


def replay(events: Sequence[TxEvent], labels: Sequence[LabelEvent], *,
           partitions: int = 1, lateness_s: float = 3600.0, stop_at: float | None = None
           ) -> npt.NDArray[np.float64]:
    """Feature rows of ``events`` (in their given order) from a time-ordered replay.

    ``partitions`` is the input topic's partition count the features are
    computed for (1 = every transaction in one store). Events and labels are
    merged by time (a label whose ``labelled_at`` equals an event's time is
    applied first: it has arrived). Each event's row is computed before the
    event updates its partition's state, exactly as the scorer does. Events
    after ``stop_at`` (epoch seconds) are neither computed nor applied (their
    rows stay NaN).
    """
    state = PartitionedStores(partitions, lateness_s)
    matrix = np.full((len(events), len(FEATURE_NAMES)), np.nan)
    for time, kind, index in replay_order(events, labels):
        if stop_at is not None and time > stop_at:
            break
        if kind == 0:
            state.apply_label(labels[index])
        else:
            matrix[index] = state.score(events[index])
    return matrix


def compute_offline(events: Iterable[Transaction], labels: Iterable[TransactionLabel], *,
                    partitions: int = 1, lateness_s: float = 3600.0
                    ) -> tuple[npt.NDArray[np.float64], list[str]]:
    """The feature matrix (rows in ``events`` order) and the column names."""
    tx_events = [TxEvent.of(tx) for tx in events]
    label_events = [LabelEvent.of(label) for label in labels]
    return (replay(tx_events, label_events, partitions=partitions, lateness_s=lateness_s),
            list(FEATURE_NAMES))
