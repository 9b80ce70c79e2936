"""Weekly folds of the protocol, a feature cache, and train-then-backtest per fold.

The Handbook measures its models' test performance as the mean over four
prequential folds: training weeks starting 2018-07-25, 08-01, 08-08 and 08-15,
each followed by the 7-day delay and a test week (chapter 5.3, "Model
selection"). :func:`fold_protocols` builds such folds; :func:`cached_features`
replays the features once per data set (keyed by the files' hashes) so that
every fold, and every later run, reuses them.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from scorer.evaluation.backtest import Thresholds, backtest
from scorer.features import FEATURE_NAMES, replay
from scorer.model.core import Model, save
from scorer.model.data import History
from scorer.model.protocol import DAY_S, Protocol
from scorer.model.train import Prepared, train

CACHE_FORMAT = 2
"""Bump when the replay changes in a way FEATURE_NAMES does not show (2: merchant risk
from a separate label store, input partitions in the key)."""


def fold_protocols(first: float, last: float, train_start: datetime | None, train_days: int,
                   delay_days: int, test_days: int, folds: int) -> list[Protocol]:
    """``folds`` protocols a test window apart; the first starts at ``train_start``.

    Without ``train_start`` the last fold is the latest that fits in the data.
    """
    if folds < 1:
        raise ValueError("at least one fold")
    if train_start is None:
        latest = Protocol.fit_to(first, last, None, train_days, delay_days, test_days)
        train_start = latest.train_start - timedelta(days=(folds - 1) * test_days)
    protocols = [Protocol.fit_to(first, last, train_start + timedelta(days=i * test_days),
                                 train_days, delay_days, test_days) for i in range(folds)]
    if protocols[0].start_s < first - DAY_S or protocols[-1].test_end_s > last + DAY_S:
        raise ValueError("the folds do not fit in the data's time span")
    return protocols


def file_digest(*paths: str | Path) -> str:
    """SHA-256 over the files' bytes."""
    digest = hashlib.sha256()
    for path in paths:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def needed_rows(time_s: npt.NDArray[np.float64], protocols: Sequence[Protocol]
                ) -> npt.NDArray[np.bool_]:
    """Rows in some fold's training or test window (the only ones models see)."""
    keep = np.zeros(len(time_s), dtype=bool)
    for p in protocols:
        keep |= p.train_mask(time_s) | p.test_mask(time_s)
    return keep


def cached_features(history: History, data: str | Path, labels: str | Path,
                    protocols: Sequence[Protocol], lateness_s: float, delay_days: int,
                    cache: Path | None, partitions: int = 1
                    ) -> tuple[npt.NDArray[np.float64], float, bool]:
    """The replayed feature matrix (NaN outside the folds' windows), seconds, cache hit.

    The cache key covers everything the replay depends on, the partition count
    included (a model for 6 partitions must not reuse features replayed for 1).
    """
    keep = needed_rows(history.time, protocols)
    stop = max(p.test_end_s for p in protocols)
    key = hashlib.sha256(json.dumps([CACHE_FORMAT, file_digest(data, labels), FEATURE_NAMES,
                                     lateness_s, delay_days, stop, int(keep.sum()),
                                     partitions]).encode()).hexdigest()[:20]
    path = None if cache is None else cache / f"features-{key}.npy"
    started = time.monotonic()
    if path is not None and path.exists():
        matrix = np.full((len(history), len(FEATURE_NAMES)), np.nan)
        matrix[keep] = np.load(path)
        return matrix, time.monotonic() - started, True
    matrix = replay(history.events, history.labels, partitions=partitions,
                    lateness_s=lateness_s, stop_at=stop)
    matrix[~keep] = np.nan
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp.npy")
        np.save(partial, matrix[keep])
        partial.replace(path)  # atomic: an interrupted run leaves no half file
    return matrix, time.monotonic() - started, False


def train_and_backtest(history: History, matrix: npt.NDArray[np.float64],
                       feature_seconds: float, protocols: Sequence[Protocol],
                       registry: Path, thresholds: Thresholds, k: int = 100,
                       rounds: int | None = None, partitions: int = 1,
                       features: Sequence[str] = FEATURE_NAMES) -> list[dict[str, Any]]:
    """Per fold: train on its week into ``registry``, load it back, backtest its test week."""
    results = []
    for i, protocol in enumerate(protocols):
        prepared = Prepared(history, protocol, matrix, feature_seconds, partitions)
        kwargs: dict[str, Any] = {} if rounds is None else {"rounds": rounds}
        booster, metadata = train(prepared, calibrate_on_delay=True, features=features,
                                  **kwargs)
        metadata = {**metadata, "version": f"{metadata['version']}-fold{i + 1}"}
        folder = save(booster, metadata, registry, promote=False)
        results.append(backtest(Model.load(folder), prepared, thresholds, k))
    return results


def combine(results: Sequence[dict[str, Any]], k: int = 100) -> dict[str, Any]:
    """One report from the folds: mean ranking metrics, summed outcomes, pooled curves."""
    if len(results) == 1:
        return {**results[0], "folds": [_fold_row(results[0], k)]}
    names = ("auc_roc", "average_precision", f"card_precision_at_{k}")
    out = dict(results[-1])
    for part in ("handbook_test_set", "all_test_transactions"):
        merged: dict[str, Any] = {n: float(np.mean([r[part][n] for r in results]))
                                  for n in names}
        merged.update({f"{n}_std": float(np.std([r[part][n] for r in results]))
                       for n in names})
        merged[f"card_precision_at_{k}_daily"] = [
            v for r in results for v in r[part][f"card_precision_at_{k}_daily"]]
        for count in ("transactions", "frauds", "fraud_customer_days"):
            merged[count] = sum(r[part][count] for r in results)
        out[part] = merged
    out["protocol"] = {**results[0]["protocol"],
                       "folds": len(results),
                       "test_end_exclusive": results[-1]["protocol"]["test_end_exclusive"]}
    out["confusion"] = {o: {f: _round(sum(r["confusion"][o][f] for r in results))
                            for f in results[0]["confusion"][o]}
                        for o in results[0]["confusion"]}
    out["scenarios"] = _sum_scenarios([r.get("scenarios", {}) for r in results])
    out["alerts_per_day"] = [d for r in results for d in r["alerts_per_day"]]
    out["amount"] = {n: round(sum(r["amount"][n] for r in results), 2)
                     for n in results[0]["amount"]}
    legit = max(sum(v["legit"] for v in out["confusion"].values()), 1)
    out["thresholds"] = {
        **results[0]["thresholds"],
        "review_or_block_fpr_observed": (out["confusion"]["review"]["legit"]
                                         + out["confusion"]["block"]["legit"]) / legit,
        "block_fpr_observed": out["confusion"]["block"]["legit"] / legit,
    }
    out["model"] = {"name": results[0]["model"]["name"],
                    "version": f"{len(results)} fold models ("
                               + ", ".join(r["model"]["version"] for r in results) + ")"}
    out["_curves"] = {"y": np.concatenate([r["_curves"]["y"] for r in results]),
                      "raw": np.concatenate([r["_curves"]["raw"] for r in results])}
    out["folds"] = [_fold_row(r, k) for r in results]
    return out


def _sum_scenarios(parts: Sequence[dict[str, dict[str, float]]]
                   ) -> dict[str, dict[str, float]]:
    total: dict[str, dict[str, float]] = {}
    for part in parts:
        for name, row in part.items():
            into = total.setdefault(name, dict.fromkeys(row, 0))
            for field, value in row.items():
                into[field] = _round(into[field] + value)
    return dict(sorted(total.items()))


def _round(value: float) -> float:
    return round(value, 2) if isinstance(value, float) else value


def _fold_row(result: dict[str, Any], k: int) -> dict[str, Any]:
    hb = result["handbook_test_set"]
    return {"train_start": result["protocol"]["train_start"],
            "test_start": result["protocol"]["test_start"],
            "auc_roc": hb["auc_roc"], "average_precision": hb["average_precision"],
            f"card_precision_at_{k}": hb[f"card_precision_at_{k}"],
            "transactions": hb["transactions"], "frauds": hb["frauds"]}
