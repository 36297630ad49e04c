"""Shared helpers for driftline's benchmarks: machine description, timing, result tables.

A benchmark is a script ``benchmarks/<name>.py`` that imports from here::

    from _common import is_quick, median_of, write_results

    runs = 3 if is_quick() else 15
    seconds = median_of(lambda: work(), runs)
    write_results("<name>", "What is measured", ["case", "median"], [["x", fmt_seconds(seconds)]])

``run_all.py`` runs every such script and copies ``benchmarks/results/*.md``
into ``benchmarks/README.md``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "BENCHMARKS_DIR",
    "RESULTS_DIR",
    "fmt_seconds",
    "is_quick",
    "machine_info",
    "machine_line",
    "median_of",
    "report_measures",
    "timings_of",
    "write_results",
]

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
QUICK_ENV = "DRIFTLINE_BENCH_QUICK"


def is_quick(argv: Sequence[str] | None = None) -> bool:
    """Whether to run short: ``--quick`` on the command line or DRIFTLINE_BENCH_QUICK=1."""
    args = sys.argv[1:] if argv is None else argv
    return "--quick" in args or os.environ.get(QUICK_ENV) == "1"


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """Where and when the numbers were taken; no host name or user name is included.

    Keys: ``date`` (UTC, ISO 8601), ``platform``, ``python``, ``cpu``, ``cores``,
    ``usable_cores`` (this process's CPU affinity), ``memory_gib``, ``numpy``,
    ``scipy`` (None when not installed) and ``openblas_coretype`` (the value of
    OPENBLAS_CORETYPE, or None when unset).
    """
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = None
    return {
        "date": _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "platform": platform.platform(terse=False),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


def machine_line(info: dict[str, Any] | None = None) -> str:
    """``machine_info()`` as one line of text for the head of a results file."""
    i = machine_info() if info is None else info
    parts = [
        i["date"],
        i["platform"],
        i["python"],
        f"{i['cpu']} ({i['cores']} cores, {i['usable_cores']} usable)",
        f"{i['memory_gib']} GiB RAM",
    ]
    parts += [f"{lib} {i[lib]}" for lib in ("numpy", "scipy") if i[lib] is not None]
    coretype = i["openblas_coretype"]
    parts.append("OPENBLAS_CORETYPE unset" if coretype is None else f"OPENBLAS_CORETYPE={coretype}")
    return " · ".join(parts)


def timings_of(fn: Callable[[], object], runs: int, *, warmup: int = 1) -> list[float]:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times; return each run's seconds."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    for _ in range(warmup):
        fn()
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        timings.append(time.perf_counter() - start)
    return timings


def median_of(fn: Callable[[], object], runs: int, *, warmup: int = 1) -> float:
    """The median wall time in seconds of ``runs`` calls of ``fn``, after ``warmup`` calls."""
    return statistics.median(timings_of(fn, runs, warmup=warmup))


def fmt_seconds(seconds: float) -> str:
    """A duration with a readable unit: ``"850 ns"``, ``"12.3 µs"``, ``"4.56 ms"``, ``"1.23 s"``.

    A negative duration (a fitted intercept, say) keeps its sign and takes the unit of its size.
    """
    if seconds < 0:
        return "-" + fmt_seconds(-seconds)
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def load_note(start: Sequence[float], end: Sequence[float]) -> str:
    """The results note giving ``os.getloadavg()`` read at a run's start and end."""
    return (
        f"Shared machine ({os.cpu_count()} cores): load average (1, 5, 15 min) "
        f"{', '.join(f'{v:.2f}' for v in start)} at start, "
        f"{', '.join(f'{v:.2f}' for v in end)} at end."
    )


def _cell(value: object) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def write_results(
    path: str | Path,
    title: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    notes: str | Sequence[str] = "",
) -> Path:
    """Write a markdown section (title, machine/date line, table, notes) and return its path.

    ``path`` is a benchmark name such as ``"decorator_overhead"``, written to
    ``benchmarks/results/<name>.md``, or any path ending in ``.md``. Floats are
    shown with four significant digits; format them yourself (``fmt_seconds``)
    for units. Notes are paragraphs after the table.
    """
    target = Path(path)
    if target.suffix != ".md":
        target = RESULTS_DIR / f"{target.name}.md"
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells for {len(headers)} headers")
    lines = [
        f"### {title}",
        "",
        f"*{machine_line()}*",
        "",
        "| " + " | ".join(_cell(h) for h in headers) + " |",
        "|" + "|".join(" --- " for _ in headers) + "|",
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows),
    ]
    paragraphs = [notes] if isinstance(notes, str) else list(notes)
    for paragraph in paragraphs:
        if paragraph.strip():
            lines += ["", paragraph.strip()]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def report_measures(
    name: str,
    title: str,
    rows: Sequence[Sequence[object]],
    notes: str | Sequence[str] = "",
    *,
    write: bool,
) -> None:
    """Print ``rows`` of (measure, value) as a markdown table; when ``write``, also save them.

    Saving is ``write_results(name, title, ["measure", "value"], rows, notes)``;
    a ``--quick`` run passes ``write=False`` and only prints.
    """
    print("| measure | value |\n| --- | --- |")
    for measure, value in rows:
        print(f"| {measure} | {value} |")
    if write:
        path = write_results(name, title, ["measure", "value"], rows, notes)
        print(f"wrote {path}")
