"""The PNG: achieved throughput and produce→decision latency against offered load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from bench.stats import from_json_number


def series(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(label, run)`` of every stepped run, in the order they are drawn."""
    out = []
    for run in results.get("pipeline") or []:
        mode = "exactly-once" if run.get("exactly_once") else "at-least-once"
        out.append((f"pipeline, {mode}", run))
    for run in results.get("null_scorer") or []:
        mode = "exactly-once" if run.get("exactly_once") else "at-least-once"
        out.append((f"null scorer, {mode}", run))
    for run in results.get("floor") or []:
        out.append(("floor: pass-through scorer + every sink", run))
    return out


def points(run: dict[str, Any], key: str) -> tuple[list[float], list[float]]:
    """Offered rates and a per-step figure (``achieved`` or a decision percentile, finite only)."""
    xs, ys = [], []
    for step in run.get("steps", []):
        if not step.get("run"):
            continue
        value = (float(step["achieved_per_s"]) if key == "achieved"
                 else from_json_number(step["decision_ms"][key]))
        if math.isfinite(value):
            xs.append(float(step["rate"]))
            ys.append(value)
    return xs, ys


def plot(results: dict[str, Any], path: Path) -> None:
    """Write the two-panel figure to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6.4), dpi=100)
    colours = [f"C{n}" for n in range(10)]  # matplotlib's default cycle, fixed per series
    top = 0.0
    for n, (label, run) in enumerate(series(results)):
        colour = colours[n % len(colours)]
        xs, ys = points(run, "achieved")
        if xs:
            left.plot(xs, ys, marker="o", color=colour, label=label)
            top = max(top, *xs, *ys)
        xs, ys = points(run, "p99")
        if xs:
            right.plot(xs, ys, marker="o", color=colour, label=f"{label} p99")
        xs, ys = points(run, "p50")
        if xs:
            right.plot(xs, ys, marker=".", linestyle=":", color=colour, label=f"{label} p50")
    if top:
        left.plot([0, top], [0, top], color="grey", linewidth=0.8, linestyle="--",
                  label="achieved = offered")
    left.set_xlabel("offered load (tx/s)")
    left.set_ylabel("achieved throughput (tx/s)")
    left.set_title("Throughput")
    left.grid(True, alpha=0.3)
    # Legends below the axes: the data may be anywhere inside them.
    if left.get_legend_handles_labels()[0]:
        left.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    right.set_xlabel("offered load (tx/s)")
    right.set_ylabel("produce → decision (ms, log scale)")
    right.set_yscale("log")
    right.set_title("Latency from the intended send time")
    right.grid(True, which="both", alpha=0.3)
    for limit, text in ((150, "150 ms (exactly-once target)"), (40, "40 ms (target without)")):
        right.axhline(limit, color="red", linewidth=0.6, linestyle="--")
        right.text(right.get_xlim()[1], limit, text + " ", fontsize=7, color="red",
                   va="bottom", ha="right")
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    machine = results.get("machine_before") or {}
    load = ", ".join(f"{x:g}" for x in machine.get("load_average", []))
    fig.suptitle(f"fraudstream bench {str(results.get('started', ''))[:16]} UTC — "
                 f"{machine.get('cores', '?')} cores, load {load} at the start", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
