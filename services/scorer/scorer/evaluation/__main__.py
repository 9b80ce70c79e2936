"""Backtest a model: ``python -m scorer.evaluation``.

    python -m scorer.evaluation --data events.parquet --labels labels.csv \\
        [--train-start 2018-07-25 --train-days 7 --delay-days 7 --test-days 7] \\
        [--folds 4 --train-into .local/evaluate/models --cache .local/cache] \\
        [--partitions 6 --drop-features 'ip_cnt_*,ip_sum_*'] \\
        [--model services/scorer/scorer/data/models] --out reports/evaluation

Replays the features over the history (labels at arrival) and, with
``--train-into``, trains one model per fold on its training window (the
registry is a scratch folder; calibration on the delay window, so the test
window stays unseen), else backtests the ``--model`` given. Each fold's test
window is scored; with several folds the ranking metrics are averaged (the
Handbook's test protocol: four weekly prequential folds). Writes
``report.md``, ``report.json``, ``roc.png`` and ``pr.png``. The ranking
metrics use the models' raw margins; the outcome figures use the calibrated
scores and the starter rules' thresholds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scorer.evaluation.backtest import Thresholds, backtest
from scorer.evaluation.folds import cached_features, combine, fold_protocols, train_and_backtest
from scorer.evaluation.report import write_report
from scorer.model.core import DEFAULT_REGISTRY, Model
from scorer.model.data import load_history
from scorer.model.protocol import parse_day
from scorer.model.train import Prepared, add_data_options, drop_patterns, select_features


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m scorer.evaluation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--model", type=Path, default=DEFAULT_REGISTRY,
                        help="a version folder or a registry (its CURRENT version)")
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--review-score", type=int, default=Thresholds.review_score)
    parser.add_argument("--block-score", type=int, default=Thresholds.block_score)
    parser.add_argument("--large-amount", type=float, default=Thresholds.large_amount)
    parser.add_argument("--k", type=int, default=100, help="Card Precision@k")
    parser.add_argument("--folds", type=int, default=1,
                        help="weekly folds, each a test window after the previous one")
    parser.add_argument("--train-into", type=Path, default=None,
                        help="train a model per fold into this scratch registry")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder caching the replayed features by the files' hash")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the backtest and write the report."""
    started = time.monotonic()
    args = parse_args(argv)
    thresholds = Thresholds(args.review_score, args.block_score, args.large_amount)
    history = load_history(args.data, args.labels, args.delay_days)
    if not len(history):
        raise SystemExit("the events file is empty")
    protocols = fold_protocols(float(history.time.min()), float(history.time.max()),
                               parse_day(args.train_start), args.train_days,
                               args.delay_days, args.test_days, args.folds)
    matrix, seconds, hit = cached_features(history, args.data, args.labels, protocols,
                                           args.lateness_s, args.delay_days, args.cache,
                                           args.partitions)
    print(f"features: {'cache hit' if hit else 'replayed'} in {seconds:.0f} s", file=sys.stderr)
    if args.train_into is not None:
        results = train_and_backtest(history, matrix, seconds, protocols, args.train_into,
                                     thresholds, args.k, partitions=args.partitions,
                                     features=select_features(drop_patterns(args.drop_features)))
    else:
        model = Model.load(args.model)
        if model.partitions != args.partitions:
            print(f"warning: {model.version} was trained for {model.partitions} partition(s), "
                  f"the features are replayed for {args.partitions}", file=sys.stderr)
        results = [backtest(model, Prepared(history, p, matrix, seconds, args.partitions),
                            thresholds, args.k) for p in protocols]
    result = combine(results, args.k)
    path = write_report(result, args.out, time.monotonic() - started)
    for fold in result["folds"]:
        print(f"fold train {fold['train_start']}: AUC {fold['auc_roc']:.3f}  "
              f"AP {fold['average_precision']:.3f}  "
              f"CP@{args.k} {fold[f'card_precision_at_{args.k}']:.3f}", file=sys.stderr)
    hb = result["handbook_test_set"]
    print(f"mean of {len(results)}: AUC {hb['auc_roc']:.3f}  AP {hb['average_precision']:.3f}  "
          f"CP@{args.k} {hb[f'card_precision_at_{args.k}']:.3f}  → {path} "
          f"({result['wall_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
