"""Where the time goes: py-spy samples of a running service, summarised.

``py-spy record --pid`` attaches to the running process (it needs ptrace
permission: root, or ``kernel.yama.ptrace_scope`` 0); where attaching is not
allowed the caller starts the service as py-spy's child instead
(``py-spy record -- python -m …``). Samples are written in py-spy's "raw"
(collapsed stacks) format; :func:`summarize` is pure.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]*)(?::\d+)?\)$")
_SITE = re.compile(r".*/site-packages/")
_OURS = re.compile(r".*/(services/[a-z]+|shared)/")
_STDLIB = re.compile(r".*/lib/python3\.\d+/")


def py_spy() -> str:
    """The py-spy executable (installed with the dev dependencies)."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found


def record_pid(pid: int, seconds: float, out: Path, rate: int = 100) -> str | None:
    """Sample ``pid`` for ``seconds`` into ``out``; return an error text or ``None``."""
    cmd = [py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(seconds))),
           "--rate", str(rate), "--format", "raw", "--nonblocking", "-o", str(out)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0 or not out.exists():
        return (proc.stdout + proc.stderr).strip()[-500:] or f"py-spy exited {proc.returncode}"
    return None


def child_argv(argv: list[str], out: Path, rate: int = 100) -> list[str]:
    """``argv`` run as py-spy's child (the fallback when attaching is not allowed)."""
    return [py_spy(), "record", "--rate", str(rate), "--format", "raw", "--nonblocking",
            "-o", str(out), "--", *argv]


def frame_name(frame: str) -> tuple[str, str]:
    """``(function, module path)`` of a raw frame ``func (path/file.py:line)``."""
    m = _FRAME.match(frame.strip())
    if m is None:
        return frame.strip(), ""
    return m["func"], m["file"]


OURS = frozenset({"scorer", "indexer", "notifier", "producer", "fraudstream_shared", "bench"})


def module_path(path: str) -> str:
    """The dotted module of a frame's file: ``lightgbm/basic.py`` → ``lightgbm.basic``.

    py-spy usually prints paths relative to their ``sys.path`` entry; absolute
    ones (site-packages, the workspace, the standard library) are shortened the
    same way.
    """
    if not path:
        return "(native)"
    if path.startswith("<"):
        return path
    for marker in (_SITE, _OURS, _STDLIB):
        found = marker.match(path)
        if found:
            path = path[found.end():]
            break
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def area(path: str) -> str:
    """Where a frame's file belongs: a package (``aiokafka``) or one of our subpackages.

    Our own code is split one level further (``scorer.features``,
    ``scorer.engine``) because that is where the time is spent and changed.
    """
    module = module_path(path)
    if module.startswith("(") or module.startswith("<"):
        return module
    parts = module.split(".")
    if parts[0] in OURS and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


UBIQUITOUS_PCT = 90.0
"""Frames on at least this share of the samples are left out of the inclusive ranking."""


@dataclass(frozen=True)
class ProfileSummary:
    """Sample counts: total, and the top functions and areas by self and inclusive time."""

    samples: int
    top_self: list[tuple[str, float]]
    top_inclusive: list[tuple[str, float]]
    areas_self: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; shares are percentages of all samples."""
        return {"samples": self.samples,
                "top_self_pct": [[n, round(p, 1)] for n, p in self.top_self],
                "top_inclusive_pct": [[n, round(p, 1)] for n, p in self.top_inclusive],
                "areas_self_pct": [[n, round(p, 1)] for n, p in self.areas_self]}


def summarize(raw: str, top: int = 12) -> ProfileSummary:
    """Summarise py-spy raw output (``frame;frame;… count`` per line)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        func, path = frames[-1]
        own[f"{func} ({module_path(path)})"] += count
        areas[area(path)] += count
        for name in {f"{f} ({module_path(p)})" for f, p in frames}:
            inclusive[name] += count
    if total == 0:
        return ProfileSummary(0, [], [], [])

    def share(counter: Counter[str], most: float = 101.0) -> list[tuple[str, float]]:
        ranked = [(name, 100 * n / total) for name, n in counter.most_common()]
        return [(name, pct) for name, pct in ranked if pct < most][:top]

    # Frames on (nearly) every stack — the event loop, the server — say nothing.
    return ProfileSummary(total, share(own), share(inclusive, UBIQUITOUS_PCT), share(areas))
