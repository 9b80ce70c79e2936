"""The Markdown report of a benchmark run. Pure: a results dict in, text out."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from bench.common import DEFAULT_PARTITIONS
from bench.stats import BREAKDOWN_SEGMENTS, from_json_number
from bench.targets import BUFFERING

PIPELINE = ("scorer", "indexer", "notifier", "archiver")
FLOOR = ("nullscorer", "indexer", "notifier", "archiver")
TOOLS = ("generator", "measurer", "kafka", "opensearch")


def fmt_num(value: Any, digits: int = 0) -> str:
    """A number for a table: thousands separated, ``∞``, or ``–`` when absent."""
    if value is None:
        return "–"
    number = from_json_number(value)
    if math.isnan(number):
        return "–"
    if math.isinf(number):
        return "∞"
    return f"{number:,.{digits}f}"


def fmt_ms(value: Any) -> str:
    """Milliseconds: whole numbers, one decimal below 10 ms; ``∞`` = not decided in time."""
    if value is None:
        return "–"
    number = from_json_number(value)
    if math.isnan(number):
        return "–"
    if math.isinf(number):
        return "∞"
    return f"{number:,.1f}" if abs(number) < 10 else f"{number:,.0f}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def machine_lines(results: dict[str, Any]) -> list[str]:
    """Where and when the figures were taken."""
    before = results.get("machine_before") or {}
    after = results.get("machine_after") or {}
    load_b = ", ".join(f"{x:g}" for x in before.get("load_average", []))
    load_a = ", ".join(f"{x:g}" for x in after.get("load_average", []))
    return [
        f"- **Machine**: {before.get('cores', '?')} cores ({before.get('cpu_model', '?')}), "
        f"{before.get('memory_gib', '?')} GiB, Linux {before.get('kernel', '?')}, "
        f"Python {before.get('python', '?')}; Kafka 4.1 and OpenSearch 2.19 on the same "
        "machine (the shared local servers).",
        f"- **Load average** (1, 5, 15 min): {load_b} before, {load_a} after. Anything else "
        "running on the machine counts in \"machine busy cores\", and the `kafka` and "
        "`opensearch` CPU figures include the work of any other client of those servers.",
        *speed_lines(before, after),
        *autogroup_lines(before),
        *previous_run_lines(before, results.get("previous_run")),
        *server_lines(results.get("servers_before") or {}),
        *internal_log_lines(results.get("kafka_internal_log_bytes")),
        f"- **Run** `{results.get('run_id', '?')}` at commit `{results.get('git_commit', '?')}`, "
        f"{results.get('started', '?')} → {results.get('finished', '?')}"
        f"{partitions_note(results.get('options') or {})}.",
    ]


def partitions_note(options: dict[str, Any]) -> str:
    """How many partitions the run's topics had, when it was not the services' default."""
    partitions = options.get("partitions", DEFAULT_PARTITIONS)
    if partitions == DEFAULT_PARTITIONS:
        return ""
    return (f"; every topic with **{partitions} partition{'s' if partitions != 1 else ''}**, "
            f"not the default {DEFAULT_PARTITIONS} (`--partitions`)")


def autogroup_lines(machine: dict[str, Any]) -> list[str]:
    """How the kernel shared the CPU between processes, when it was recorded."""
    enabled = machine.get("sched_autogroup")
    if enabled is None:
        return []
    if not enabled:
        return ["- **CPU sharing**: the kernel's autogroup scheduling was off: a busy "
                "machine's CPU was shared between threads, whatever process they belong to."]
    return ["- **CPU sharing**: the kernel's autogroup scheduling was on. A busy machine's "
            "CPU is shared evenly between sessions first: Kafka and OpenSearch each run in "
            "a session of their own, the services and the load tools in the bench's one. "
            "Niceness (`CPU_NICE`) orders threads only within their session."]


def speed_lines(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The speed probe before and after the run, when it was taken."""
    if "speed_probe_ms" not in before:
        return []
    after_ms = after.get("speed_probe_ms")
    return [
        f"- **Machine speed** (`bench.procstats.speed_probe`, a fixed pure-Python workload; "
        f"CPU ms, lower is faster): {before['speed_probe_ms']:.1f} before, "
        f"{f'{after_ms:.1f}' if after_ms is not None else '?'} after. A higher reading means "
        "a machine slower at pure-Python work, which most of our services' CPU is: compare "
        "runs by it before comparing their figures.",
    ]


def same_machine(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two runs' ``machine_before`` name the same CPU model and core count."""
    return (a.get("cpu_model"), a.get("cores")) == (b.get("cpu_model"), b.get("cores"))


def previous_run_lines(before: dict[str, Any], previous: dict[str, Any] | None) -> list[str]:
    """The previous report in the results folder, and whether its CPU was this run's.

    Two hosts' figures differ by more than any change measured here (an Intel Xeon
    host cost every process 1.4–1.9× its CPU on an AMD EPYC one), and the speed
    probe does not show the whole of it; so a report says when its predecessor ran
    on another CPU.
    """
    if not previous or not previous.get("machine"):
        return []
    then = previous["machine"]
    probe = then.get("speed_probe_ms")
    where = (f"`{previous['file']}` ran on {then.get('cpu_model', '?')}, "
             f"{then.get('cores', '?')} cores"
             f"{f', speed probe {probe:.1f}' if probe is not None else ''}")
    if same_machine(before, then):
        return [f"- **The previous report** in this folder: {where}, the same CPU as this run."]
    return [f"- **The previous report** in this folder: {where}. **Another CPU than this "
            "run's: compare figures only between reports that name the same CPU.**"]


def server_lines(servers: dict[str, Any]) -> list[str]:
    """How long Kafka and OpenSearch had been up at the start, when that was recorded."""
    known = [(name, state) for name, state in servers.items() if state]
    if not known:
        return []
    parts = [f"{name} up {state['up_s'] / 60:.0f} min ({state['cpu_s'] / 60:.1f} CPU-min used)"
             for name, state in known]
    return [
        f"- **Servers at the start**: {', '.join(parts)}. A JVM's first minutes of real load "
        "go to compiling its hot paths: on servers started shortly before the run (or idle "
        "since), their CPU per event is higher and the machine fills at lower rates.",
    ]


def internal_log_lines(held: dict[str, int] | None) -> list[str]:
    """What the local broker's compacted internal topics held at the start, when recorded.

    On a broker that has run exactly-once for hours, ``__consumer_offsets`` keeps up to
    a day of transaction markers, and each of its cleanings rewrites them: a burst of
    broker CPU that grows with the broker's age (``bench/HISTORY.md``).
    """
    if not held:
        return []
    sizes = ", ".join(f"`{topic}` {size / 2**20:,.1f} MiB" for topic, size in held.items())
    return [
        f"- **Kafka's internal topics at the start**: {sizes} of record logs. Each "
        "cleaning of one rewrites what it keeps, transaction markers included (kept a day); "
        "a broker that has run exactly-once for hours cleans in longer bursts, which can "
        "show in the tail. A broker restarted with `FS_FRESH=1` (which wipes its data) starts "
        "without them.",
    ]


def targets_lines(results: dict[str, Any]) -> list[str]:
    """The targets table."""
    verdicts = results.get("targets") or []
    if not verdicts:
        return []
    marks = {True: "✅ met", False: "❌ missed", None: "– not measured"}
    rows = []
    for v in verdicts:
        measured = v.get("measured")
        value = "–" if measured is None else (
            "∞" if measured == "inf" else f"{fmt_num(measured, 1)} {v['unit']}")
        note = f" ({v['note']})" if v.get("note") else ""
        rows.append([v["target"], value, marks[v.get("met")], v["verdict"] + note])
    return ["## Targets", "", *table(["target", "measured", "", "by how much"], rows), ""]


def step_rows(run: dict[str, Any], services: Sequence[str], searchable: bool
              ) -> list[list[str]]:
    """One row per step of a stepped run."""
    rows = []
    for step in run.get("steps", []):
        if not step.get("run"):
            rows.append([fmt_num(step["rate"]), "not run (saturated below)", *[""] * (
                7 + (2 if searchable else 0) + 2 * len(services))])
            continue
        d = step["decision_ms"]
        row = [fmt_num(step["rate"]) + (" ⚠" if step.get("saturated") else ""),
               fmt_num(step["sent"]), fmt_num(step["achieved_per_s"]),
               fmt_ms(d["p50"]), fmt_ms(d["p95"]), fmt_ms(d["p99"]), fmt_ms(d["p999"]),
               fmt_num(d.get("missing", 0))]
        if searchable:
            s = step.get("searchable_ms") or {}
            row += [fmt_ms(s.get("p50")), fmt_ms(s.get("p99"))]
        lag = step.get("lag") or {}
        row += [fmt_num((lag.get(name) or {}).get("max_seconds"), 2) for name in services]
        cpu = step.get("cpu_s_per_1k") or {}
        row += [fmt_num(cpu.get(name), 2) for name in services]
        row.append(fmt_num(step.get("machine_busy_cores"), 2))
        rows.append(row)
    return rows


def stepped_lines(title: str, runs: Sequence[dict[str, Any]], services: Sequence[str],
                  searchable: bool) -> list[str]:
    """A section with one table per run (exactly-once on, off)."""
    if not runs:
        return []
    lines = [f"## {title}", ""]
    for run in runs:
        mode = "exactly-once on" if run.get("exactly_once") else "exactly-once off"
        lines += [f"### {mode}", ""]
        header = ["offered tx/s", "sent", "achieved tx/s", "p50 ms", "p95 ms", "p99 ms",
                  "p99.9 ms", "not decided"]
        if searchable:
            header += ["searchable p50 ms", "searchable p99 ms"]
        header += [f"{name} lag s" for name in services]
        header += [f"{name} CPU s/1k" for name in services]
        header.append("machine busy cores")
        lines += table(header, step_rows(run, services, searchable))
        outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted((run.get("outcomes") or {}).items()))
        peak = ", ".join(f"{k} {v:,.0f}" for k, v in (run.get("peak_rss_mib") or {}).items())
        tools = step_tools_cpu(run)
        warm = run.get("warmup")
        if warm and warm.get("run"):
            lines += ["", f"Warm-up before the ladder (not in the table): "
                      f"{fmt_num(warm['sent'])} events at {fmt_num(warm['rate'])} tx/s, p50 "
                      f"{fmt_ms(warm['decision_ms']['p50'])} ms, p99 "
                      f"{fmt_ms(warm['decision_ms']['p99'])} ms."]
        lines += ["",
                  f"Decided {run.get('received', 0):,} of {run.get('sent', 0):,} sent "
                  f"({run.get('duplicates', 0)} duplicates){'; ' + outcomes if outcomes else ''}."
                  f" Peak RSS (MiB): {peak}." + (f" Load tools and servers, CPU s per 1,000 "
                                                 f"events: {tools}." if tools else ""),
                  ""]
        if run.get("saturated_at_rate") is not None:
            lines += [f"⚠ saturated at {fmt_num(run['saturated_at_rate'])} tx/s: lag passed "
                      "the threshold, so no higher load was offered; events not decided "
                      "before the drain deadline count as ∞.", ""]
    return lines


def breakdown_lines(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Where each step's latency went: waiting for the scorer, scoring, publishing."""
    tables: list[str] = []
    for run in runs:
        rows = []
        for step in run.get("steps", []):
            b = step.get("breakdown_ms") if step.get("run") else None
            if not b:
                continue
            parts = [b[name] for name in BREAKDOWN_SEGMENTS]
            rows.append([fmt_num(step["rate"]), fmt_ms(step["decision_ms"]["p99"]),
                         *(f"{fmt_ms(p['p50'])} / {fmt_ms(p['p99'])}" for p in parts),
                         " / ".join(fmt_ms(p["slowest"]) for p in parts)])
        if rows:
            mode = "exactly-once on" if run.get("exactly_once") else "exactly-once off"
            tables += [f"### {mode}", "", *table(
                ["offered tx/s", "p99 ms", "waiting p50 / p99 ms", "scoring p50 / p99 ms",
                 "publishing p50 / p99 ms", "slowest 1 %: waiting / scoring / publishing ms"],
                rows), ""]
    if not tables:
        return []
    return ["## Where the latency goes", "",
            "Each decision carries the milliseconds from its intended send time to the "
            "moment the scorer started on it (`proc_time`) and decided it (`ttdf`). That "
            "splits its latency into *waiting* (the generator, the broker, the scorer's "
            "fetch and the polls ahead of it), *scoring*, and *publishing* (producing, the "
            "transaction's commit, the reader's fetch). The last column is each part's mean "
            "over the slowest 1 % of the step's events: what the p99 is made of.", "",
            *tables]


def latency_lines(results: dict[str, Any]) -> list[str]:
    """The latency phase: one rate held for several windows, each window's p99 and all pooled."""
    runs = [r for r in results.get("latency") or [] if r.get("pooled")]
    if not runs:
        return []
    rows = []
    for run in runs:
        ran = [s for s in run.get("steps", []) if s.get("run")]
        pooled = run["pooled"]
        d = pooled["decision_ms"]
        # The worst judged lag and whose (a buffering service's lag is never judged).
        worst = max(((max_lag(s, name), name) for s in ran for name in PIPELINE
                     if name not in BUFFERING), default=None)
        busy = [float(s["machine_busy_cores"]) for s in ran
                if s.get("machine_busy_cores") is not None]
        b = pooled.get("breakdown_ms")
        rows.append([
            "exactly-once on" if run.get("exactly_once") else "exactly-once off",
            f"{pooled['windows']} × {fmt_num(ran[0]['seconds']) if ran else '–'} s"
            + (" ⚠" if run.get("saturated_at_rate") is not None else ""),
            fmt_num(pooled["sent"]), fmt_ms(d["p50"]), fmt_ms(d["p95"]), fmt_ms(d["p99"]),
            fmt_ms(d["p999"]), fmt_num(d.get("missing", 0)),
            ", ".join(fmt_ms(s["decision_ms"]["p99"]) for s in ran),
            f"{fmt_num(worst[0], 2)} ({worst[1]})" if worst else "–",
            fmt_num(sum(busy) / len(busy), 2) if busy else "–",
            " / ".join(fmt_ms(b[name]["slowest"]) for name in BREAKDOWN_SEGMENTS) if b else "–"])
    rate = fmt_num(runs[0]["steps"][0]["rate"]) if runs[0].get("steps") else "?"
    lines = [f"## Latency at {rate} tx/s, held", "",
             f"The pipeline again, with new services, held at {rate} tx/s for several "
             "windows after a short warm-up: the p99 targets are judged on every window's "
             "events pooled, because one step's p99 rests on its slowest few hundred events "
             "and swings by 2× between runs of the same code. Each window's own p99 shows "
             "that swing.", "",
             *table(["mode", "windows", "sent", "p50 ms", "p95 ms", "p99 ms", "p99.9 ms",
                     "not decided", "each window's p99 ms", "worst lag s (whose)",
                     "mean busy cores",
                     "slowest 1 %: waiting / scoring / publishing ms"], rows), ""]
    saturated = [r for r in runs if r.get("saturated_at_rate") is not None]
    if saturated:
        lines += ["⚠ saturated: lag passed the threshold in a window, so the windows after it "
                  "were not run; events not decided before the drain deadline count as ∞.", ""]
    return lines


def max_lag(step: dict[str, Any], service: str) -> float:
    """A service's worst lag in a step, seconds (0 when not sampled)."""
    return float(((step.get("lag") or {}).get(service) or {}).get("max_seconds") or 0.0)


OUR_SERVICES = ("scorer", "nullscorer", "indexer", "notifier", "archiver")
SERVERS = ("kafka", "opensearch")
LOAD_TOOLS = ("generator", "measurer", "mailcatcher")
"""The bench's own processes: load generator, measuring consumer, SMTP catcher."""


def budget_rows(run: dict[str, Any], cores: int) -> list[list[str]]:
    """Per step of ``run``: CPU s per 1,000 events by group, and what 2 (``cores``) carry."""
    rows = []
    for step in run.get("steps", []):
        cpu = step.get("cpu_s_per_1k") or {}
        if not step.get("run") or not cpu:
            continue
        parts = [sum(float(cpu.get(name) or 0.0) for name in group)
                 for group in (OUR_SERVICES, SERVERS, LOAD_TOOLS)]
        total = sum(parts)
        rows.append([fmt_num(step["rate"]), *(fmt_num(x, 2) for x in parts), fmt_num(total, 2),
                     fmt_num(total * 5, 2),
                     fmt_num(1000 * cores / total) if total > 0 else "–"])
    return rows


def budget_lines(results: dict[str, Any]) -> list[str]:
    """What every process together costs per event, and so the most 2 cores can carry.

    For each step of the exactly-once pipeline ladder (and of the floor run,
    when there is one): CPU seconds per 1,000 events summed over every process
    (our services, Kafka and OpenSearch, the load tools) and the rate at which
    that cost would fill the machine's cores.
    """
    cores = (results.get("machine_before") or {}).get("cores")
    if not cores:
        return []
    header = ["offered tx/s", "our services", "Kafka + OpenSearch", "load tools",
              "all, CPU s/1k", "cores needed at 5,000 tx/s",
              f"most tx/s {cores} cores carry at this cost"]
    lines: list[str] = []
    run = next((r for r in results.get("pipeline") or [] if r.get("exactly_once")), None)
    rows = budget_rows(run, cores) if run is not None else []
    if rows:
        lines += [f"Every process's CPU per 1,000 events at each step of the exactly-once "
                  f"ladder, and what that cost means on this machine's {cores} cores. Costs "
                  "per event fall as the rate grows (fuller batches), so the last column is a "
                  "floor at low rates and close to the truth near saturation.", "",
                  *table(header, rows), ""]
    floor = (results.get("floor") or [None])[0]
    rows = budget_rows(floor, cores) if floor is not None else []
    if rows:
        lines += ["The same for the floor run (the null scorer forwarding decided events, "
                  "every sink behind it): what the rest of the system costs when scoring "
                  "costs nothing.", "", *table(header, rows), ""]
    return ["## CPU budget", "", *lines] if lines else []


def step_tools_cpu(run: dict[str, Any]) -> str:
    """CPU per 1,000 events of the generator, measurer and servers at the first step."""
    steps = [s for s in run.get("steps", []) if s.get("run")]
    if not steps:
        return ""
    parts = []
    for step in steps:
        cpu = step.get("cpu_s_per_1k") or {}
        inner = ", ".join(f"{name} {fmt_num(cpu[name], 2)}" for name in TOOLS if name in cpu)
        if inner:
            parts.append(f"{fmt_num(step['rate'])} tx/s: {inner}")
    return "; ".join(parts)


def kafka_lines(results: dict[str, Any]) -> list[str]:
    """Kafka's own tools."""
    tools = results.get("kafka_tools")
    if not tools:
        return []
    lines = ["## The bus's own limits (Kafka's tools)", ""]
    if tools.get("error"):
        lines += [f"Failed: `{tools['error'][:300]}`", ""]
    rows = []
    for key, label in (("producer_performance", "ProducerPerformance"),
                       ("producer_performance_transactional",
                        "ProducerPerformance, a transaction every 100 ms")):
        r = tools.get(key)
        if r:
            rows.append([label, fmt_num(r["records"]), fmt_num(r["records_per_s"]),
                         fmt_num(r["mb_per_s"], 1), fmt_ms(r["p50_ms"]), fmt_ms(r["p99_ms"]),
                         fmt_ms(r["p999_ms"])])
    if rows:
        lines += table(["tool", "records", "records/s", "MB/s", "p50 ms", "p99 ms",
                        "p99.9 ms"], rows)
        lines += ["", f"Payloads: the bench's transactions "
                  f"(~{tools.get('payload_bytes_mean', '?')} bytes), `acks=all`, idempotent, "
                  "`linger.ms=5` — the options of our producers. Latency here is send→ack.", ""]
    e2e = tools.get("end_to_end_latency")
    if e2e:
        lines += [f"EndToEndLatency ({fmt_num(e2e['messages'])} messages of "
                  f"{e2e['size_bytes']} bytes, one at a time, produce→consume): avg "
                  f"{fmt_ms(e2e['avg_ms'])} ms, p50 {fmt_ms(e2e['p50_ms'])} ms, p99 "
                  f"{fmt_ms(e2e['p99_ms'])} ms, p99.9 {fmt_ms(e2e['p999_ms'])} ms.", ""]
    return lines


def capacity_lines(results: dict[str, Any]) -> list[str]:
    """Drain rates: scorer, indexer, raw bulk loader, generator."""
    cap = results.get("capacity")
    if not cap:
        return []
    lines = ["## Capacity: draining a backlog", "",
             f"{fmt_num(cap.get('events'))} transactions were written while no scorer ran, "
             "then a scorer (exactly-once) was started and timed from ready to its last "
             "decision (repeated from the start of the backlog by new groups, with empty "
             "state, when more than one drain is listed below the table); then the null "
             "scorer on the same backlog (our Kafka plumbing "
             "alone: consume, produce unchanged, per-partition transactions); then an "
             "indexer on the decisions (ready → last bulk acknowledged) and the raw "
             "bulk loader on the same documents (in pairs, each a new index, when the "
             "pairs are listed below the table); then the notifier on a fraud wave "
             "(ready → an alert settled for every blocked decision).", ""]
    rows = []
    drains = (cap.get("scorer") or {}).get("drains") or []
    scorer_label = ("scorer (exactly-once)" if len(drains) < 2
                    else f"scorer (exactly-once), the median of {len(drains)} drains")
    for key, label in (("scorer", scorer_label),
                       ("nullscorer", "null scorer (exactly-once), the same backlog passed "
                                      "through unscored")):
        s = cap.get(key) or {}
        if s:
            rows.append([label, fmt_num(s.get("decided")), fmt_num(s.get("seconds"), 1),
                         fmt_num(s.get("events_per_s")), fmt_num(s.get("cpu_seconds"), 1),
                         fmt_num(s.get("events_per_cpu_second")),
                         fmt_num(s.get("peak_rss_mib"))])
    i = cap.get("indexer") or {}
    if i:
        per_cpu = (float(i["indexed"]) / float(i["cpu_seconds"])
                   if i.get("cpu_seconds") else None)
        indexer_drains = i.get("drains") or []
        rows.append(["indexer (bulk 500)" + median_of(indexer_drains, "drains"),
                     fmt_num(i.get("indexed")),
                     fmt_num(i.get("seconds"), 1),
                     fmt_num(i.get("docs_per_s")), fmt_num(i.get("cpu_seconds"), 1),
                     fmt_num(per_cpu), fmt_num(i.get("peak_rss_mib"))])
    notifier_drains = cap.get("notifier") or []
    for d in notifier_drains:
        per_cpu = (float(d["decisions"]) / float(d["cpu_seconds"])
                   if d.get("cpu_seconds") else None)
        rows.append([f"notifier, {notifier_in_flight(d.get('concurrency'))}",
                     fmt_num(d.get("decisions")), fmt_num(d.get("seconds"), 1),
                     fmt_num(d.get("decisions_per_s")), fmt_num(d.get("cpu_seconds"), 1),
                     fmt_num(per_cpu), fmt_num(d.get("peak_rss_mib"))])
    raw = cap.get("raw_bulk") or {}
    for r in raw.get("runs", []):
        rows.append([f"raw bulk loader, {r['in_flight']} in flight"
                     + median_of(raw.get("drains") or [], "loads"),
                     fmt_num(r["documents"]), fmt_num(r["seconds"], 1), fmt_num(r["docs_per_s"]),
                     fmt_num(r["client_cpu_seconds"], 1), "–", "–"])
    g = cap.get("generator") or {}
    if g:
        rows.append(["bench generator (aiokafka producer)", fmt_num(g.get("sent")),
                     fmt_num(g.get("seconds"), 1), fmt_num(g.get("events_per_s")),
                     fmt_num(g.get("cpu_seconds"), 1), "–", "–"])
    lines += table(["what", "events", "seconds", "per second", "CPU s", "per CPU-second",
                    "peak RSS MiB"], rows)
    for error in raw.get("errors") or ([raw["error"]] if raw.get("error") else []):
        lines += ["", f"Raw bulk loader failed: `{str(error)[:300]}`"]
    lines += drain_lines(drains)
    lines += indexer_pair_lines(cap.get("indexer_share_of_raw") or {})
    lines += notifier_lines(notifier_drains)
    lines += search_cost_lines(i, raw)
    lines += changelog_cost_lines(cap.get("scorer") or {})
    return [*lines, ""]


def drain_lines(drains: list[dict[str, Any]]) -> list[str]:
    """Each scorer drain's figures, in the order they ran (the table shows the median)."""
    if len(drains) < 2:
        return []
    each = "; ".join(f"{fmt_num(d.get('events_per_cpu_second'))} events/CPU-s "
                     f"({fmt_num(d.get('events_per_s'))}/s)" for d in drains)
    return ["", f"The scorer's {len(drains)} drains, in the order they ran: {each}. One "
            "drain lasts seconds, and this machine's speed swings between them: the "
            "spread says how far to trust one figure."]


def median_of(runs: list[dict[str, Any]], what: str) -> str:
    """``", the median of 3 drains"`` for a repeated run (nothing for one)."""
    return f", the median of {len(runs)} {what}" if len(runs) > 1 else ""


def indexer_pair_lines(paired: dict[str, Any]) -> list[str]:
    """Each indexer drain against the raw load run next to it (the table shows medians)."""
    pairs = paired.get("pairs") or []
    if len(pairs) < 2:
        return []
    each = "; ".join(
        f"{fmt_num(p.get('ours'))} against {fmt_num(p.get('ceiling'))} docs/s ("
        + ("–" if p.get("share") is None else f"{float(p['share']):.1%}") + ")"
        for p in pairs)
    median = paired.get("median")
    return ["", f"The indexer against the raw bulk loader, {len(pairs)} pairs run back to "
            f"back (the order alternating), in the order they ran: {each}. The target's "
            "verdict takes the median share"
            + ("" if median is None else f", {float(median):.1%}") + ": one pair's "
            "share moves with the machine as much as with the indexer."]


def notifier_in_flight(concurrency: Any) -> str:
    """``"1 alert in flight"`` / ``"4 alerts in flight"``."""
    return f"{fmt_num(concurrency)} alert{'' if concurrency == 1 else 's'} in flight"


def notifier_lines(drains: list[dict[str, Any]]) -> list[str]:
    """The notifier drains' alert rates (the table counts decisions)."""
    if not drains:
        return []
    each = "; ".join(
        f"{notifier_in_flight(d.get('concurrency'))}: {fmt_num(d.get('alerts'))} alerts at "
        f"{fmt_num(d.get('alerts_per_s'))}/s (the mail catcher used "
        f"{fmt_num(d.get('mailcatcher_cpu_seconds'), 1)} CPU s)" for d in drains)
    first = drains[0]
    return ["", f"The notifier rows are a fraud wave: {fmt_num(first.get('decisions'))} of "
            "these decisions again, one in "
            f"{fmt_num(first.get('block_every'))} made a block, read by a new group each "
            "time; every alert went to the bench's SMTP "
            f"catcher and was recorded on the sent topic. {each}."]


def changelog_cost_lines(scorer: dict[str, Any]) -> list[str]:
    """What the scorer's feature-state changelog wrote per decision during the drain."""
    per_event = scorer.get("changelog_bytes_per_event")
    if per_event is None:
        return []
    return ["", f"The scorer's feature-state changelog: {fmt_num(per_event)} bytes of record "
                "values per decision while it drained (`fraudstream_scorer_changelog_bytes_"
                "total`; the bench's entities are minutes old, so their records hold a "
                "bucket or two)."]


def search_cost_lines(indexer: dict[str, Any], raw: dict[str, Any]) -> list[str]:
    """What indexing costs OpenSearch itself, and so the machine at the target rate."""
    costs = [(label, run.get("opensearch_cpu_per_1k_docs"))
             for label, run in (("while the indexer drained", indexer),
                                ("while the raw loader loaded", raw))]
    known = [(label, float(cost)) for label, cost in costs
             if isinstance(cost, (int, float)) and cost == cost]
    if not known:
        return []
    cheapest = min(cost for _, cost in known)
    return ["", "OpenSearch's own CPU, seconds per 1,000 documents: "
            + "; ".join(f"{fmt_num(cost, 2)} {label}" for label, cost in known)
            + f". At 5,000 documents/s indexing alone keeps {fmt_num(cheapest * 5, 2)} "
            "cores busy (at the cheaper of the two)."]


def micro_lines(results: dict[str, Any]) -> list[str]:
    """The scorer's parts."""
    micro = results.get("micro")
    if not micro:
        return []
    if micro.get("error"):
        return ["## Micro-benchmarks of the scorer", "", f"Failed: `{micro['error'][:300]}`", ""]
    rows = []
    for name, r in (micro.get("stages") or {}).items():
        if "error" in r:
            rows.append([name, "error", r["error"][:120], ""])
        else:
            rows.append([name, fmt_num(r["cpu_us_per_event"], 1),
                         fmt_num(r["events_per_cpu_second"]), fmt_num(r["wall_us_per_event"], 1)])
    return ["## Micro-benchmarks of the scorer", "",
            f"{fmt_num(micro.get('events'))} transactions, batches of {micro.get('batch')}, "
            f"model `{micro.get('model_version')}`, feature store "
            f"`{micro.get('feature_store', 'python')}`; single thread, CPU time.", "",
            *table(["stage", "CPU µs/event", "events per CPU-second", "wall µs/event"], rows),
            ""]


def profile_lines(results: dict[str, Any]) -> list[str]:
    """py-spy summaries (shown when a target was missed)."""
    profiles = (results.get("capacity") or {}).get("profiles") or {}
    missed = any(v.get("met") is False for v in results.get("targets") or [])
    if not profiles or not missed:
        return []
    lines = ["## Where the time goes (py-spy)", "",
             "Sampled at 100 Hz while draining a backlog (a separate run from the measured "
             "ones); shares are of all samples of the process's threads that were not idle.", ""]
    for name, p in profiles.items():
        lines += [f"### {name}", ""]
        if p.get("error"):
            lines += [f"Profile unavailable: `{p['error'][:300]}`", ""]
            continue
        lines += [f"{p.get('samples', 0):,} samples ({p.get('method', '')}).", ""]
        areas = ", ".join(f"{n} {s:g} %" for n, s in p.get("areas_self_pct", [])[:8])
        lines += [f"By module (own time): {areas}.", ""]
        lines += table(["function (own time)", "%"],
                       [[f"`{n}`", f"{s:g}"] for n, s in p.get("top_self_pct", [])[:10]])
        inclusive = [(n, s) for n, s in p.get("top_inclusive_pct", []) if s < 90][:8]
        if inclusive:
            lines += ["", *table(["function (with callees)", "%"],
                                 [[f"`{n}`", f"{s:g}"] for n, s in inclusive])]
        lines.append("")
    return lines


def render_markdown(results: dict[str, Any], png_name: str | None = None) -> str:
    """The whole report."""
    started = str(results.get("started", ""))[:16].replace("T", " ")
    lines = [f"# fraudstream benchmark — {started} UTC", "",
             "Produced by `make bench` (`bench/`; method in `bench/README.md`). Open-loop "
             "load: every event has an intended send time stamped into it, and latency is "
             "measured from that time by a separate `read_committed` consumer, so a stall of "
             "the pipeline or of the generator shows up in the latency instead of lowering "
             "the offered load.", "", *machine_lines(results), ""]
    if png_name:
        lines += [f"![throughput and latency against offered load]({png_name})", ""]
    lines += targets_lines(results)
    lines += stepped_lines("The pipeline (scorer → indexer + notifier + archiver)",
                           results.get("pipeline") or [], PIPELINE, searchable=True)
    lines += breakdown_lines(results.get("pipeline") or [])
    lines += latency_lines(results)
    lines += stepped_lines("Floor: the pipeline with a pass-through scorer (no scoring)",
                           results.get("floor") or [], FLOOR, searchable=True)
    lines += budget_lines(results)
    if results.get("sustained"):
        lines += stepped_lines("Sustained", [results["sustained"]],
                               PIPELINE, searchable=True)
    lines += stepped_lines("Null scorer (our Kafka plumbing alone)",
                           results.get("null_scorer") or [], ("nullscorer",), searchable=False)
    lines += kafka_lines(results)
    lines += capacity_lines(results)
    lines += micro_lines(results)
    lines += profile_lines(results)
    return "\n".join(lines).rstrip() + "\n"
