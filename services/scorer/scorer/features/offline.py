"""Offline features: replay a history through the serving code, labels at their arrival."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from fraudstream_shared.events import Transaction, TransactionLabel
from scorer.features.store import (
    FEATURE_NAMES,
    FeatureStore,
    LabelEvent,
    TxEvent,
    replay_order,
)


def replay(events: Sequence[TxEvent], labels: Sequence[LabelEvent],
           store: FeatureStore | None = None, *, stop_at: float | None = None
           ) -> npt.NDArray[np.float64]:
    """Feature rows of ``events`` (in their given order) from a time-ordered replay.

    Events and labels are merged by time (a label whose ``labelled_at`` equals
    an event's time is applied first: it has arrived). Each event's row is
    computed before the event updates the state, exactly as
    :meth:`FeatureStore.score_features` does online. Events after ``stop_at``
    (epoch seconds) are neither computed nor applied (their rows stay NaN).
    """
    store = store or FeatureStore()
    matrix = np.full((len(events), len(FEATURE_NAMES)), np.nan)
    for time, kind, index in replay_order(events, labels):
        if stop_at is not None and time > stop_at:
            break
        if kind == 0:
            store.apply_label(labels[index])
        else:
            ev = events[index]
            matrix[index] = store.row(ev)
            store.update(ev)
    return matrix


def compute_offline(events: Iterable[Transaction], labels: Iterable[TransactionLabel],
                    store: FeatureStore | None = None
                    ) -> tuple[npt.NDArray[np.float64], list[str]]:
    """The feature matrix (rows in ``events`` order) and the column names."""
    tx_events = [TxEvent.of(tx) for tx in events]
    label_events = [LabelEvent.of(label) for label in labels]
    return replay(tx_events, label_events, store), list(FEATURE_NAMES)
