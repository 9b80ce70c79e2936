"""Stateful features: per-entity windows updated in event-time order, one code path.

The scorer holds a feature store per input partition and a shared label store;
training and evaluation replay a history through the same code, split the same
way (:class:`PartitionedStores`, :func:`replay`/:func:`compute_offline` with
``partitions=N``). :class:`FeatureStore` is the reference implementation; the
scorer runs its compiled twin when it is built (:mod:`scorer.features.native`).
"""

from scorer.features.offline import PartitionedStores, compute_offline, replay
from scorer.features.partitioning import DEFAULT_PARTITIONS, partition_of
from scorer.features.state import FeatureState
from scorer.features.store import (
    FEATURE_NAMES,
    FeatureStore,
    LabelEvent,
    TxEvent,
    card_key,
    customer_key,
    ip_key,
    merchant_key,
    served_row,
    vectorize,
)

__all__ = [
    "DEFAULT_PARTITIONS",
    "FEATURE_NAMES",
    "FeatureState",
    "FeatureStore",
    "LabelEvent",
    "PartitionedStores",
    "TxEvent",
    "card_key",
    "compute_offline",
    "customer_key",
    "ip_key",
    "merchant_key",
    "partition_of",
    "replay",
    "served_row",
    "vectorize",
]
