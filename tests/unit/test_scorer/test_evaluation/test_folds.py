"""Weekly folds, the feature cache and the combination of fold results."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from scorer.evaluation.backtest import by_scenario
from scorer.evaluation.folds import combine, file_digest, fold_protocols, needed_rows
from scorer.evaluation.report import scenario_table

DAY = 86_400.0
START = datetime(2018, 4, 1, tzinfo=UTC).timestamp()


def test_folds_follow_each_other_by_a_test_window() -> None:
    folds = fold_protocols(START, START + 183 * DAY, datetime(2018, 7, 25, tzinfo=UTC),
                           7, 7, 7, 4)
    assert [p.describe()["train_start"] for p in folds] == [
        "2018-07-25", "2018-08-01", "2018-08-08", "2018-08-15"]
    assert folds[-1].describe()["test_start"] == "2018-08-29"


def test_without_a_start_the_last_fold_is_the_latest_that_fits() -> None:
    last = START + 60 * DAY + 3600
    folds = fold_protocols(START, last, None, 7, 7, 7, 2)
    assert folds[-1].test_end_s <= last
    assert folds[-1].test_end_s > last - DAY
    assert folds[1].start_s - folds[0].start_s == 7 * DAY


def test_folds_outside_the_data_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        fold_protocols(START, START + 30 * DAY, datetime(2018, 4, 20, tzinfo=UTC), 7, 7, 7, 2)


def test_needed_rows_are_the_training_and_test_windows() -> None:
    folds = fold_protocols(START, START + 40 * DAY, datetime(2018, 4, 1, tzinfo=UTC),
                           7, 7, 7, 1)
    times = START + np.array([0.5, 8.5, 15.5, 22.5, 30.0]) * DAY
    assert needed_rows(times, folds).tolist() == [True, False, True, False, False]


def test_file_digest_changes_with_the_content(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_text("x")
    b.write_text("y")
    assert file_digest(a, b) != file_digest(b, a)
    assert file_digest(a) == file_digest(a)


def _fold(train_start: str, auc: float, blocked_legit: int) -> dict[str, object]:
    metrics = {"auc_roc": auc, "average_precision": auc / 2, "card_precision_at_100": 0.3,
               "card_precision_at_100_daily": [0.3], "transactions": 10, "frauds": 2,
               "fraud_customer_days": 2}
    return {
        "model": {"name": "fraudstream", "version": train_start},
        "protocol": {"train_start": train_start, "test_start": "later", "folds": 1,
                     "test_end_exclusive": train_start},
        "handbook_test_set": metrics, "all_test_transactions": dict(metrics),
        "thresholds": {"review_score": 700},
        "confusion": {o: {"fraud": 1, "legit": blocked_legit if o == "block" else 3,
                          "fraud_amount": 5.0} for o in ("approve", "review", "block")},
        "alerts_per_day": [{"day": 0, "alerts": 1}],
        "amount": {"fraud_total": 15.0},
        "_curves": {"y": np.array([True, False]), "raw": np.array([1.0, 0.0])},
    }


def test_combine_averages_metrics_and_sums_outcomes() -> None:
    out = combine([_fold("2018-07-25", 0.8, 1), _fold("2018-08-01", 0.9, 3)])
    assert out["handbook_test_set"]["auc_roc"] == pytest.approx(0.85)
    assert out["handbook_test_set"]["frauds"] == 4
    assert out["confusion"]["block"]["legit"] == 4
    assert out["thresholds"]["block_fpr_observed"] == pytest.approx(4 / 16)
    assert len(out["_curves"]["y"]) == 4
    assert [f["train_start"] for f in out["folds"]] == ["2018-07-25", "2018-08-01"]


def test_scenarios_are_broken_down_and_summed_over_folds() -> None:
    y = np.array([True, True, True, False, True])
    decided = np.array(["block", "approve", "review", "block", "block"])
    amount = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    scenario = np.array(["large_amount", "compromised_customer", "compromised_customer", "",
                         ""], dtype=object)
    rows = by_scenario(scenario, y, decided, amount)
    assert rows["compromised_customer"] == {
        "frauds": 2, "blocked": 0, "reviewed_or_blocked": 1, "fraud_amount": 50.0,
        "amount_blocked": 0.0, "amount_reviewed_or_blocked": 30.0}
    assert rows["unspecified"]["amount_blocked"] == 50.0
    assert by_scenario(None, y, decided, amount) == {}

    first, second = _fold("2018-07-25", 0.8, 1), _fold("2018-08-01", 0.9, 3)
    first["scenarios"], second["scenarios"] = rows, by_scenario(scenario, y, decided, amount)
    out = combine([first, second])
    assert out["scenarios"]["large_amount"]["frauds"] == 2
    assert out["scenarios"]["compromised_customer"]["amount_reviewed_or_blocked"] == 60.0
    table = "\n".join(scenario_table(out["scenarios"]))
    assert "| compromised_customer | 4 | 0 (0.0%) | 2 (50.0%) | 100.00 |" in table
    assert scenario_table({}) == []
