"""The champion's latency with shadow mode on against off, measured in the same run.

Usage: ``.venv/bin/python benchmarks/shadow_overhead.py [--quick]``. Writes
``benchmarks/results/shadow_overhead.md``.

The champion is a monitored function doing about 1 ms of work; the challenger
does the same work in driftline's shadow executor. Six variants of the
champion run in one process, interleaved in blocks whose order rotates every
round so machine noise reaches all of them:

- **off**: ``@monitor`` without a challenger;
- **thread, 10%**: ``@monitor(shadow=Shadow(..., sample_rate=0.1))``, the
  challenger on a worker thread (the default isolation) with the default CPU
  budget (``cpu_budget=0.1``: a tenth of a core on average);
- **thread, 100%, no budget**: every call shadowed, ``cpu_budget=None`` (with
  one worker the challenger, as slow as the champion, cannot always keep up:
  the rest are skipped and counted);
- **thread, 100%**: every call offered to the challenger, the default budget;
- **process, 100%, no budget** / **process, 100%**: ``isolation="process"``,
  the challenger in a child process at idle CPU priority; the budget then
  counts the worker thread's pickling and pipe time only.

Each call is timed on the caller's thread with ``time.perf_counter`` around
the decorated call; p50 and p99 are over every call of a variant. Capture is
on: the records of both roles go to a real ``CaptureQueue`` whose shipper is
not started (sending is measured by the capture benchmarks), large enough that
nothing is dropped. Tracing is off and 1% of calls are logged to
``os.devnull``.

Two kinds of work: ``time.sleep(0.001)`` (the thread waits, as for I/O or a
model server) and a numpy matrix product of about 1 ms, which runs in
OpenBLAS (one thread, ``OPENBLAS_NUM_THREADS=1`` unless set) without the GIL.
"""

from __future__ import annotations

import os

# One BLAS thread per product, set before numpy loads: the machine has 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import driftline
import numpy as np
from _common import fmt_seconds, is_quick, write_results
from driftline import _runtime
from driftline._capture import CaptureQueue, CaptureSettings
from prometheus_client import CollectorRegistry

FEATURES = {f"f{i:02d}": float(i) + 0.5 for i in range(20)}
TARGET_RATIO = 1.05


# The works are instances of module-level classes so that a challenger process can unpickle them.


@dataclass(frozen=True)
class SleepWork:
    """About 1 ms of waiting (the GIL is released)."""

    seconds: float = 0.001

    def __call__(self, features: dict[str, float]) -> float:
        time.sleep(self.seconds)
        return 0.5


@dataclass(frozen=True)
class MatmulWork:
    """The product of a square ``size`` matrix with itself, in OpenBLAS without the GIL."""

    size: int

    def __call__(self, features: dict[str, float]) -> float:
        matrix = _matrix(self.size)
        return float((matrix @ matrix)[0, 0] > 0) * 0.5


@functools.cache
def _matrix(size: int) -> Any:
    return np.random.default_rng(7).random((size, size))


def numpy_work_for(target: float = 0.001) -> MatmulWork:
    """A matrix product sized to take about ``target`` seconds on this machine."""
    size = 64
    while True:
        matrix = _matrix(size)
        runs = []
        for _ in range(31):
            start = time.perf_counter()
            matrix @ matrix
            runs.append(time.perf_counter() - start)
        if statistics.median(runs) >= target or size >= 1024:
            return MatmulWork(size)
        size += 16


def p(values: list[float], q: float) -> float:
    """The ``q`` quantile (0 to 1) of ``values``, by linear interpolation."""
    return float(np.quantile(np.asarray(values), q))


VARIANTS = (  # name, challenger version, Shadow options (None: no challenger)
    ("off", None, None),
    ("thread, 10%", "2", {"sample_rate": 0.1}),
    ("thread, 100%, no budget", "3", {"sample_rate": 1.0, "cpu_budget": None}),
    ("thread, 100%", "4", {"sample_rate": 1.0}),
    (
        "process, 100%, no budget",
        "5",
        {"sample_rate": 1.0, "isolation": "process", "cpu_budget": None},
    ),
    ("process, 100%", "6", {"sample_rate": 1.0, "isolation": "process"}),
)


def measure(
    work: Callable[[dict[str, float]], float], calls: int, rounds: int, devnull: Any
) -> tuple[dict[str, list[float]], CollectorRegistry]:
    """Per-call seconds of each variant, the variants interleaved in blocks of ``calls``."""
    registry = CollectorRegistry()
    settings = driftline.configure(
        service_name="bench",
        registry=registry,
        trace_sample_rate=0.0,
        log_sample_rate=0.01,
        log_output=devnull,
        sidecar_url="http://127.0.0.1:9",
        capture_exit_timeout=0.1,
    )
    queue = CaptureQueue(
        CaptureSettings(
            url="http://127.0.0.1:9", service_name="bench", queue_size=8 * calls * rounds + 10
        ),
        registry=registry,
    )
    previous = _runtime.install(_runtime.build(settings, capture=queue))
    if previous is not None:
        previous.close(0.0)

    def model(features: dict[str, float]) -> float:
        return work(features)

    variants: dict[str, Callable[[dict[str, float]], float]] = {}
    for name, version, options in VARIANTS:
        shadow = None
        if version is not None and options is not None:
            shadow = driftline.Shadow(work, version=version, timeout=1.0, **options)
        variants[name] = driftline.monitor(model="churn", version="1", shadow=shadow)(model)
    names = list(variants)
    timings: dict[str, list[float]] = {name: [] for name in names}
    perf_counter = time.perf_counter
    for round_ in range(rounds + 1):  # round 0 warms up and is not kept
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            fn = variants[name]
            driftline.flush(5.0)  # start every block with an idle shadow executor
            gc.collect()
            block = []
            for _ in range(calls):
                start = perf_counter()
                fn(FEATURES)
                block.append(perf_counter() - start)
            if round_:
                timings[name].extend(block)
    driftline.flush(5.0)
    return timings, registry


def shadow_counts(registry: CollectorRegistry, challenger_version: str) -> tuple[str, str]:
    """The challenger's outcomes as ``success/error/timeout`` and skips as ``queue/budget``."""
    labels = {"model": "churn", "version": "1", "challenger_version": challenger_version}

    def count(name: str, **more: str) -> str:
        value = registry.get_sample_value(name, {**labels, **more}) or 0
        return f"{value:.0f}"

    calls = "/".join(
        count("driftline_shadow_calls_total", outcome=o) for o in ("success", "error", "timeout")
    )
    skips = "/".join(
        count("driftline_shadow_skipped_total", reason=r) for r in ("queue_full", "cpu_budget")
    )
    return calls, skips


def main() -> int:
    """Run both kinds of work and write the results table."""
    quick = is_quick()
    # Short blocks, many rounds: load from other processes changes over seconds and should reach
    # every variant alike (blocks of 500 calls let one variant catch a whole burst).
    calls, rounds = (100, 3) if quick else (100, 60)
    load_before = os.getloadavg()
    rows: list[list[object]] = []
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        works: list[tuple[str, Callable[[dict[str, float]], float]]] = [
            ("time.sleep(1 ms)", SleepWork()),
            ("numpy matmul", numpy_work_for()),
        ]
        for label, work in works:
            timings, registry = measure(work, calls, rounds, devnull)
            off50, off99 = p(timings["off"], 0.5), p(timings["off"], 0.99)
            for name, version, _ in VARIANTS:
                p50, p99 = p(timings[name], 0.5), p(timings[name], 0.99)
                rows.append(
                    [
                        label,
                        name,
                        fmt_seconds(p50),
                        fmt_seconds(p99),
                        f"{p50 / off50:.3f}",
                        f"{p99 / off99:.3f}",
                        fmt_seconds(statistics.fmean(timings[name])),
                        *(shadow_counts(registry, version) if version else ("n/a", "n/a")),
                    ]
                )
                print(" | ".join(str(c) for c in rows[-1]), flush=True)
    load_after = os.getloadavg()
    driftline.shutdown(0.1)
    notes = [
        f"{rounds} rounds of {calls:,} calls per variant (one more round warms up and is not "
        "kept); the variants run interleaved in blocks, their order rotating each round, and "
        "the shadow executor is drained between blocks. p50/p99 are over every kept call; the "
        f"ratios are against *off* in the same run (target: within {TARGET_RATIO}, i.e. 5%). "
        "*shadow calls* is the challenger's success/error/timeout count, *skipped* its calls "
        "skipped because the queue was full / the CPU budget was spent (both counts include "
        "the warm-up round).",
        "The champion's thread pays one random draw, a read of the CPU budget, a free-slot pop "
        "and a `SimpleQueue.put` per shadowed call. On a worker thread, a challenger that "
        "computes competes with the "
        "champion (and every other process) for the CPU cores at the same priority; one that "
        'waits does not. With `isolation="process"` the worker thread only pickles the '
        "arguments to a child process at idle CPU priority (`SCHED_IDLE`) and waits for the "
        "result: the challenger runs on CPU time nothing else wants.",
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}. The machine is shared by other "
        "engineers' test runs, so numbers are noisy.",
    ]
    if quick:
        notes.insert(0, "Quick run: for checking the script only, do not quote.")
    write_results(
        "shadow_overhead",
        "Champion latency with shadow mode on and off",
        [
            "work",
            "shadow",
            "p50",
            "p99",
            "p50 ratio",
            "p99 ratio",
            "mean",
            "shadow calls",
            "skipped",
        ],
        rows,
        notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
