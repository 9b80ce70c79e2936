"""Train the embedded model: ``python -m scorer.model.train``.

    python -m scorer.model.train --data events.parquet --labels labels.csv \\
        [--train-start 2018-07-25 --train-days 7 --delay-days 7 --test-days 7] \\
        [--partitions 6] --out services/scorer/scorer/data/models

Follows the Handbook's protocol (:mod:`scorer.model.protocol`): features are
replayed over the whole history with labels applied when they arrive, the
booster learns from the training window, and the window after the delay is
the validation data that calibrates the scores (:mod:`scorer.model.calibration`)
and whose metrics are stored in ``metadata.json``. The features are those of a
scorer group reading a ``transactions`` topic of ``--partitions`` partitions
(merchant and IP aggregates per partition, see :mod:`scorer.features.offline`);
the count is recorded in the metadata and the scorer warns when its topic has
another. Hyper-parameters are fixed
(no early stopping on that window, so its metrics stay honest).
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from scorer.evaluation.metrics import average_precision, card_precision_at_k, roc_auc
from scorer.features import DEFAULT_PARTITIONS, FEATURE_NAMES, replay
from scorer.model.calibration import Calibration
from scorer.model.core import DEFAULT_REGISTRY, MODEL_NAME, save
from scorer.model.data import History, load_history
from scorer.model.protocol import DAY_S, Protocol, parse_day

PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_child_samples": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "deterministic": True,
    "num_threads": 2,
}
ROUNDS = 200
# Chosen on the Handbook setting's four prequential folds (mean test AUC/AP/CP@100);
# 31 leaves or 300 rounds scored the same and doubled the artifact's size.


@dataclass(frozen=True)
class Prepared:
    """A history, its protocol and its feature matrix."""

    history: History
    protocol: Protocol
    matrix: npt.NDArray[np.float64]
    feature_seconds: float
    partitions: int = 1
    """The input partition count the features were replayed for."""


def prepare(data: str | Path, labels: str | Path, train_start: datetime | None,
            train_days: int, delay_days: int, test_days: int, lateness_s: float = 3600.0,
            partitions: int = DEFAULT_PARTITIONS) -> Prepared:
    """Load, choose the windows, and replay the features up to the end of the test window."""
    history = load_history(data, labels, delay_days)
    if not len(history):
        raise ValueError("the events file is empty")
    protocol = Protocol.fit_to(float(history.time.min()), float(history.time.max()),
                               train_start, train_days, delay_days, test_days)
    started = time.monotonic()
    matrix = replay(history.events, history.labels, partitions=partitions,
                    lateness_s=lateness_s, stop_at=protocol.test_end_s)
    return Prepared(history, protocol, matrix, time.monotonic() - started, partitions)


def select_features(drop: Sequence[str] = ()) -> list[str]:
    """``FEATURE_NAMES`` without those matching any of the ``drop`` glob patterns."""
    unknown = [p for p in drop if not fnmatch.filter(FEATURE_NAMES, p)]
    if unknown:
        raise ValueError(f"no feature matches {unknown}")
    return [n for n in FEATURE_NAMES if not any(fnmatch.fnmatchcase(n, p) for p in drop)]


def fit(matrix: npt.NDArray[np.float64], y: npt.NDArray[np.bool_], rounds: int = ROUNDS,
        seed: int = 0, params: dict[str, Any] | None = None,
        names: Sequence[str] = FEATURE_NAMES) -> lgb.Booster:
    """A LightGBM binary booster."""
    chosen = {**PARAMS, **(params or {}), "seed": seed}
    dataset = lgb.Dataset(matrix, label=y.astype(float), feature_name=list(names),
                          free_raw_data=True)
    return lgb.train(chosen, dataset, num_boost_round=rounds)


def validation_metrics(raw: npt.NDArray[np.float64], prepared: Prepared,
                       rows: npt.NDArray[np.bool_]) -> dict[str, float]:
    """AUC, AP and CP@100 of raw margins on ``rows`` (a mask over the history)."""
    h, p = prepared.history, prepared.protocol
    y = h.is_fraud[rows]
    cp, _ = card_precision_at_k(p.test_day(h.time[rows]), h.customer[rows], y, raw, 100)
    return {"auc_roc": roc_auc(y, raw), "average_precision": average_precision(y, raw),
            "card_precision_at_100": cp, "transactions": int(rows.sum()),
            "frauds": int(y.sum())}


def train(prepared: Prepared, rounds: int = ROUNDS, seed: int = 0,
          params: dict[str, Any] | None = None, calibrate_on_delay: bool = False,
          features: Sequence[str] = FEATURE_NAMES) -> tuple[lgb.Booster, dict[str, Any]]:
    """Fit on the training window, calibrate, and measure on the validation window.

    ``features`` (a subset of the replayed ``FEATURE_NAMES``) are the model's inputs.

    The calibration uses the validation window's legitimate transactions, or
    with ``calibrate_on_delay`` every transaction of the delay window (their
    labels have not arrived when the model is deployed, but 99 % of them are
    legitimate): a backtest then keeps its test window unseen.
    """
    h, p = prepared.history, prepared.protocol
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    matrix = prepared.matrix[:, [index[name] for name in features]]
    train_rows = p.train_mask(h.time)
    valid_rows = p.test_mask(h.time)
    if not h.is_fraud[train_rows].any():
        raise ValueError("no fraud in the training window: nothing to learn")
    if not valid_rows.any() or h.is_fraud[valid_rows].all():
        raise ValueError("no legitimate transactions in the validation window to calibrate on")
    started = time.monotonic()
    booster = fit(matrix[train_rows], h.is_fraud[train_rows], rounds, seed, params, features)
    fit_seconds = time.monotonic() - started
    raw = np.asarray(booster.predict(matrix[valid_rows], raw_score=True), dtype=float)
    if calibrate_on_delay and p.delay_days > 0:
        delay_rows = (h.time >= p.start_s + p.train_days * DAY_S) & (h.time < p.test_start_s)
        calibration = Calibration.fit(np.asarray(
            booster.predict(matrix[delay_rows], raw_score=True), dtype=float))
        calibrated_on = "every transaction of the delay window (labels not yet arrived)"
    else:
        calibration = Calibration.fit(raw[~h.is_fraud[valid_rows]])
        calibrated_on = "the legitimate transactions of the validation window"
    unknown = p.unknown_customers_mask(h.time, h.customer, h.is_fraud)
    raw_unknown = np.asarray(booster.predict(matrix[unknown], raw_score=True),
                             dtype=float)
    created = datetime.now(UTC)
    metadata: dict[str, Any] = {
        "name": MODEL_NAME,
        "version": f"lgbm-{created:%Y%m%d-%H%M%S}",
        "created_at": created.isoformat(timespec="seconds"),
        "algorithm": f"lightgbm {lgb.__version__} binary",
        "params": {**PARAMS, **(params or {}), "seed": seed, "rounds": rounds},
        "features": list(features),
        "partitions": prepared.partitions,
        "partitions_doc": "features computed per partition of a transactions topic of this "
                          "many partitions keyed by entity_id (Kafka's default partitioner)",
        "protocol": p.describe(),
        "training": {"transactions": int(train_rows.sum()),
                     "frauds": int(h.is_fraud[train_rows].sum()),
                     "feature_seconds": round(prepared.feature_seconds, 1),
                     "fit_seconds": round(fit_seconds, 1)},
        "metrics": {
            "validation_all": validation_metrics(raw, prepared, valid_rows),
            "validation_handbook": validation_metrics(raw_unknown, prepared, unknown),
        },
        "calibration_doc": f"score s ⇔ share fpr(s) of {calibrated_on} scoring ≥ s; "
                           "see scorer.model.calibration",
        "calibration": calibration.table(),
        "data": h.describe(),
    }
    return booster, metadata


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (shared with the evaluation)."""
    parser = argparse.ArgumentParser(prog="python -m scorer.model.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--out", type=Path, default=DEFAULT_REGISTRY, help="model registry")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--num-leaves", type=int, default=PARAMS["num_leaves"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-promote", action="store_true",
                        help="do not point the registry's CURRENT at the new version")
    return parser.parse_args(argv)


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """``--data --labels`` and the protocol's windows."""
    parser.add_argument("--data", type=Path, required=True,
                        help="events in the transactions contract (.parquet, .jsonl, .csv)")
    parser.add_argument("--labels", type=Path, required=True,
                        help="CSV with event_id,label[,labelled_at]")
    parser.add_argument("--train-start", default=None,
                        help="YYYY-MM-DD (default: the latest windows that fit the data)")
    parser.add_argument("--train-days", type=int, default=7)
    parser.add_argument("--delay-days", type=int, default=7)
    parser.add_argument("--test-days", type=int, default=7)
    parser.add_argument("--lateness-s", type=float, default=3600.0)
    parser.add_argument("--partitions", type=int, default=DEFAULT_PARTITIONS,
                        help="partitions of the transactions topic the scorers read "
                             f"(default {DEFAULT_PARTITIONS}, the services' "
                             "KAFKA_TOPIC_PARTITIONS default)")
    parser.add_argument("--drop-features", default="",
                        help="comma-separated glob patterns of features to leave out")


def drop_patterns(text: str) -> list[str]:
    """The ``--drop-features`` patterns."""
    return [p.strip() for p in text.split(",") if p.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """Train, save into the registry and print the validation metrics."""
    args = parse_args(argv)
    prepared = prepare(args.data, args.labels, parse_day(args.train_start), args.train_days,
                       args.delay_days, args.test_days, args.lateness_s, args.partitions)
    booster, metadata = train(prepared, args.rounds, args.seed,
                              {"num_leaves": args.num_leaves},
                              features=select_features(drop_patterns(args.drop_features)))
    folder = save(booster, metadata, args.out, promote=not args.no_promote)
    for name, values in metadata["metrics"].items():
        print(f"{name}: " + ", ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                      for k, v in values.items()), file=sys.stderr)
    print(f"saved {folder} (features {prepared.feature_seconds:.0f}s, "
          f"fit {metadata['training']['fit_seconds']}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
