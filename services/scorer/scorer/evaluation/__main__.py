"""Backtest a model: ``python -m scorer.evaluation``.

    python -m scorer.evaluation --data events.parquet --labels labels.csv \\
        [--train-start 2018-07-25 --train-days 7 --delay-days 7 --test-days 7] \\
        --model services/scorer/scorer/data/models --out reports/

Replays the features over the history (labels at arrival), scores the test
window of the protocol and writes ``report.md``, ``report.json``, ``roc.png``
and ``pr.png``. The ranking metrics use the model's raw margins; the outcome
figures use its calibrated scores and the starter rules' thresholds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scorer.evaluation.backtest import Thresholds, backtest
from scorer.evaluation.report import write_report
from scorer.model.core import DEFAULT_REGISTRY, Model
from scorer.model.protocol import parse_day
from scorer.model.train import add_data_options, prepare


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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the backtest and write the report."""
    started = time.monotonic()
    args = parse_args(argv)
    model = Model.load(args.model)
    prepared = prepare(args.data, args.labels, parse_day(args.train_start), args.train_days,
                       args.delay_days, args.test_days, args.lateness_s)
    result = backtest(model, prepared,
                      Thresholds(args.review_score, args.block_score, args.large_amount), args.k)
    path = write_report(result, args.out, time.monotonic() - started)
    hb = result["handbook_test_set"]
    print(f"AUC {hb['auc_roc']:.3f}  AP {hb['average_precision']:.3f}  "
          f"CP@{args.k} {hb[f'card_precision_at_{args.k}']:.3f}  → {path} "
          f"({result['wall_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
