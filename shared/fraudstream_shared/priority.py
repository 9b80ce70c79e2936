"""A service's CPU priority on a host it shares with the others.

On one machine running every service as a plain process (``make run``, the
bench), the scheduler shares the cores evenly between whatever is runnable, so
a bulk request being built or a Parquet file being written delays the next
decision as much as it delays itself. Decisions are what a payment waits for;
an index or a lake a second behind is not. The services off that path (the
indexer, notifier and archiver) can therefore run at a lower priority
(``CPU_NICE``, Unix niceness): they get the cores the scorer leaves. It is
off by default: on a full machine the sinks then fall far behind (measured in
the README's Performance section).

Niceness orders threads only within their task group (``sched(7)``). Where
Linux groups by session (autogroup: ``/proc/sys/kernel/sched_autogroup_enabled``
is 1; the bench's reports record it), that is the session. Under ``make run``
the services share one, so the sinks yield to the scorer, but not to the local
Kafka and OpenSearch, which ``infra/local/stack.py`` starts in sessions of
their own.

Separate containers (Compose) or tasks (ECS) each have CPU of their own, so
there the setting changes nothing (Compose's ``cpu_shares`` is the equivalent).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

THREADS = Path("/proc/self/task")
"""Linux lists a process's threads here; each has a niceness of its own."""


def run_at_niceness(niceness: int) -> int:
    """Run this process at ``niceness`` or lower priority, and return the niceness it has.

    Linux keeps a niceness per thread, and a new thread inherits its creator's:
    every thread already running is set (libraries may have started some at
    import), and the threads started afterwards inherit it. A thread already
    at a higher niceness keeps it (raising priority needs privileges).
    """
    if niceness > os.getpriority(os.PRIO_PROCESS, 0):
        for thread in _threads():
            with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                if niceness > os.getpriority(os.PRIO_PROCESS, thread):
                    os.setpriority(os.PRIO_PROCESS, thread, niceness)
    return os.getpriority(os.PRIO_PROCESS, 0)


def _threads() -> list[int]:
    """This process's thread ids (``0``, this thread, where ``/proc`` does not list them)."""
    try:
        return [int(name) for name in os.listdir(THREADS)]
    except FileNotFoundError:
        return [0]
