"""Stateful features: per-entity windows updated in event-time order, one code path.

The scorer worker holds a :class:`FeatureStore`; training and evaluation replay
a history through the same store with :func:`replay`/:func:`compute_offline`.
"""

from scorer.features.offline import compute_offline, replay
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
    vectorize,
)

__all__ = [
    "FEATURE_NAMES",
    "FeatureState",
    "FeatureStore",
    "LabelEvent",
    "TxEvent",
    "card_key",
    "compute_offline",
    "customer_key",
    "ip_key",
    "merchant_key",
    "replay",
    "vectorize",
]
