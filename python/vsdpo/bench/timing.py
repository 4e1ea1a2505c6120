"""Small helpers every benchmark shares: a repeat-and-take-the-median timer, a markdown table
printer and a one-line description of the machine the figures were taken on.

Benchmarks print markdown a person can paste into an issue, so the helpers return strings and
leave printing to the caller.
"""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "Timing",
    "command_line",
    "cpu_model",
    "format_ms",
    "machine_description",
    "markdown_table",
    "time_call",
]


@dataclass(frozen=True)
class Timing:
    """Wall-clock times of repeated calls of one function, in seconds."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def runs(self) -> int:
        return len(self.times)


def time_call(
    fn: Callable[[], Any],
    repeat: int,
    *,
    warmup: int = 1,
    budget_s: float | None = None,
    min_repeat: int = 1,
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed with ``time.perf_counter``.

    ``budget_s`` caps the timed work for slow functions: after the first timed call the number of
    runs is cut so that the whole measurement stays near ``budget_s`` (never below
    ``min_repeat``). Take :attr:`Timing.median`, which one stray slow run cannot move.

    >>> t = time_call(lambda: sum(range(100)), repeat=5)
    >>> t.runs, t.median > 0
    (5, True)
    """
    if repeat < 1:
        raise ValueError(f"repeat: expected a number >= 1, got {repeat}")
    for _ in range(warmup):
        fn()
    times: list[float] = []
    planned = repeat
    while len(times) < planned:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        if budget_s is not None and len(times) == 1:
            fits = int(budget_s / max(times[0], 1e-9))
            planned = max(min(repeat, fits), min(min_repeat, repeat), 1)
    return Timing(tuple(times))


def format_ms(seconds: float) -> str:
    """Milliseconds with about three significant figures: ``0.0123``, ``1.23``, ``123``, ``12345``."""
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:,.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}"


def markdown_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None
) -> str:
    """A GitHub-flavoured markdown table, columns padded so it also reads well as plain text.

    ``align`` has one letter per column: ``l`` (left), ``r`` (right) or ``c`` (centre);
    the default is left for every column.

    >>> print(markdown_table(["name", "ms"], [["a", "1.5"], ["bb", "10"]], align="lr"))
    | name |  ms |
    |:-----|----:|
    | a    | 1.5 |
    | bb   |  10 |
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    ncol = len(headers)
    if any(len(row) != ncol for row in cells):
        raise ValueError(f"every row needs {ncol} cells, one per header")
    align = align or "l" * ncol
    if len(align) != ncol or set(align) - set("lrc"):
        raise ValueError(f"align: expected {ncol} letters from 'l', 'r', 'c', got {align!r}")
    widths = [max(3, *(len(row[i]) for row in cells)) for i in range(ncol)]

    def line(row: Sequence[str]) -> str:
        padded = []
        for text, width, a in zip(row, widths, align):
            padded.append(
                text.rjust(width)
                if a == "r"
                else text.center(width)
                if a == "c"
                else text.ljust(width)
            )
        return "| " + " | ".join(padded) + " |"

    rules = {
        "l": lambda w: ":" + "-" * (w + 1),
        "r": lambda w: "-" * (w + 1) + ":",
        "c": lambda w: ":" + "-" * w + ":",
    }
    rule = "|" + "|".join(rules[a](w) for a, w in zip(align, widths)) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


@dataclass(frozen=True)
class ModeRun:
    """One throughput mode's run: ``count`` artifacts (charts, pages) in ``seconds`` of wall time."""

    mode: str
    label: str
    count: int
    succeeded: int
    seconds: float
    startup_s: float = 0.0  # untimed set-up (a worker pool, a browser), shown for information

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("inf")


def throughput_table(runs: Sequence[ModeRun], unit: str) -> str:
    """Markdown table of throughput modes, each as a ratio against the ``naive`` mode's rate.

    >>> print(throughput_table([ModeRun("naive", "fresh", 4, 4, 2.0), ModeRun("warm", "pool", 4, 4, 0.5)], "pages"))
    ... # doctest: +NORMALIZE_WHITESPACE
    | mode  | pages |  ok | seconds | pages/s |        vs naive | start-up s (untimed) |
    |:------|------:|----:|--------:|--------:|----------------:|---------------------:|
    | fresh |     4 |   4 |     2.0 |    2.00 | 1.0x (baseline) |                      |
    | pool  |     4 |   4 |     0.5 |    8.00 |            4.0x |                      |
    """
    naive = next((r for r in runs if r.mode == "naive"), None)
    rows = []
    for r in runs:
        ratio = f"{r.per_s / naive.per_s:.1f}x" if naive and naive.seconds else "n/a"
        rows.append(
            [
                r.label,
                r.count,
                r.succeeded,
                f"{r.seconds:.1f}",
                f"{r.per_s:.2f}",
                "1.0x (baseline)" if r is naive else ratio,
                f"{r.startup_s:.1f}" if r.startup_s else "",
            ]
        )
    return markdown_table(
        ["mode", unit, "ok", "seconds", f"{unit}/s", "vs naive", "start-up s (untimed)"],
        rows,
        align="lrrrrrr",
    )


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, ``sysctl`` on macOS), else the
    architecture."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Hardware", "Processor") and value.strip():
                return value.strip()
    if platform.system() == "Darwin":
        import subprocess

        try:
            out = subprocess.run(
                ["sysctl", "-n", "machdep.cpu.brand_string"],
                capture_output=True,
                text=True,
                timeout=5,
            )
            if out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _usable_cores() -> int | None:
    # the cores this process may run on (a container or taskset can allow fewer than exist)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_description(packages: Sequence[str] = ()) -> str:
    """One line naming the CPU, its cores, the OS and the versions of Python, numpy and
    ``packages`` (distribution names; missing ones are shown as "not installed").

    >>> "numpy" in machine_description()
    True
    """
    cores = os.cpu_count() or 0
    usable = _usable_cores()
    core_text = f"{cores} logical cores" + (
        f" ({usable} usable)" if usable and usable != cores else ""
    )
    parts = [
        cpu_model(),
        core_text,
        platform.platform(terse=True),
        f"Python {platform.python_version()}",
    ]
    for name in ("numpy", *packages):
        parts.append(f"{name} {_version(name) or 'not installed'}")
    return " · ".join(parts)


def command_line(prog: str, argv: Sequence[str]) -> str:
    """The command as a user would type it, e.g. ``vsdpo bench kernels --repeat 5``."""
    return " ".join([prog, *(shlex.quote(a) for a in argv)])
