"""Charts of the report's results as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display: render to files only

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from archiver.report.lake import Result

OUTCOME_COLOURS = {"approve": "#4c9a2a", "review": "#e8a317", "block": "#c0392b"}
LABEL_COLOURS = {"legit": "#4c78a8", "fraud": "#c0392b"}


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes (and closed)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _no_data(ax: Axes, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes,
            color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def outcomes_over_time(ax: Axes, result: Result, title: str, bucket_days: float) -> None:
    """Stacked bars of decisions per time bucket, one colour per outcome."""
    counts: dict[str, dict[datetime, int]] = defaultdict(dict)
    for bucket, outcome, n in result.rows:
        counts[outcome][bucket] = n
    buckets = sorted({row[0] for row in result.rows})
    ax.set_title(title)
    if not buckets:
        _no_data(ax, "decisions")
        return
    width = 0.9 * bucket_days  # matplotlib's date unit is the day
    bottom = [0] * len(buckets)
    for outcome in ("approve", "review", "block"):
        heights = [counts[outcome].get(b, 0) for b in buckets]
        ax.bar(buckets, heights, width=width, bottom=bottom, label=outcome,
               color=OUTCOME_COLOURS[outcome], align="edge")
        bottom = [a + b for a, b in zip(bottom, heights, strict=True)]
    # Room above the tallest stack for the legend.
    ax.set_ylim(0, max(bottom) * 1.25)
    ax.set_ylabel("decisions")
    ax.legend(loc="upper left", fontsize="small")
    _time_axis(ax)


def _time_axis(ax: Axes) -> None:
    # Per-axes (not figure.autofmt_xdate, which hides the labels of upper subplots).
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.tick_params(axis="x", labelrotation=30)


def latency_over_time(ax: Axes, result: Result) -> None:
    """Average and p99 time from event to decision per minute."""
    ax.set_title("Decision latency per minute (event → decision)")
    if not result.rows:
        _no_data(ax, "decisions")
        return
    minutes = result.column("bucket_start")
    ax.plot(minutes, result.column("avg_ttdf_ms"), marker=".", label="average",
            color="#4c78a8")
    ax.plot(minutes, result.column("p99_ttdf_ms"), marker=".", label="p99",
            color="#c0392b")
    ax.set_ylabel("ms")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize="small")
    _time_axis(ax)


def score_by_label(ax: Axes, result: Result) -> None:
    """Share of each label's transactions per model-score band."""
    ax.set_title("Model score by label (share of each label)")
    if not result.rows:
        _no_data(ax, "labels")
        return
    totals: dict[str, int] = defaultdict(int)
    for _band, label, n in result.rows:
        totals[label] += n
    for offset, label in ((-12, "legit"), (12, "fraud")):
        rows = [(band, n) for band, lab, n in result.rows if lab == label]
        if rows:
            ax.bar([band + 25 + offset for band, _ in rows],
                   [n / totals[label] for _, n in rows], width=22,
                   label=f"{label} ({totals[label]})", color=LABEL_COLOURS[label])
    ax.set_xlabel("model score (0–1000)")
    ax.set_ylabel("share")
    ax.legend(loc="upper left", fontsize="small")


def precision_recall(ax: Axes, result: Result) -> None:
    """Live precision and recall of flagging (review or block) per minute."""
    ax.set_title("Live precision / recall of flagging, per minute")
    if not result.rows:
        _no_data(ax, "labels")
        return
    minutes = result.column("bucket_start")
    for column, label, colour in (("flag_precision", "precision", "#4c78a8"),
                                  ("flag_recall", "recall", "#c0392b")):
        values = [float("nan") if v is None else v for v in result.column(column)]
        ax.plot(minutes, values, marker=".", label=label, color=colour)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left", fontsize="small")
    _time_axis(ax)


def top_by_fraud(ax: Axes, result: Result, key: str, title: str) -> None:
    """Horizontal bars: labelled fraud and blocked per merchant or state."""
    ax.set_title(title)
    if not result.rows:
        _no_data(ax, "decisions")
        return
    names = [str(v) for v in result.column(key)][::-1]
    fraud = result.column("labelled_fraud")[::-1]
    blocked = result.column("blocked")[::-1]
    positions = range(len(names))
    ax.barh([p + 0.2 for p in positions], fraud, height=0.4, label="labelled fraud",
            color=LABEL_COLOURS["fraud"])
    ax.barh([p - 0.2 for p in positions], blocked, height=0.4, label="blocked",
            color="#7f7f7f")
    ax.set_yticks(list(positions), names, fontsize="small")
    ax.legend(loc="lower right", fontsize="small")


CHARTS = ("outcomes_per_minute", "outcomes_per_day", "latency_per_minute",
          "score_distribution", "precision_recall_per_minute", "top_merchants", "top_states")
"""The queries that get a chart, in the order they are drawn."""


def draw(ax: Axes, name: str, result: Result) -> None:
    """Draw the chart of query ``name``."""
    if name == "outcomes_per_minute":
        outcomes_over_time(ax, result, "Decisions per minute", 1 / 1440)
    elif name == "outcomes_per_day":
        outcomes_over_time(ax, result, "Decisions per day", 1.0)
    elif name == "latency_per_minute":
        latency_over_time(ax, result)
    elif name == "score_distribution":
        score_by_label(ax, result)
    elif name == "precision_recall_per_minute":
        precision_recall(ax, result)
    elif name == "top_merchants":
        top_by_fraud(ax, result, "merchant", "Top merchants by fraud")
    elif name == "top_states":
        top_by_fraud(ax, result, "state", "Top billing states by fraud")
    else:
        raise KeyError(name)


def chart(name: str, result: Result) -> bytes:
    """One query's chart as PNG bytes."""
    figure, ax = plt.subplots(figsize=(8, 3.6))
    draw(ax, name, result)
    return png(figure)


def overview(results: dict[str, Result]) -> bytes:
    """Every chart on one page (the picture in the README)."""
    names = [name for name in CHARTS if name in results]
    rows = (len(names) + 1) // 2
    figure, axes = plt.subplots(rows, 2, figsize=(15, 4 * rows))
    flat = list(axes.flat)
    for ax, name in zip(flat, names, strict=False):
        draw(ax, name, results[name])
    for ax in flat[len(names):]:
        ax.axis("off")
    figure.tight_layout()
    return png(figure)
