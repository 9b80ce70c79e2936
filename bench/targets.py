"""The issue's targets, checked against a run's results. Pure: results in, verdicts out.

Each verdict says what was required, what was measured, whether it was met
and by how much it was missed (or beaten); ``met`` is ``None`` when the run
did not measure it (a phase left out, a step never reached).
"""

from __future__ import annotations

import math
from typing import Any

from bench.stats import from_json_number

SUSTAIN_RATE = 5000.0
SUSTAIN_SECONDS = 600.0
MAX_LAG_S = 1.0
SCORER_PER_CORE = 15_000.0
P99_RATE = 2500.0
P99_EXACTLY_ONCE_MS = 150.0
P99_AT_LEAST_ONCE_MS = 40.0
INDEXER_DOCS_PER_S = 5000.0
INDEXER_SHARE_OF_RAW = 0.80


def at_least(measured: float | None, required: float) -> tuple[bool | None, str]:
    """Verdict and wording for "measured ≥ required"."""
    if measured is None or math.isnan(measured):
        return None, "not measured"
    if measured >= required:
        return True, f"met ({measured / required:.2f}× the target)"
    if measured <= 0:
        return False, "missed (nothing measured above zero)"
    return False, (f"missed: {measured / required:.1%} of the target "
                   f"({required / measured:.1f}× short)")


def at_most(measured: float | None, limit: float) -> tuple[bool | None, str]:
    """Verdict and wording for "measured ≤ limit"."""
    if measured is None or math.isnan(measured):
        return None, "not measured"
    if math.isinf(measured):
        return False, "missed: some events were not decided before the measurement ended"
    if measured <= limit:
        return True, f"met ({measured / limit:.0%} of the limit)"
    return False, f"missed: {measured / limit:.1f}× the limit (+{measured - limit:.0f})"


def pipeline_run(results: dict[str, Any], exactly_once: bool) -> dict[str, Any] | None:
    """The stepped pipeline run with exactly-once on or off."""
    for run in results.get("pipeline") or []:
        if bool(run.get("exactly_once")) == exactly_once:
            found: dict[str, Any] = run
            return found
    return None


def step_at(run: dict[str, Any] | None, rate: float) -> dict[str, Any] | None:
    """The step of ``run`` offered at ``rate`` tx/s, if it ran."""
    if run is None:
        return None
    for step in run.get("steps", []):
        if step.get("run") and float(step["rate"]) == rate:
            found: dict[str, Any] = step
            return found
    return None


def best_sustained(run: dict[str, Any] | None) -> dict[str, Any] | None:
    """The highest-rate step that did not saturate."""
    if run is None:
        return None
    ok = [s for s in run.get("steps", []) if s.get("run") and not s.get("saturated")
          and int(s.get("sent", 0)) >= int(s.get("offered", 0))]
    return max(ok, key=lambda s: float(s["rate"])) if ok else None


BUFFERING = frozenset({"archiver"})
"""Services whose lag is recorded but judged by no target and ends no ladder: the
archiver holds records until a Parquet file is worth writing (by design, up to
``ARCHIVER_FLUSH_INTERVAL_S``, a minute by default)."""


def max_lag_seconds(step: dict[str, Any]) -> float:
    """The worst service's lag during a step, in seconds of its offered rate."""
    lags = [float(v["max_seconds"]) for name, v in (step.get("lag") or {}).items()
            if name not in BUFFERING]
    return max(lags) if lags else math.nan


def verdict(target_id: str, target: str, required: float, unit: str,
            measured: float | None, met_and_text: tuple[bool | None, str],
            note: str = "") -> dict[str, Any]:
    """One JSON-ready verdict."""
    met, text = met_and_text
    value: Any = measured
    if isinstance(measured, float):
        value = "inf" if math.isinf(measured) else (None if math.isnan(measured)
                                                    else round(measured, 1))
    return {"id": target_id, "target": target, "required": required, "unit": unit,
            "measured": value, "met": met, "verdict": text, "note": note}


def floor_note(results: dict[str, Any]) -> str:
    """What the floor run (no scoring, every sink) carried, for the 5,000 tx/s verdict."""
    run = (results.get("floor") or [None])[0]
    if run is None:
        return ""
    best = best_sustained(run)
    kept = (f"kept up at {float(best['rate']):g} tx/s "
            f"({float(best.get('machine_busy_cores') or math.nan):.2f} busy cores)"
            if best is not None else "kept up at none of its steps")
    saturated = run.get("saturated_at_rate")
    more = f", saturated at {float(saturated):g}" if saturated is not None else ""
    return f"with no scoring at all (the floor run) the rest of the system {kept}{more}"


def sustained_verdict(results: dict[str, Any]) -> dict[str, Any]:
    """≥ 5,000 tx/s end to end for 10 minutes, every service running, lag under 1 s."""
    found = _sustained_verdict(results)
    extra = floor_note(results)
    if extra:
        found["note"] = f"{found['note']}; {extra}" if found.get("note") else extra
    return found


def _sustained_verdict(results: dict[str, Any]) -> dict[str, Any]:
    target = "≥ 5,000 tx/s end to end for 10 min, every service running, lag < 1 s"
    run = results.get("sustained")
    source = "the sustained run"
    if run is None:
        run = pipeline_run(results, True)
        source = "the 5,000 tx/s step of the exactly-once ladder (not a 10-minute run)"
    step = step_at(run, SUSTAIN_RATE)
    if step is None:
        best = best_sustained(run)
        if best is None:
            ran = [s for s in (run or {}).get("steps", []) if s.get("run")]
            if not ran:
                return verdict("sustained_5000", target, SUSTAIN_RATE, "tx/s", None,
                               (None, "not measured"))
            top = max(ran, key=lambda s: float(s["achieved_per_s"]))
            measured = float(top["achieved_per_s"])
            return verdict("sustained_5000", target, SUSTAIN_RATE, "tx/s", measured,
                           at_least(measured, SUSTAIN_RATE),
                           f"even the first step saturated; the most achieved was at "
                           f"{float(top['rate']):g} tx/s offered")
        measured = float(best["achieved_per_s"])
        return verdict("sustained_5000", target, SUSTAIN_RATE, "tx/s", measured,
                       at_least(measured, SUSTAIN_RATE),
                       f"the ladder saturated before 5,000 tx/s; highest sustained step: "
                       f"{float(best['rate']):g} tx/s")
    lag = max_lag_seconds(step)
    measured = float(step["achieved_per_s"])
    met, text = at_least(measured, SUSTAIN_RATE * 0.99)
    seconds = float(step["seconds"])
    if met and not lag < MAX_LAG_S:
        met, text = False, f"missed: lag reached {lag:.1f} s (limit {MAX_LAG_S:g} s)"
    elif met and seconds < SUSTAIN_SECONDS:
        text += f"; only {seconds:.0f} s long — run BENCH_SUSTAIN_SECONDS=600 for the full test"
        met = None
    return verdict("sustained_5000", target, SUSTAIN_RATE, "tx/s", measured, (met, text),
                   f"from {source}; max lag {lag:.2f} s")


def scorer_verdict(results: dict[str, Any]) -> dict[str, Any]:
    """The scorer ≥ 15,000 events/s per core of CPU it uses."""
    target = "scorer ≥ 15,000 events/s per core of CPU it uses"
    capacity = (results.get("capacity") or {}).get("scorer") or {}
    measured = capacity.get("events_per_cpu_second")
    note = "draining a preloaded backlog, exactly-once on: events / CPU seconds of the scorer"
    note += median_note(capacity, "events_per_cpu_second")
    if measured is None:
        step = best_sustained(pipeline_run(results, True))
        cpu = (step or {}).get("cpu_s_per_1k", {}).get("scorer")
        measured = 1000 / float(cpu) if cpu else None
        note = "from the exactly-once ladder's highest sustained step"
    plumbing = ((results.get("capacity") or {}).get("nullscorer") or {}).get(
        "events_per_cpu_second")
    if plumbing:
        note += (f"; the null scorer (the same loop, consumer and transactions, no scoring) "
                 f"passed the backlog through at {float(plumbing):,.0f} events/CPU-s "
                 f"({1e6 / float(plumbing):.0f} µs an event of the {1e6 / SCORER_PER_CORE:.0f} "
                 "the target allows)")
    value = float(measured) if measured is not None else None
    return verdict("scorer_per_core", target, SCORER_PER_CORE, "events/CPU-s", value,
                   at_least(value, SCORER_PER_CORE), note)


def latency_run(results: dict[str, Any], exactly_once: bool) -> dict[str, Any] | None:
    """The latency phase's run with exactly-once on or off, if it was held at 2,500 tx/s."""
    for run in results.get("latency") or []:
        steps = run.get("steps") or []
        if (bool(run.get("exactly_once")) == exactly_once and run.get("pooled")
                and steps and all(float(s["rate"]) == P99_RATE for s in steps)):
            found: dict[str, Any] = run
            return found
    return None


def p99_verdict(results: dict[str, Any], exactly_once: bool) -> dict[str, Any]:
    """p99 produce→decision at 2,500 tx/s: ≤ 150 ms exactly-once, ≤ 40 ms without.

    Judged on the latency phase's windows pooled when the run has them (one
    step's p99 swings by 2× between runs of the same code), else on the
    ladder's 2,500 tx/s step.
    """
    limit = P99_EXACTLY_ONCE_MS if exactly_once else P99_AT_LEAST_ONCE_MS
    mode = "exactly-once on" if exactly_once else "exactly-once off"
    target = f"p99 produce→decision ≤ {limit:g} ms at 2,500 tx/s, {mode}"
    target_id = "p99_2500_" + ("eos" if exactly_once else "alo")
    run = pipeline_run(results, exactly_once)
    step = step_at(run, P99_RATE)
    windows = latency_run(results, exactly_once)
    if windows is not None:
        return _pooled_p99_verdict(target_id, target, limit, windows, step)
    if step is None:
        if run is None:
            return verdict(target_id, target, limit, "ms", None, (None, "not measured"))
        if run.get("saturated_at_rate") is None:
            return verdict(target_id, target, limit, "ms", None,
                           (None, "not measured: 2,500 tx/s was not in the ladder"))
        return verdict(target_id, target, limit, "ms", None,
                       (False, "missed: the pipeline saturated below 2,500 tx/s"),
                       f"saturated at {run.get('saturated_at_rate')} tx/s")
    measured = from_json_number(step["decision_ms"]["p99"])
    note = "one step of the ladder"
    if step.get("saturated"):
        note += "; saturated at this step"
    return verdict(target_id, target, limit, "ms", measured, at_most(measured, limit), note)


def _pooled_p99_verdict(target_id: str, target: str, limit: float, run: dict[str, Any],
                        ladder_step: dict[str, Any] | None) -> dict[str, Any]:
    pooled = run["pooled"]
    measured = from_json_number(pooled["decision_ms"]["p99"])
    ran = [s for s in run["steps"] if s.get("run")]
    each = ", ".join(_ms(s["decision_ms"]["p99"]) for s in ran)
    windows = f"{pooled['windows']} window{'' if pooled['windows'] == 1 else 's'}"
    note = (f"{windows} of {float(ran[0]['seconds']):g} s pooled "
            f"({int(pooled['sent']):,} events); each window's p99: {each} ms")
    if ladder_step is not None:
        note += f"; the ladder's 2,500 tx/s step: {_ms(ladder_step['decision_ms']['p99'])} ms"
    met, text = at_most(measured, limit)
    if run.get("saturated_at_rate") is not None:
        met, text = False, (f"missed: the pipeline saturated in window {len(ran)} of "
                            f"{len(run['steps'])}")
    return verdict(target_id, target, limit, "ms", measured, (met, text), note)


def _ms(value: Any) -> str:
    number = from_json_number(value)
    return "∞" if math.isinf(number) else f"{number:.0f}"


def indexer_verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The indexer ≥ 5,000 documents/s and ≥ 80 % of the raw bulk loader's rate.

    With repeated pairs (``indexer_share_of_raw``) the share is the median of
    each pair's own share; results without it (one pair) divide the two rates.
    """
    capacity = results.get("capacity") or {}
    indexer = capacity.get("indexer") or {}
    raw = capacity.get("raw_bulk") or {}
    rate = indexer.get("docs_per_s")
    rate_value = float(rate) if rate is not None else None
    out = [verdict("indexer_docs", "indexer ≥ 5,000 documents/s", INDEXER_DOCS_PER_S,
                   "docs/s", rate_value, at_least(rate_value, INDEXER_DOCS_PER_S),
                   "draining decisions already on the topic"
                   + median_note(indexer, "docs_per_s"))]
    raw_rate = raw.get("docs_per_s")
    paired = capacity.get("indexer_share_of_raw") or {}
    pairs = paired.get("pairs") or []
    if len(pairs) > 1:
        share = paired.get("median")
        each = ", ".join("–" if p.get("share") is None else f"{p['share']:.1%}"
                         for p in pairs)
        note = (f"the median of {len(pairs)} pairs run back to back (indexer drain and raw "
                f"load); each pair's share: {each}; the raw bulk loader's median "
                f"{_docs(raw_rate)} docs/s (best of 1 and 2 requests in flight)")
    else:
        share = (rate_value / float(raw_rate)) if rate_value is not None and raw_rate else None
        note = (f"raw bulk loader: {_docs(raw_rate)} docs/s (best of 1 and 2 requests in flight)"
                if raw_rate else "")
    met, text = at_least(share, INDEXER_SHARE_OF_RAW)
    out.append(verdict("indexer_vs_raw", "indexer ≥ 80 % of the raw bulk loader's rate",
                       INDEXER_SHARE_OF_RAW * 100, "%",
                       share * 100 if share is not None else None, (met, text), note))
    return out


def _docs(rate: Any) -> str:
    return "–" if rate is None else f"{float(rate):,.0f}"


def median_note(median: dict[str, Any], key: str) -> str:
    """``"; the median of 3 drains, which ranged 14,563–16,529"`` for a repeated drain.

    ``median`` is :func:`bench.stats.median_drain`'s record; one drain (or an older
    results file without ``drains``) has nothing to add.
    """
    values = [float(d[key]) for d in median.get("drains") or [] if d.get(key) is not None]
    if len(values) < 2:
        return ""
    return (f"; the median of {len(values)} drains, which ranged "
            f"{min(values):,.0f}–{max(values):,.0f}")


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target's verdict, in the issue's order."""
    return [sustained_verdict(results), scorer_verdict(results), p99_verdict(results, True),
            p99_verdict(results, False), *indexer_verdicts(results)]
