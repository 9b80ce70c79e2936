"""Write a backtest as ``report.json``, ``report.md``, ``roc.png`` and ``pr.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt

from scorer.evaluation.metrics import pr_curve, roc_curve


def write_report(result: dict[str, Any], out: str | Path, wall_seconds: float) -> Path:
    """Write the four files into ``out``; returns the Markdown path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    curves = result.pop("_curves")
    result["wall_seconds"] = round(wall_seconds, 1)
    (folder / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    _plot_roc(curves["y"], curves["raw"], result, folder / "roc.png")
    _plot_pr(curves["y"], curves["raw"], result, folder / "pr.png")
    path = folder / "report.md"
    path.write_text(markdown(result))
    return path


def _plot_roc(y: Any, raw: Any, result: dict[str, Any], path: Path) -> None:
    fpr, tpr = roc_curve(y, raw)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {result['handbook_test_set']['auc_roc']:.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC (test set)")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _plot_pr(y: Any, raw: Any, result: dict[str, Any], path: Path) -> None:
    recall, precision = pr_curve(y, raw)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision,
            label=f"AP {result['handbook_test_set']['average_precision']:.3f}")
    ax.set(xlabel="Recall", ylabel="Precision", title="Precision–recall (test set)",
           xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def scenario_table(scenarios: dict[str, dict[str, float]]) -> list[str]:
    """Markdown lines of the per-scenario breakdown (none without scenarios)."""
    if not scenarios:
        return []
    lines = [
        "### By fraud scenario (every test transaction, same thresholds)",
        "",
        "| scenario | frauds | blocked | recall (review or block) | fraud amount | "
        "amount blocked | amount caught (review or block) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in scenarios.items():
        frauds, amount = row["frauds"], row["fraud_amount"]
        recall = row["reviewed_or_blocked"] / frauds if frauds else float("nan")
        caught = row["amount_reviewed_or_blocked"] / amount if amount else float("nan")
        lines.append(
            f"| {name} | {frauds:.0f} | {row['blocked']:.0f} ({row['blocked'] / frauds:.1%}) | "
            f"{row['reviewed_or_blocked']:.0f} ({recall:.1%}) | {amount:.2f} | "
            f"{row['amount_blocked']:.2f} | {row['amount_reviewed_or_blocked']:.2f} "
            f"({caught:.1%}) |")
    return [*lines, ""]


def markdown(r: dict[str, Any]) -> str:
    """The human-readable report."""
    hb, allt, best, p = r["handbook_test_set"], r["all_test_transactions"], \
        r["handbook_best"], r["protocol"]
    th, amount = r["thresholds"], r["amount"]
    folds = r.get("folds", [])

    def verdict(name: str) -> str:
        return "beats" if hb[name] > best[name] else "below"

    lines = [
        f"# Backtest of {r['model']['name']} {r['model']['version']}",
        "",
        f"Data: {r['data']['source']} — {r['data']['events']} events, "
        f"{r['data']['frauds']} frauds ({r['data']['fraud_rate']:.2%}), "
        f"{r['data']['first_event']} → {r['data']['last_event']}.",
        f"Protocol: train {p['train_start']} + {p['train_days']} d, delay {p['delay_days']} d, "
        f"test {p['test_start']} + {p['test_days']} d"
        + (f", {p['folds']} weekly folds (to {p['test_end_exclusive']})" if "folds" in p else "")
        + ". Features replayed in "
        f"{r['feature_seconds']} s; whole run {r['wall_seconds']} s.",
        f"Features as served by scorers reading {r.get('partitions', 1)} input partition(s) "
        "(merchant and IP aggregates per partition, merchant risk from every label); "
        f"the models use {r.get('model_features', '?')} of them.",
        "",
        "## Detection (Handbook test set: customers already known defrauded removed)",
        "",
        f"Mean over {len(folds)} fold(s)." if len(folds) > 1 else "One fold.",
        "",
        "| metric | this model | Handbook best | |",
        "|---|---|---|---|",
    ]
    for name, label in (("auc_roc", "AUC ROC"), ("average_precision", "Average Precision"),
                        ("card_precision_at_100", "Card Precision@100")):
        lines.append(f"| {label} | {hb[name]:.3f} | {best[name]:.3f} | {verdict(name)} |")
    if len(folds) > 1:
        lines += ["", "| fold: training from | test from | AUC ROC | AP | CP@100 | frauds |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {f['train_start']} | {f['test_start']} | {f['auc_roc']:.3f} | "
                  f"{f['average_precision']:.3f} | {f['card_precision_at_100']:.3f} | "
                  f"{f['frauds']} |" for f in folds]
    lines += [
        "",
        f"On every test transaction: AUC {allt['auc_roc']:.3f}, "
        f"AP {allt['average_precision']:.3f}, CP@100 {allt['card_precision_at_100']:.3f} "
        f"({allt['transactions']} transactions, {allt['frauds']} frauds).",
        "",
        "CP@100 per day: " + ", ".join(f"{v:.2f}" for v in hb["card_precision_at_100_daily"]),
        "",
        f"## Outcomes at review ≥ {th['review_score']} (FPR {th['review_fpr_calibrated']:.2%} "
        f"by calibration), block ≥ {th['block_score']} "
        f"(FPR {th['block_fpr_calibrated']:.2%}), review amounts ≥ {th['large_amount']:g}",
        "",
        "| outcome | fraud | legit | fraud amount |",
        "|---|---|---|---|",
    ]
    for outcome, row in r["confusion"].items():
        lines.append(f"| {outcome} | {row['fraud']} | {row['legit']} | "
                     f"{row['fraud_amount']:.2f} |")
    lines += [
        "",
        f"Observed FPR: review or block {th['review_or_block_fpr_observed']:.2%}, "
        f"block {th['block_fpr_observed']:.2%}.",
        f"Fraud amount {amount['fraud_total']:.2f}: blocked {amount['caught_blocked']:.2f}, "
        f"reviewed or blocked {amount['caught_reviewed_or_blocked']:.2f}.",
        "",
    ]
    lines += scenario_table(r.get("scenarios", {}))
    lines += [
        "Alerts (review + block) per test day: "
        + ", ".join(f"{d['alerts']}" for d in r["alerts_per_day"]),
        "",
        "Plots: [ROC](roc.png), [precision–recall](pr.png).",
        "",
    ]
    return "\n".join(lines)
