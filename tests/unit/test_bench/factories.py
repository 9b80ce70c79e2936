"""Factories of benchmark results (the shape ``bench.runner`` writes)."""

from __future__ import annotations

from typing import Any

from bench.stats import indexer_pair_figures


def step(rate: float, *, achieved: float | None = None, p99: float | str = 30.0,
         saturated: bool = False, lag_s: float = 0.1, seconds: float = 30.0,
         sent: int | None = None, missing: int = 0) -> dict[str, Any]:
    """One step that ran."""
    offered = round(rate * seconds)
    return {
        "rate": rate, "seconds": seconds, "run": True, "offered": offered,
        "sent": offered if sent is None else sent, "decided": offered - missing,
        "achieved_per_s": rate if achieved is None else achieved,
        "decision_ms": {"count": offered - missing, "missing": missing, "p50": 10.0,
                        "p95": 20.0, "p99": p99, "p999": p99, "max": p99, "mean": 12.0},
        "searchable_ms": {"count": 100, "missing": 0, "p50": 900.0, "p95": 1000.0,
                          "p99": 1100.0, "p999": 1100.0, "max": 1100.0, "mean": 950.0},
        "generator": {"p50": 1.0, "p99": 3.0, "max": 9.0},
        "saturated": saturated,
        "lag": {"scorer": {"max_messages": int(lag_s * rate), "max_seconds": lag_s},
                "indexer": {"max_messages": 1, "max_seconds": 0.01}},
        "cpu_s_per_1k": {"scorer": 1.5, "indexer": 0.2, "generator": 0.5, "kafka": 1.0},
        "max_rss_mib": {"scorer": 180.0},
        "machine_busy_cores": 1.5,
    }


def not_run(rate: float) -> dict[str, Any]:
    """A step above the saturated one."""
    return {"rate": rate, "seconds": 30.0, "run": False}


def stepped(exactly_once: bool, steps: list[dict[str, Any]],
            saturated_at: float | None = None) -> dict[str, Any]:
    """A stepped pipeline run."""
    sent = sum(s.get("sent", 0) for s in steps)
    return {"phase": "pipe", "exactly_once": exactly_once, "kind": "pipeline",
            "sent": sent, "received": sent, "duplicates": 0,
            "outcomes": {"approve": sent - 2, "block": 2}, "saturated_at_rate": saturated_at,
            "peak_rss_mib": {"scorer": 190.0}, "steps": steps}


def held(exactly_once: bool, window_p99s: list[float | str], pooled_p99: float | str,
         rate: float = 2500.0, saturated_at: float | None = None) -> dict[str, Any]:
    """A latency-phase run: ``rate`` held for one window per p99 (``"-"``: not run)."""
    steps = [not_run(rate) if p99 == "-" else step(rate, p99=p99) for p99 in window_p99s]
    run = stepped(exactly_once, steps, saturated_at)
    ran = [s for s in steps if s["run"]]
    run["kind"] = "latency"
    run["pooled"] = {
        "windows": len(ran), "seconds": 30.0 * len(ran), "sent": sum(s["sent"] for s in ran),
        "decision_ms": {"count": 75_000 * len(ran), "missing": 0, "p50": 40.0, "p95": 80.0,
                        "p99": pooled_p99, "p999": pooled_p99, "max": pooled_p99,
                        "mean": 45.0},
        "breakdown_ms": {"count": 75_000 * len(ran), "tail_count": 750 * len(ran),
                         "waiting": {"p50": 20.0, "p99": 90.0, "slowest": 95.0},
                         "scoring": {"p50": 5.0, "p99": 20.0, "slowest": 21.0},
                         "publishing": {"p50": 15.0, "p99": 30.0, "slowest": 31.0}}}
    return run


def results(**parts: Any) -> dict[str, Any]:
    """A whole results file with the given sections."""
    base: dict[str, Any] = {
        "version": 1, "run_id": "20261125t1855-abcd", "started": "2026-11-25T18:55:00+00:00",
        "finished": "2026-11-25T19:08:00+00:00", "git_commit": "abc1234",
        "machine_before": {"cores": 2, "cpu_model": "AMD EPYC", "memory_gib": 23.5,
                           "kernel": "6", "python": "3.11.7", "load_average": [1.5, 1.2, 1.0]},
        "machine_after": {"load_average": [2.0, 1.5, 1.1]},
    }
    base.update(parts)
    return base


def capacity(scorer_per_cpu: float = 900.0, indexer_rate: float = 6000.0,
             raw_rate: float = 7000.0) -> dict[str, Any]:
    """A capacity section."""
    return {"events": 30000,
            "scorer": {"decided": 30000, "seconds": 40.0, "events_per_s": 750.0,
                       "cpu_seconds": 30000 / scorer_per_cpu,
                       "events_per_cpu_second": scorer_per_cpu, "peak_rss_mib": 200.0},
            "indexer": {"indexed": 30000, "seconds": 30000 / indexer_rate,
                        "docs_per_s": indexer_rate, "cpu_seconds": 3.0, "peak_rss_mib": 90.0},
            "raw_bulk": {"documents": 30000, "docs_per_s": raw_rate, "runs": [
                {"in_flight": 1, "documents": 30000, "seconds": 30000 / raw_rate,
                 "docs_per_s": raw_rate, "failures": 0, "client_cpu_seconds": 2.0}]},
            "profiles": {"scorer": {"method": "py-spy record --pid", "samples": 1000,
                                    "top_self_pct": [["predict (lightgbm)", 61.5]],
                                    "top_inclusive_pct": [["run (uvicorn)", 99.0],
                                                          ["predict_batch (scorer)", 70.0]],
                                    "areas_self_pct": [["lightgbm", 61.5]]}}}


def paired_capacity(indexer_rates: list[float | None],
                    raw_rates: list[float | None]) -> dict[str, Any]:
    """A capacity section whose indexer and raw loader ran in pairs, as the runner records them.

    Built with the runner's own :func:`bench.stats.indexer_pair_figures`, so the
    shape is the one it writes.
    """
    drains = [{"indexed": 30000, "docs_per_s": rate,
               "seconds": 30000 / rate if rate else None, "cpu_seconds": 3.0,
               "peak_rss_mib": 90.0} for rate in indexer_rates]
    loads = [{"documents": 30000, "docs_per_s": rate, "best_in_flight": 2, "runs": [
        {"in_flight": 2, "documents": 30000, "seconds": 30000 / rate if rate else None,
         "docs_per_s": rate, "failures": 0, "client_cpu_seconds": 2.0}]}
        if rate else {"error": "bulk load failed: connection refused"} for rate in raw_rates]
    return {**capacity(), **indexer_pair_figures(drains, loads)}
