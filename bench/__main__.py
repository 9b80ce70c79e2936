"""``python -m bench run|report`` — see ``bench/README.md``.

``run`` measures (about 24 minutes with the defaults) and writes
``bench/results/<date>.json``, ``<date>.md`` and ``<date>.png``; ``report``
re-renders the Markdown and the plot from a results file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import RESULTS, read_json, write_json
from bench.report import same_machine
from bench.runner import PHASES, Bench, Options, cpu_model


def floats(text: str) -> tuple[float, ...]:
    """``"1000, 2500"`` → ``(1000.0, 2500.0)``."""
    values = tuple(float(part) for part in text.replace(" ", "").split(",") if part)
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas: {text}")
    return values


def positive(text: str) -> float:
    """A number above zero."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number: {text}")
    return value


def whole_number(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number of ``minimum`` or more."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a whole number of {minimum} or more: {text}")
        return value
    return parse


at_least_one = whole_number(1)
at_least_zero = whole_number(0)


def phases(text: str) -> tuple[str, ...]:
    """``"pipeline,micro"`` → the phases, checked."""
    chosen = tuple(part for part in text.replace(" ", "").split(",") if part)
    unknown = [p for p in chosen if p not in PHASES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(f"phases are {', '.join(PHASES)}; got {text}")
    return chosen


def parser() -> argparse.ArgumentParser:
    """The command line."""
    defaults = Options()
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="measure and write bench/results/<date>.{json,md,png}")
    run.add_argument("--rates", type=floats, default=defaults.rates,
                     help="offered loads, tx/s (default: %(default)s)")
    run.add_argument("--step-seconds", type=float, default=defaults.step_seconds)
    run.add_argument("--null-step-seconds", type=float, default=defaults.null_step_seconds)
    run.add_argument("--floor-rates", type=floats, default=defaults.floor_rates,
                     help="offered loads of the floor run (pass-through scorer, every sink), "
                          "tx/s (default: %(default)s)")
    run.add_argument("--sustain-seconds", type=float, default=defaults.sustain_seconds,
                     help="a sustained exactly-once run at --sustain-rate (600 = the target's "
                          "10 minutes; 0 = none)")
    run.add_argument("--sustain-rate", type=float, default=defaults.sustain_rate)
    run.add_argument("--latency-rate", type=positive, default=defaults.latency_rate,
                     help="the latency phase's rate, tx/s (default: %(default)s; the p99 "
                          "targets are judged on it only at 2,500)")
    run.add_argument("--latency-windows", type=at_least_one, default=defaults.latency_windows,
                     help="windows of the latency phase, pooled for the p99 verdicts "
                          "(default: %(default)s)")
    run.add_argument("--latency-seconds", type=positive, default=defaults.latency_seconds,
                     help="seconds of each latency window (default: %(default)s)")
    run.add_argument("--capacity-events", type=int, default=defaults.capacity_events)
    run.add_argument("--capacity-repeats", type=at_least_one, default=defaults.capacity_repeats,
                     help="scorer drains of the backlog, and indexer/raw-loader pairs; "
                          "the report takes the medians (default: %(default)s)")
    run.add_argument("--partitions", type=at_least_one, default=defaults.partitions,
                     help="partitions of every topic the bench creates (default %(default)s, "
                          "the services' own default); each is a transaction per poll with "
                          "exactly-once")
    run.add_argument("--perf-records", type=int, default=defaults.perf_records)
    run.add_argument("--e2e-messages", type=int, default=defaults.e2e_messages)
    run.add_argument("--drain-timeout", type=float, default=defaults.drain_timeout_s)
    run.add_argument("--saturation-lag", type=float, default=defaults.saturation_lag_s,
                     help="a step whose lag exceeds this many seconds ends the ladder")
    run.add_argument("--profile-seconds", type=float, default=defaults.profile_seconds)
    run.add_argument("--phases", type=phases, default=defaults.phases,
                     help=f"subset of {','.join(PHASES)}")
    run.add_argument("--keep", action="store_true",
                     help="keep the bench topics and indices, and the lakes and mail the "
                          "services wrote")
    run.add_argument("--keep-runs", type=at_least_zero, default=defaults.keep_runs,
                     help="work directories of earlier runs to keep in .local/bench (logs, "
                          "latency arrays, profiles; about 190 MB a full run); older ones are "
                          "deleted when a run starts (default: %(default)s)")
    run.add_argument("--out", type=Path, default=RESULTS,
                     help="folder of the results (default: bench/results)")
    run.add_argument("--name", help="file name stem (default: the UTC date and time)")
    report = sub.add_parser("report", help="re-render the Markdown and PNG of a results file")
    report.add_argument("results", type=Path)
    return top


def previous_run(folder: Path, stem: str) -> dict[str, Any] | None:
    """The newest results file in ``folder`` (last modified; not ``<stem>.json``, the one
    about to be written): its stem and its ``machine_before``. ``None`` when there is
    none that can be read."""
    earlier = sorted((path for path in folder.glob("*.json") if path.stem != stem),
                     key=lambda path: (path.stat().st_mtime, path.stem))
    for path in reversed(earlier):
        try:
            machine = read_json(path).get("machine_before")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(machine, dict):
            return {"file": path.stem, "machine": machine}
    return None


def machine_change_note(previous: dict[str, Any] | None, folder: Path,
                        here: dict[str, Any]) -> str | None:
    """What ``bench run`` says before it starts when the previous run's CPU was another.

    ``previous`` is :func:`previous_run`'s answer, ``here`` this machine's CPU model
    and core count. ``None`` when there is no previous run or it ran on this CPU.
    """
    if previous is None or same_machine(previous["machine"], here):
        return None

    def named(machine: dict[str, Any]) -> str:
        return f"{machine.get('cpu_model')} ({machine.get('cores')} cores)"

    return (f"note: {previous['file']} in {folder} ran on {named(previous['machine'])}, "
            f"this machine is {named(here)}: the two runs' figures do not compare")


def render_all(results_path: Path) -> tuple[Path, Path]:
    """Write ``<stem>.md`` and ``<stem>.png`` next to a results file."""
    from bench.plot import plot
    from bench.report import render_markdown

    results = read_json(results_path)
    png = results_path.with_suffix(".png")
    plot(results, png)
    md = results_path.with_suffix(".md")
    md.write_text(render_markdown(results, png.name), encoding="utf-8")
    return md, png


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parser().parse_args(argv)
    if args.command == "report":
        md, png = render_all(args.results)
        print(f"wrote {md} and {png}")
        return 0
    opts = Options(
        rates=args.rates, step_seconds=args.step_seconds,
        null_step_seconds=args.null_step_seconds, floor_rates=args.floor_rates,
        sustain_seconds=args.sustain_seconds,
        sustain_rate=args.sustain_rate, latency_rate=args.latency_rate,
        latency_windows=args.latency_windows, latency_seconds=args.latency_seconds,
        capacity_events=args.capacity_events,
        capacity_repeats=args.capacity_repeats,
        partitions=args.partitions,
        perf_records=args.perf_records, e2e_messages=args.e2e_messages,
        drain_timeout_s=args.drain_timeout, saturation_lag_s=args.saturation_lag,
        profile_seconds=args.profile_seconds, phases=args.phases, keep=args.keep,
        keep_runs=args.keep_runs,
        bootstrap=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        opensearch_url=os.environ.get("OPENSEARCH_URL", "http://127.0.0.1:9200"))
    before_run = previous_run(args.out, args.name or "")
    note = machine_change_note(before_run, args.out,
                               {"cpu_model": cpu_model(), "cores": os.cpu_count()})
    if note:
        print(note, flush=True)
    results = asyncio.run(Bench(opts).run())
    from bench.targets import evaluate

    results["targets"] = evaluate(results)
    results["previous_run"] = before_run
    stem = args.name or datetime.now(UTC).strftime("%Y-%m-%d-%H%M")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{stem}.json"
    write_json(path, results)
    md, png = render_all(path)
    print(f"wrote {path}, {md} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
