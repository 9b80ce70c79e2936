"""The compiled feature store: :class:`FeatureStore`'s serving and changelog API in Rust.

``scorer_native`` (the ``native`` extra, built from ``services/scorer/native``
when a Rust toolchain is present) holds the per-entity state in Rust and
computes the same rows and writes the same changelog bytes as
:class:`~scorer.features.store.FeatureStore`, which stays the reference: the
offline replay that trains the model runs the Python store, and a parity test
drives both with the same streams and compares every float and every byte.

Which one the scorer runs is ``SCORER_FEATURE_STORE``: ``auto`` (the default:
native when installed, else Python), ``native`` (fail at start without it) or
``python``. Changelogs are interchangeable: either store restores the other's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeAlias

import numpy as np

from fraudstream_shared.events import Transaction, TransactionLabel
from scorer.features.state import FeatureState
from scorer.features.store import (
    DAY_S,
    FEATURE_NAMES,
    FeatureStore,
    LabelEvent,
    TxEvent,
)

try:
    import scorer_native
except ImportError:  # built only where a Rust toolchain was present at install time
    scorer_native = None

StoreKind = Literal["auto", "native", "python"]
AnyFeatureStore: TypeAlias = "FeatureStore | NativeFeatureStore"


def native_available() -> bool:
    """Whether the compiled store is installed (and built for this feature layout)."""
    return (scorer_native is not None
            and getattr(scorer_native, "FEATURE_COUNT", None) == len(FEATURE_NAMES))


def resolve_store_kind(requested: StoreKind) -> Literal["native", "python"]:
    """The store ``requested`` means here; ``RuntimeError`` for ``native`` when it is missing."""
    if requested == "python":
        return "python"
    if native_available():
        return "native"
    if requested == "native":
        raise RuntimeError(
            "SCORER_FEATURE_STORE=native, but the compiled feature store (scorer_native) is "
            "not installed: install a Rust toolchain (https://rustup.rs) and run `make install`, "
            "or set SCORER_FEATURE_STORE=python (same features, more CPU per event)")
    return "python"


def new_feature_store(kind: Literal["native", "python"], *, lateness_s: float = 3600.0,
                      ttl_s: float = 35 * DAY_S, distinct_cap: int = 64) -> AnyFeatureStore:
    """An empty store of ``kind`` (as :func:`resolve_store_kind` gives it)."""
    if kind == "native":
        return NativeFeatureStore(lateness_s=lateness_s, ttl_s=ttl_s, distinct_cap=distinct_cap)
    return FeatureStore(lateness_s=lateness_s, ttl_s=ttl_s, distinct_cap=distinct_cap)


def _event(tx: Transaction | TxEvent) -> TxEvent:
    return tx if isinstance(tx, TxEvent) else TxEvent.of(tx)


def _binary(record: bytes | None) -> bytes | None:
    """A version-1 (JSON) snapshot rewritten as version 2; other records as they are.

    The compiled store reads the binary forms only; JSON snapshots come from
    changelogs written before 2026-11-26 and are rare, so Python converts them.
    """
    if record is not None and record[:1] == b"{":
        return FeatureState.decode(record).encode()
    return record


class NativeFeatureStore:
    """The API of :class:`FeatureStore` the scorer uses, on the compiled store.

    Entity state lives in Rust and is not visible as ``states``; use
    :meth:`snapshot` to read one entity's state (decoded by
    :meth:`FeatureState.decode`).
    """

    def __init__(self, lateness_s: float = 3600.0, ttl_s: float = 35 * DAY_S,
                 distinct_cap: int = 64) -> None:
        if scorer_native is None:
            raise RuntimeError("the compiled feature store (scorer_native) is not installed")
        self._core: Any = scorer_native.NativeStore(lateness_s, ttl_s, distinct_cap)

    @property
    def lateness_s(self) -> float:
        return float(self._core.lateness_s)

    @property
    def ttl_s(self) -> float:
        return float(self._core.ttl_s)

    @property
    def distinct_cap(self) -> int:
        return int(self._core.distinct_cap)

    @property
    def watermark(self) -> float:
        """The newest event time seen (``-inf`` before the first)."""
        return float(self._core.watermark)

    @property
    def late_dropped(self) -> int:
        """Events too late to update the state (scored, not added)."""
        return int(self._core.late_dropped)

    def __len__(self) -> int:
        return int(self._core.__len__())

    def keys(self) -> list[str]:
        """The entity keys held, sorted."""
        return list(self._core.keys())

    # -- serving ----------------------------------------------------------

    def served_rows(self, events: Sequence[TxEvent], labels: object) -> np.ndarray:
        """As :meth:`FeatureStore.served_rows`: each event's served row, then its update."""
        if not isinstance(labels, NativeFeatureStore):
            raise TypeError("a compiled store serves merchant risk from a compiled label store")
        data = self._core.served_rows(events, labels._core)
        return np.frombuffer(data, dtype="<f8").reshape(len(events), len(FEATURE_NAMES))

    def row(self, ev: TxEvent) -> list[float]:
        """As :meth:`FeatureStore.row` (pure)."""
        return list(self._core.row(ev))

    def features_for(self, tx: Transaction | TxEvent) -> dict[str, float]:
        """As :meth:`FeatureStore.features_for`."""
        return dict(zip(FEATURE_NAMES, self._core.row(_event(tx)), strict=True))

    def update(self, tx: Transaction | TxEvent) -> bool:
        """As :meth:`FeatureStore.update`."""
        return bool(self._core.update(_event(tx)))

    def score_features(self, tx: Transaction | TxEvent) -> dict[str, float]:
        """As :meth:`FeatureStore.score_features`."""
        ev = _event(tx)
        features = self.features_for(ev)
        self.update(ev)
        return features

    def apply_label(self, label: TransactionLabel | LabelEvent) -> bool:
        """As :meth:`FeatureStore.apply_label`."""
        ev = LabelEvent.of(label) if isinstance(label, TransactionLabel) else label
        return bool(self._core.apply_label(ev.time, ev.merchant_id, ev.is_fraud))

    def expire(self, now: float | datetime) -> int:
        """As :meth:`FeatureStore.expire`."""
        now_s = now.timestamp() if isinstance(now, datetime) else float(now)
        return int(self._core.expire(now_s))

    # -- changelog ---------------------------------------------------------

    def clear_dirty(self) -> None:
        """As :meth:`FeatureStore.clear_dirty`."""
        self._core.clear_dirty()

    def changelog_records(self) -> list[tuple[str, bytes | None]]:
        """As :meth:`FeatureStore.changelog_records`: the same keys, order and bytes."""
        return list(self._core.changelog_records())

    def restore_changelog(self, latest: Mapping[str, bytes | None]) -> None:
        """As :meth:`FeatureStore.restore_changelog` (version-1 JSON records included)."""
        if any(v is not None and v[:1] == b"{" for v in latest.values()):
            latest = {key: _binary(value) for key, value in latest.items()}
        self._core.restore_changelog(dict(latest))

    def snapshot(self, key: str) -> bytes | None:
        """As :meth:`FeatureStore.snapshot`."""
        data = self._core.snapshot(key)
        return None if data is None else bytes(data)

    def restore(self, key: str, data: bytes | None) -> None:
        """As :meth:`FeatureStore.restore`."""
        self._core.restore(key, _binary(data))

    def memory_report(self) -> dict[str, float]:
        """As :meth:`FeatureStore.memory_report`."""
        return {name: (value if name != "entities" else int(value))
                for name, value in dict(self._core.memory_report()).items()}

