"""Latency percentiles and rates, with events that never arrived counted as infinitely late.

Dropping the events that did not arrive before the measurement ended would
make an overloaded step look faster than a healthy one; instead they are
counted as ``+inf``, so a percentile that falls among them reads "later than
the end of the measurement" (``inf``). Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

PERCENTILES: tuple[float, ...] = (50.0, 95.0, 99.0, 99.9)


def percentile(sorted_values: Sequence[float] | npt.NDArray[np.float64], missing: int,
               p: float) -> float:
    """The nearest-rank ``p``-th percentile of ``sorted_values`` plus ``missing`` infinities.

    Nearest rank (the smallest value with at least ``p`` % of the values at or
    below it) never interpolates between two observations, so p99.9 of 1,000
    values is the largest one, not a number nobody saw. ``nan`` without values.
    """
    if not 0 < p <= 100:
        raise ValueError(f"percentile must be in (0, 100], not {p}")
    n = len(sorted_values) + missing
    if n == 0:
        return math.nan
    rank = max(1, math.ceil(p / 100 * n - 1e-9))
    if rank > len(sorted_values):
        return math.inf
    return float(sorted_values[rank - 1])


@dataclass(frozen=True)
class LatencySummary:
    """Percentiles of one set of latencies, in milliseconds."""

    count: int
    missing: int
    p50: float
    p95: float
    p99: float
    p999: float
    max: float
    mean: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (infinities become the string ``"inf"``, nan becomes ``None``)."""
        return {k: json_number(v) for k, v in asdict(self).items()}


def summarize(latencies_ms: Iterable[float], missing: int = 0) -> LatencySummary:
    """Percentiles of ``latencies_ms``; ``missing`` events never arrived (counted as +inf)."""
    values = np.sort(np.fromiter(latencies_ms, dtype=np.float64))
    p50, p95, p99, p999 = (percentile(values, missing, p) for p in PERCENTILES)
    if missing:
        worst, mean = math.inf, math.inf
    elif len(values):
        worst, mean = float(values[-1]), float(values.mean())
    else:
        worst, mean = math.nan, math.nan
    return LatencySummary(len(values), missing, p50, p95, p99, p999, worst, mean)


def json_number(value: Any) -> Any:
    """``inf`` → ``"inf"``, ``nan`` → ``None``; everything else unchanged (JSON has neither)."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
    return value


def from_json_number(value: Any) -> float:
    """The inverse of :func:`json_number` for numbers read back from a report."""
    if value is None:
        return math.nan
    if value == "inf":
        return math.inf
    if value == "-inf":
        return -math.inf
    return float(value)


def rate(count: int, seconds: float) -> float:
    """Events per second (0 for an empty window)."""
    return count / seconds if seconds > 0 else 0.0


def per_thousand(cpu_seconds: float, events: int) -> float:
    """CPU seconds per 1,000 events (``nan`` when no event was processed)."""
    return cpu_seconds * 1000 / events if events > 0 else math.nan


DRAIN_FIGURES = ("events_per_cpu_second", "events_per_s", "cpu_seconds", "seconds")
"""What :func:`median_drain` keeps of each scorer drain by default."""


def median_drain(drains: Sequence[dict[str, Any]], key: str = "events_per_cpu_second",
                 figures: Sequence[str] = DRAIN_FIGURES) -> dict[str, Any]:
    """The drain whose ``key`` is the median of ``drains``, with every drain's figures.

    One drain of a few seconds swings by tens of per cent with the machine, so the
    capacity phase repeats it and reports the middle one (the lower of the two
    middle ones for an even count: never the flattering side). The result is that
    drain's own record plus ``drains``: each drain's ``key`` and ``figures`` in the
    order they ran. Drains without a ``key`` value sort first.
    """
    if not drains:
        raise ValueError("no drains to choose from")
    ranked = sorted(drains, key=lambda d: -math.inf if d.get(key) is None else float(d[key]))
    middle = ranked[(len(ranked) - 1) // 2]
    kept = (key, *(name for name in figures if name != key))
    return {**middle, "drains": [{name: d.get(name) for name in kept} for d in drains]}


def paired_shares(ours: Sequence[float | None], ceilings: Sequence[float | None]
                  ) -> dict[str, Any]:
    """Each pair's ``ours / ceiling`` and their median (the lower middle for an even count).

    The capacity phase runs the indexer and the raw bulk loader in pairs, back to
    back, so that each share compares two runs seconds apart, on the machine as it
    was then; the median of the shares is then less at the mercy of one slow or
    fast moment than the ratio of the two sides' medians. A pair with a missing or
    zero figure has no share, and the median is ``None`` when no pair has one.
    """
    if len(ours) != len(ceilings):
        raise ValueError(f"{len(ours)} runs of ours against {len(ceilings)} ceilings")
    pairs = [{"ours": a, "ceiling": b,
              "share": (float(a) / float(b)) if a is not None and b else None}
             for a, b in zip(ours, ceilings, strict=True)]
    known = sorted(p["share"] for p in pairs if p["share"] is not None)
    return {"pairs": pairs, "median": known[(len(known) - 1) // 2] if known else None}


def indexer_pair_figures(drains: Sequence[dict[str, Any]], loads: Sequence[dict[str, Any]]
                        ) -> dict[str, Any]:
    """The capacity phase's indexer and raw bulk loader figures from their paired runs.

    ``drains[i]`` and ``loads[i]`` ran back to back. The result holds the median
    drain (``indexer``), the median load (``raw_bulk``, with ``errors`` listing the
    loads that failed) and each pair's share with their median
    (``indexer_share_of_raw``, see :func:`paired_shares`).
    """
    raw = median_drain(loads, key="docs_per_s", figures=("docs_per_s", "best_in_flight"))
    errors = [load["error"] for load in loads if load.get("error")]
    if errors:
        raw["errors"] = errors
    return {"indexer": median_drain(drains, key="docs_per_s",
                                    figures=("docs_per_s", "cpu_seconds", "seconds")),
            "raw_bulk": raw,
            "indexer_share_of_raw": paired_shares([d.get("docs_per_s") for d in drains],
                                                  [r.get("docs_per_s") for r in loads])}


BREAKDOWN_SEGMENTS = ("waiting", "scoring", "publishing")
"""An event's latency in three parts: intended → the scorer started on it → decided → read."""


def latency_breakdown(latency_ms: npt.ArrayLike, scoring_ms: npt.ArrayLike,
                      decided_ms: npt.ArrayLike) -> dict[str, Any] | None:
    """Where the latency of the decided events went, typical and in the tail.

    ``scoring_ms`` and ``decided_ms`` are each decision's ``proc_time`` and
    ``ttdf`` (ms after the intended time, ``nan`` when the decision carried
    none). The parts are *waiting* (intended → scoring started: the generator,
    the broker, the scorer's fetch and its queue), *scoring* (started →
    decided) and *publishing* (decided → the reader saw it: producing, the
    transaction's commit, the reader's fetch). Each part gets its p50 and p99
    over all events, and ``slowest``: its mean over the slowest 1 % of events
    (at least one), which says which part the tail is made of.
    ``None`` when no event carried timings.
    """
    latency = np.asarray(latency_ms, dtype=np.float64)
    scoring = np.asarray(scoring_ms, dtype=np.float64)
    decided = np.asarray(decided_ms, dtype=np.float64)
    known = np.isfinite(latency) & np.isfinite(scoring) & np.isfinite(decided)
    if not known.any():
        return None
    latency, scoring, decided = latency[known], scoring[known], decided[known]
    parts = {"waiting": scoring, "scoring": decided - scoring, "publishing": latency - decided}
    ordered = {name: np.sort(values) for name, values in parts.items()}
    # The slowest 1 % (at least one event): ties at the edge are cut, not all let in.
    tail = np.argsort(latency, kind="stable")[-max(1, math.ceil(len(latency) / 100)):]
    return {
        "count": int(known.sum()),
        "tail_count": len(tail),
        **{name: {"p50": percentile(ordered[name], 0, 50.0),
                  "p99": percentile(ordered[name], 0, 99.0),
                  "slowest": float(values[tail].mean())}
           for name, values in parts.items()},
    }


def pooled_windows(steps: Sequence[dict[str, Any]], latency_ms: npt.ArrayLike,
                   scoring_ms: npt.ArrayLike | None = None,
                   decided_ms: npt.ArrayLike | None = None) -> dict[str, Any]:
    """The latency of several windows at one rate taken together.

    ``steps`` are the windows' per-step results (those that did not run are
    skipped); ``latency_ms`` (and, when known, each decision's ``proc_time`` and
    ``ttdf``) are every decided event of those windows. Events a window sent
    but never decided count as infinitely late, as in each window's own
    summary. One 30-s window's p99 rests on its slowest few hundred events and
    swings with whatever else the machine did in those seconds; the pooled p99
    rests on all of them.
    """
    ran = [s for s in steps if s.get("run")]
    missing = sum(int(s["sent"]) - int(s["decided"]) for s in ran)
    pooled: dict[str, Any] = {
        "windows": len(ran),
        "seconds": sum(float(s["seconds"]) for s in ran),
        "sent": sum(int(s["sent"]) for s in ran),
        "decision_ms": summarize(np.asarray(latency_ms, dtype=np.float64), missing).as_dict(),
        "breakdown_ms": None,
    }
    if scoring_ms is not None and decided_ms is not None:
        pooled["breakdown_ms"] = latency_breakdown(latency_ms, scoring_ms, decided_ms)
    return pooled
