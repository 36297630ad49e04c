"""Per-call cost of ``@driftline.monitor`` against a bare call and the same telemetry by hand.

Usage: ``.venv/bin/python benchmarks/sdk_overhead.py [--quick]``. Writes
``benchmarks/results/sdk_overhead.md``.

The model is a no-op taking a dict of 20 float features and returning a float.
Three variants, and the issue's calibration code (a counter, a histogram and a
deque append, which it measured at about 1.2 µs), run in the same process,
interleaved (the order rotates every repetition) so machine noise reaches all
of them:

- **bare**: the undecorated function;
- **by hand**: an OpenTelemetry span from a real SDK ``TracerProvider``
  (``ParentBased(TraceIdRatioBased(rate))`` sampler, a ``BatchSpanProcessor``
  exporting to a no-op exporter), a prometheus-client request ``Counter`` and
  latency ``Histogram`` with the trace id as exemplar, a deque append of the
  record (time, trace id, a copy of the features, result) and a 1%-sampled
  structlog JSON line (a bound filtering logger rendering with orjson, as
  driftline's own);
- **driftline**: the decorated function, configured alike (the same provider,
  ``log_sample_rate=0.01``, capture on).

Scenarios: tracing sampled at 100% and at 1%, tracing off, and the sidecar
unreachable (capture to a closed port: after ``capture_queue_size`` records every
call is dropped as ``queue_full``). In the first three the capture queue is a
real ``CaptureQueue`` whose shipper is not started and which is emptied in
place, like the hand-written deque, every ``CHUNK`` calls outside the timing (a
running shipper keeps the queue that short; see ``per_call_ns``), so a run
measures the caller's thread only; encoding and sending run on the shipper
thread and are measured by the capture benchmarks, not here.
Logs go to ``os.devnull``.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from random import random
from typing import Any

import driftline
import orjson
import structlog
from _common import is_quick, write_results
from driftline import _runtime
from driftline._capture import CaptureQueue, CaptureSettings
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from prometheus_client import CollectorRegistry, Counter, Histogram

FEATURES = {f"f{i:02d}": float(i) + 0.5 for i in range(20)}
TARGET_TRACING_OFF_US = 2.0
TARGET_RATIO = 1.1
# The issue measured "a counter + histogram + deque alone" at about 1.2 us on its machine;
# timing the same code here scales the 2 us target to this machine.
ISSUE_REFERENCE_US = 1.2


class NoOpExporter(SpanExporter):
    """Accepts every batch and drops it."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def model(features: dict[str, float]) -> float:
    """The model: a no-op."""
    return 0.5


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def make_provider(rate: float) -> TracerProvider:
    """A real SDK provider with the sampler driftline would install, exporting to nowhere."""
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(rate)))
    provider.add_span_processor(BatchSpanProcessor(NoOpExporter()))
    return provider


def make_reference(records: deque[Any]) -> Callable[[dict[str, float]], float]:
    """The issue's calibration point: a counter, a histogram and a deque append, nothing else."""
    registry = CollectorRegistry()
    requests = Counter("requests", "Calls.", ["model"], registry=registry).labels("churn")
    latency = Histogram("latency_seconds", "Latency.", ["model"], registry=registry).labels("churn")
    append = records.append

    def reference(features: dict[str, float]) -> float:
        result = model(features)
        requests.inc()
        latency.observe(0.001)
        append(features)
        return result

    return reference


def make_by_hand(
    provider: TracerProvider | None, devnull: Any, records: deque[Any]
) -> Callable[[dict[str, float]], float]:
    """The same telemetry written by hand with the libraries driftline uses."""
    registry = CollectorRegistry()
    requests = Counter("requests", "Calls.", ["model", "version", "outcome"], registry=registry)
    latency = Histogram("latency_seconds", "Latency.", ["model", "version"], registry=registry)
    ok_calls = requests.labels("churn", "1", "success")
    latency_child = latency.labels("churn", "1")
    # Made as cheaply as driftline makes its own: bound once, a filtering bound
    # logger, orjson rendering (see docs/sdk.md#logs).
    logger = structlog.wrap_logger(
        structlog.PrintLogger(devnull),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=lambda e, **_: orjson.dumps(e).decode()),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        context_class=dict,
        cache_logger_on_first_use=False,
        service="bench",
    ).bind()
    perf_counter, now, append = time.perf_counter, time.time, records.append

    if provider is None:

        def untraced(features: dict[str, float]) -> float:
            start = perf_counter()
            result = model(features)
            duration = perf_counter() - start
            ok_calls.inc()
            latency_child.observe(duration)
            append((now(), None, dict(features), result))
            if random() < 0.01:
                logger.info("prediction", model="churn", version="1", duration_s=duration)
            return result

        return untraced

    tracer = provider.get_tracer("bench")
    attributes = {"model.name": "churn", "model.version": "1"}

    def traced(features: dict[str, float]) -> float:
        start = perf_counter()
        with tracer.start_as_current_span("predict churn", attributes=attributes) as span:
            result = model(features)
            duration = perf_counter() - start
            context = span.get_span_context()
            trace_id = format(context.trace_id, "032x") if context.trace_flags.sampled else None
        ok_calls.inc()
        latency_child.observe(duration, {"trace_id": trace_id} if trace_id else None)
        append((now(), trace_id, dict(features), result))
        if random() < 0.01:
            logger.info(
                "prediction", model="churn", version="1", duration_s=duration, trace_id=trace_id
            )
        return result

    return traced


@dataclass(frozen=True)
class Scenario:
    """One configuration measured with all three variants."""

    name: str
    trace_rate: float | None  # None: tracing off
    sidecar_down: bool


SCENARIOS = (
    Scenario("tracing 100% sampled", 1.0, False),
    Scenario("tracing 1% sampled", 0.01, False),
    Scenario("tracing off (metrics, logs, capture)", None, False),
    Scenario("tracing off, sidecar unreachable", None, True),
)


class DriftlineSetup:
    """driftline configured for a scenario; ``fresh_queue()`` empties its capture queue."""

    def __init__(self, scenario: Scenario, provider: TracerProvider | None, devnull: Any) -> None:
        self.registry = CollectorRegistry()
        self.scenario = scenario
        self.url = closed_port_url()
        self.settings = driftline.configure(
            service_name="bench",
            registry=self.registry,
            tracer_provider=provider,
            trace_sample_rate=0.0 if provider is None else 1.0,  # the provider's sampler decides
            log_sample_rate=0.01,
            log_output=devnull,
            sidecar_url=self.url,
            capture_exit_timeout=0.1,
        )
        self.fn = driftline.monitor(model="churn", version="1")(model)
        self.queue: CaptureQueue | None = None

    def fresh_queue(self, records: int) -> None:
        """Empty the capture queue, which holds ``records`` and has no shipper thread.

        The first time, a runtime with such a queue is installed; after that the
        queue is emptied in place (its internals, as its shipper empties it), so
        the runtime, its log writer thread and the function's binding stay those
        of a process in its steady state.
        """
        if self.scenario.sidecar_down:
            return  # the real queue and shipper configure() built, failing to connect
        queue = self.queue
        if queue is not None:
            queue._queue.clear()
            queue._slots.extend(repeat(None, queue._capacity - len(queue._slots)))
            return
        queue = self.queue = CaptureQueue(
            CaptureSettings(url=self.url, service_name="bench", queue_size=records + 10),
            registry=self.registry,
        )
        previous = _runtime.install(_runtime.build(self.settings, capture=queue))
        if previous is not None:
            previous.close(0.0)


CHUNK = 2_000
"""Calls timed between two (untimed) emptyings of the record stores."""


def per_call_ns(
    fn: Callable[[dict[str, float]], float], calls: int, empty: Callable[[], None]
) -> float:
    """Nanoseconds per call of ``fn(FEATURES)`` over ``calls`` calls, ``empty()`` every CHUNK.

    A running shipper keeps the capture queue short; without one the queue
    would hold every record of the run, and the cyclic garbage collector would
    walk tens of thousands of retained feature dicts again and again, a cost of
    the benchmark, not of a call. So the records (driftline's queue, the
    hand-written deque) are emptied every CHUNK calls, outside the timing.
    """
    features = FEATURES
    total = 0
    for done in range(0, calls, CHUNK):
        empty()
        loop = range(min(CHUNK, calls - done))
        start = time.perf_counter_ns()
        for _ in loop:
            fn(features)
        total += time.perf_counter_ns() - start
    return total / calls


def measure(scenario: Scenario, calls: int, repeats: int, devnull: Any) -> dict[str, list[float]]:
    """Per-call ns of each variant in every repetition, the variants interleaved."""
    provider = make_provider(scenario.trace_rate) if scenario.trace_rate is not None else None
    records: deque[Any] = deque(maxlen=10_000 if scenario.sidecar_down else None)
    setup = DriftlineSetup(scenario, provider, devnull)
    variants: dict[str, Callable[[dict[str, float]], float]] = {
        "bare": model,
        "by hand": make_by_hand(provider, devnull, records),
        "driftline": setup.fn,
        "reference": make_reference(records),
    }
    if scenario.sidecar_down:  # fill the queue first: the steady state is dropping
        for _ in range(setup.settings.capture_queue_size + 1000):
            setup.fn(FEATURES)
    timings: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    try:
        for repeat in range(repeats + 1):  # the first repetition warms up and is not kept
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                gc.collect()

                def empty() -> None:
                    records.clear()
                    setup.fresh_queue(CHUNK)

                ns = per_call_ns(variants[name], calls, empty)
                if repeat:
                    timings[name].append(ns)
    finally:
        if provider is not None:
            provider.shutdown()
    dropped = setup.registry.get_sample_value(
        "driftline_capture_records_dropped_total", {"reason": "queue_full"}
    )
    if scenario.sidecar_down and not dropped:
        raise SystemExit("sidecar unreachable: no queue_full drops, the scenario did not hold")
    return timings


def main() -> int:
    """Run every scenario and write the results table."""
    quick = is_quick()
    # 21 repetitions: one repetition's driftline / by-hand ratio moves between about 0.7 and
    # 1.35 on this shared machine, so the median of 9 still moved by 0.1 from run to run.
    calls, repeats = (10_000, 3) if quick else (50_000, 21)
    load_before = os.getloadavg()
    rows: list[list[object]] = []
    references: list[float] = []
    off_overhead = 0.0
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        for scenario in SCENARIOS:
            timings = measure(scenario, calls, repeats, devnull)
            bare, hand, dl, ref = (
                statistics.median(timings[k]) / 1000
                for k in ("bare", "by hand", "driftline", "reference")
            )
            references.append(ref - bare)
            if scenario.trace_rate is None and not scenario.sidecar_down:
                off_overhead = dl - bare
            ratios = [d / h for d, h in zip(timings["driftline"], timings["by hand"], strict=True)]
            rows.append(
                [
                    scenario.name,
                    f"{bare:.2f}",
                    f"{ref:.2f}",
                    f"{hand:.2f}",
                    f"{dl:.2f}",
                    f"{dl - bare:.2f}",
                    f"{dl / hand:.2f}x",
                    f"{min(ratios):.2f} to {max(ratios):.2f}",
                ]
            )
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
        driftline.shutdown(1.0)  # its waiting log lines go to devnull while it is open
    load_after = os.getloadavg()
    reference = statistics.median(references)
    scaled = TARGET_TRACING_OFF_US * reference / ISSUE_REFERENCE_US
    absolute = "met" if off_overhead <= TARGET_TRACING_OFF_US else "missed"
    verdict = (
        f"Tracing off: driftline's overhead is {off_overhead:.2f} µs. Against the absolute "
        f"target of {TARGET_TRACING_OFF_US} µs: {absolute}. The issue's calibration point, a "
        f"counter + histogram + deque append alone, took ≈ {ISSUE_REFERENCE_US} µs on its "
        f"machine and {reference:.2f} µs here (column *c+h+deque*, median over the four "
        f"scenarios, minus the bare call): this machine is {reference / ISSUE_REFERENCE_US:.1f}x "
        f"slower, so the target scaled to it is {scaled:.2f} µs: "
        f"{'met' if off_overhead <= scaled else 'missed'}."
    )
    notes = [
        verdict,
        f"Median of {repeats} runs of {calls:,} calls per variant (one more run warms up and is "
        f"not kept), timed with `time.perf_counter_ns` around each loop of {CHUNK:,} calls (the "
        "records are emptied between loops, untimed, as a running shipper keeps its queue "
        "short); the three variants and "
        "the calibration code run interleaved, their order rotating each repetition. µs per "
        "call includes the loop. "
        "*overhead* is driftline minus bare; *ratio* is driftline over by hand (target ≤ "
        f"{TARGET_RATIO}x), then the lowest and highest per-repetition ratio. The target for "
        f"tracing off is an overhead of ≤ {TARGET_TRACING_OFF_US} µs.",
        "driftline does more than the hand-written code: a prediction id (a sequence number, "
        "formatted when read or shipped, or at span start as a span attribute, with "
        "driftline.outcome at span end) and one context variable set per call, the "
        "in-flight gauge and the prediction-value histogram. "
        "Both copy the feature dict for the record. The capture cost is the caller's thread "
        "only (see the script's docstring).",
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}. The machine is shared by other "
        "engineers' test runs, so numbers are noisy.",
    ]
    if quick:
        notes.insert(0, "Quick run: for checking the script only, do not quote.")
    write_results(
        "sdk_overhead",
        "SDK decorator overhead per call (µs)",
        [
            "scenario",
            "bare",
            "c+h+deque",
            "by hand",
            "driftline",
            "overhead",
            "ratio",
            "ratio range",
        ],
        rows,
        notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
