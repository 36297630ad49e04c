"""Prediction path under faults: a decorated call's latency with the sidecar healthy, hung and down.

One process calls a ``@driftline.monitor`` model (a small numpy network, calibrated to
about 300 µs a call) with capture on, shipping to a real ``driftline sidecar`` process.
Three phases: the sidecar healthy; hung (SIGSTOP: the port still accepts connections,
nothing answers, POSTs time out); down (SIGKILL: connections are refused). They run in
several short cycles whose order rotates (healthy-hung-down, hung-down-healthy,
down-healthy-hung), so a slow drift of the shared machine weighs on every phase alike.
Untimed between phases: a fresh sidecar is started where the next phase needs one, and
before a healthy phase the previous backlog is flushed.

Calls of the bare model alternate with the decorated ones. Both are timed, and around
each call ``getrusage(RUSAGE_THREAD)`` says whether the kernel took the CPU away from
the calling thread (an involuntary context switch: another process ran) or the thread
blocked (a voluntary one: with no I/O in the model, that is waiting for the GIL, which
the shipper thread held). With ``--pin`` (the default on 2+ cores) the calling thread
runs on CPU 0, the shipper thread and the sidecar process on CPU 1, so the sidecar's
work and the shipper's encoding and sending cannot take the caller's core; other
processes of the machine still can. Reported per phase: p50 and p99 of the decorated call, their
ratios to the healthy phase (target: within 5 %), the bare model's, the share of calls
preempted or blocked, and the CPU the shipper thread and the sidecar used.

    .venv/bin/python benchmarks/fault_path.py            # 6 cycles of 3 x 8 s, pinned
    .venv/bin/python benchmarks/fault_path.py --no-pin   # every thread on every core
    .venv/bin/python benchmarks/fault_path.py --quick    # 3 cycles of 3 x 3 s, not written
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt_seconds, is_quick, load_note, write_results
from _sidecar import SidecarProcess, cpu_seconds, free_port, write_config
from driftline._capture_settings import DROP_REASONS

PHASES = ("healthy", "hung", "down")
TOLERANCE = 0.05
"""The issue's target: a fault phase's p50 and p99 within 5 % of the healthy phase's."""
NUMERIC = 10
WIDTH = 64
TARGET_S = 300e-6
MODEL, VERSION = "fault", "1"
CALLER_CPU, BACKGROUND_CPU = 0, 1
TICKS = os.sysconf("SC_CLK_TCK")


def _write_config(directory: Path, port: int) -> None:
    rng = np.random.default_rng(0)
    data: dict[str, Any] = {f"x{i}": rng.normal(0, 1, 20_000) for i in range(NUMERIC)}
    data["score"] = rng.uniform(-1, 1, 20_000)
    write_config(directory, port, data, [(MODEL, VERSION)], interval=5)


def _make_model(layers: int) -> Callable[[dict[str, float]], float]:
    rng = np.random.default_rng(1)
    first = rng.normal(0, 0.3, (WIDTH, NUMERIC))
    hidden = [rng.normal(0, 1 / np.sqrt(WIDTH), (WIDTH, WIDTH)) for _ in range(layers)]
    last = rng.normal(0, 1 / np.sqrt(WIDTH), WIDTH)

    def model(features: dict[str, float]) -> float:
        h = np.tanh(first @ np.fromiter(features.values(), float, NUMERIC))
        for weights in hidden:
            h = np.tanh(weights @ h)
        return float(np.tanh(last @ h))

    return model


def _calibrate(rows: list[dict[str, float]]) -> int:
    """Hidden layers that bring the bare model's median call near TARGET_S."""
    layers = 1
    while True:
        model = _make_model(layers)
        timings = []
        for i in range(400):
            started = time.perf_counter()
            model(rows[i % len(rows)])
            timings.append(time.perf_counter() - started)
        per_layer = float(np.median(timings)) / (layers + 2)
        wanted = max(1, round(TARGET_S / per_layer) - 2)
        if wanted == layers or layers > 400:
            return layers
        layers = wanted


@dataclass
class Calls:
    """Every timed call of one kind in one phase: seconds, and the thread's context switches."""

    seconds: list[float] = field(default_factory=list)
    preempted: list[bool] = field(default_factory=list)
    """The kernel ran something else on the thread's CPU during the call (involuntary switch)."""
    blocked: list[bool] = field(default_factory=list)
    """The thread slept during the call (voluntary switch): here, waiting for the GIL."""

    def extend(self, other: Calls) -> None:
        self.seconds += other.seconds
        self.preempted += other.preempted
        self.blocked += other.blocked

    def pct(self, q: float, *, unpreempted: bool = False, quiet: bool = False) -> float:
        """The q-th percentile; of calls not preempted, or (``quiet``) neither that nor blocked."""
        values = np.asarray(self.seconds)
        if unpreempted or quiet:
            keep = ~np.asarray(self.preempted, dtype=bool)
            if quiet:
                keep &= ~np.asarray(self.blocked, dtype=bool)
            values = values[keep]
        return float(np.percentile(values, q))

    def share(self, flags: list[bool]) -> float:
        return float(np.mean(flags)) if flags else 0.0


def model_rows() -> list[dict[str, float]]:
    """The 256 feature rows every benchmark of the prediction path under faults calls with."""
    rng = np.random.default_rng(2)
    return [
        {f"x{i}": float(v) for i, v in enumerate(rng.normal(0, 1, NUMERIC))} for _ in range(256)
    ]


def add_pin_option(parser: argparse.ArgumentParser, text: str) -> None:
    """``--pin`` / ``--no-pin``, on by default where there are 2 cores or more."""
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=(os.cpu_count() or 1) >= 2,
        help=text,
    )


def latency_cells(phase: str, dec: Calls, ref: Calls, healthy: Calls) -> list[str]:
    """A phase's first cells: calls, decorated p50 and p99, over healthy, the bare model's."""
    return [
        phase,
        f"{len(dec.seconds):,}",
        fmt_seconds(dec.pct(50)),
        fmt_seconds(dec.pct(99)),
        f"{dec.pct(50) / healthy.pct(50):.3f}",
        f"{dec.pct(99) / healthy.pct(99):.3f}",
        f"{fmt_seconds(ref.pct(50))} / {fmt_seconds(ref.pct(99))}",
    ]


def drops_cell(counts: dict[str, float]) -> str:
    """The records dropped, by reason (of ``_counters``' keys), or 0."""
    drops = {k: int(counts[k]) for k in DROP_REASONS if counts[k]}
    return ", ".join(f"{k} {v:,}" for k, v in drops.items()) or "0"


def _phase(
    decorated: Callable[[dict[str, float]], float],
    bare: Callable[[dict[str, float]], float],
    rows: list[dict[str, float]],
    seconds: float,
) -> tuple[Calls, Calls]:
    """Alternate bare and decorated calls for ``seconds``; return (decorated, bare)."""
    dec, ref = Calls(), Calls()
    usage, me = resource.getrusage, resource.RUSAGE_THREAD
    clock = time.perf_counter
    end = clock() + seconds
    i = 0
    u0 = usage(me)
    while clock() < end:
        row = rows[i % len(rows)]
        started = clock()
        bare(row)
        middle = clock()
        u1 = usage(me)
        resumed = clock()
        decorated(row)
        stopped = clock()
        u2 = usage(me)
        ref.seconds.append(middle - started)
        ref.preempted.append(u1.ru_nivcsw != u0.ru_nivcsw)
        ref.blocked.append(u1.ru_nvcsw != u0.ru_nvcsw)
        dec.seconds.append(stopped - resumed)
        dec.preempted.append(u2.ru_nivcsw != u1.ru_nivcsw)
        dec.blocked.append(u2.ru_nvcsw != u1.ru_nvcsw)
        u0 = u2
        i += 1
    return dec, ref


def _cycle_medians(
    phase: list[tuple[float, float, float]], healthy: list[tuple[float, float, float]]
) -> tuple[float, float, float, float]:
    """Medians over cycles of p50 and p99 over the same cycle's healthy phase, then of the
    p50 and the p99 in units of the bare model's p50 over the same in the healthy phase."""
    pairs = list(zip(phase, healthy, strict=True))
    return (
        statistics.median(p[0] / h[0] for p, h in pairs),
        statistics.median(p[1] / h[1] for p, h in pairs),
        statistics.median((p[0] / p[2]) / (h[0] / h[2]) for p, h in pairs),
        statistics.median((p[1] / p[2]) / (h[1] / h[2]) for p, h in pairs),
    )


def _verdict(label: str, ratios: list[float]) -> str:
    """``label``: the ratios and whether all are within TOLERANCE of 1."""
    met = all(abs(r - 1.0) <= TOLERANCE for r in ratios)
    return f"{label} {' / '.join(f'{r:.3f}' for r in ratios)}: {'met' if met else 'missed'}"


def _counters(registry: Any) -> dict[str, float]:
    def value(name: str, **labels: str) -> float:
        return float(registry.get_sample_value(name, labels) or 0.0)

    counts = {"sent": value("driftline_capture_records_sent_total")}
    for reason in DROP_REASONS:  # every reason, so that no loss goes unseen
        counts[reason] = value("driftline_capture_records_dropped_total", reason=reason)
    for outcome in ("success", "connection_error", "server_error"):
        counts[f"post_{outcome}"] = value(
            "driftline_capture_send_duration_seconds_count", outcome=outcome
        )
    return counts


def _cpu_seconds(pid: int | None, tid: int | None = None) -> float:
    """``cpu_seconds``, 0.0 for no process or one gone (the sidecar killed for *down*)."""
    if pid is None:
        return 0.0
    try:
        return cpu_seconds(pid, tid)
    except OSError:
        return 0.0


@contextlib.contextmanager
def _on_cpu(cpu: int | None) -> Iterator[None]:
    """Run the calling thread on ``cpu`` meanwhile; threads and processes started inherit it."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _shipper() -> threading.Thread:
    return next(t for t in threading.enumerate() if t.name == "driftline-shipper")


class _Sidecar:
    """The sidecar's state between phases: running, hung or down, started on the pinned CPU."""

    def __init__(self, process: SidecarProcess, cpu: int | None) -> None:
        self.process, self.cpu, self.state = process, cpu, "down"

    @property
    def pid(self) -> int | None:
        return self.process.proc.pid if self.process.proc is not None else None

    def enter(self, phase: str, flush: Callable[[], object]) -> None:
        """Bring the sidecar to ``phase``, untimed: start and flush, SIGSTOP or SIGKILL."""
        if phase == "down":
            self.process.kill()
        elif self.state != "healthy":
            self.process.kill()
            with _on_cpu(self.cpu):
                self.process.start()
            flush()
        if phase == "hung":
            self.process.hang()
        self.state = phase


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 cycles of 3 x 3 s, not written")
    parser.add_argument("--cycles", type=int, default=None, help="default 6 (quick 3)")
    parser.add_argument("--phase-seconds", type=float, default=None, help="default 8 (quick 3)")
    add_pin_option(parser, "caller on CPU 0, shipper and sidecar on CPU 1 (default on 2+ cores)")
    parser.add_argument("--output", default="fault_path", help="results name or .md path")
    args = parser.parse_args(argv)
    quick = is_quick()
    cycles = args.cycles or (3 if quick else 6)
    phase_seconds = args.phase_seconds or (3.0 if quick else 8.0)
    caller_cpu = CALLER_CPU if args.pin else None
    background_cpu = BACKGROUND_CPU if args.pin else None

    import driftline
    from driftline._capture import CaptureSettings
    from prometheus_client import CollectorRegistry

    rows = model_rows()
    load_start = os.getloadavg()
    affinity = os.sched_getaffinity(0)
    timed: dict[str, Calls] = defaultdict(Calls)
    reference: dict[str, Calls] = defaultdict(Calls)
    deltas: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    per_cycle: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
    with (
        open(os.devnull, "w") as devnull,
        tempfile.TemporaryDirectory(prefix="driftline-fault-") as tmp,
    ):
        directory = Path(tmp)
        port = free_port()
        _write_config(directory, port)
        sidecar = _Sidecar(SidecarProcess(directory, port), background_cpu)
        registry = CollectorRegistry()
        try:
            with _on_cpu(background_cpu):  # the shipper thread starts here and keeps this CPU
                settings = driftline.configure(
                    service_name="fault-bench",
                    sidecar_url=f"http://127.0.0.1:{port}",
                    registry=registry,
                    log_output=devnull,
                )
            if caller_cpu is not None:
                os.sched_setaffinity(0, {caller_cpu})
            shipper_tid = _shipper().native_id
            layers = _calibrate(rows)
            bare = _make_model(layers)
            decorated = driftline.monitor(model=MODEL, version=VERSION)(bare)
            for cycle in range(cycles):
                order = PHASES[cycle % 3 :] + PHASES[: cycle % 3]
                for phase in order:
                    sidecar.enter(phase, lambda: driftline.flush(timeout=30.0))
                    if phase == "healthy":
                        _phase(decorated, bare, rows, 0.5)  # warm-up, untimed
                    before = _counters(registry)
                    cpu_before = (
                        _cpu_seconds(os.getpid(), shipper_tid),
                        _cpu_seconds(sidecar.pid),
                    )
                    dec, ref = _phase(decorated, bare, rows, phase_seconds)
                    cpu_after = (
                        _cpu_seconds(os.getpid(), shipper_tid),
                        _cpu_seconds(sidecar.pid),
                    )
                    after = _counters(registry)
                    timed[phase].extend(dec)
                    reference[phase].extend(ref)
                    per_cycle[phase].append((dec.pct(50), dec.pct(99), ref.pct(50)))
                    for key in after:
                        deltas[phase][key] += after[key] - before[key]
                    deltas[phase]["shipper_cpu"] += cpu_after[0] - cpu_before[0]
                    deltas[phase]["sidecar_cpu"] += max(0.0, cpu_after[1] - cpu_before[1])
                    print(
                        f"cycle {cycle + 1} {phase:7s}: {len(dec.seconds):6,} calls, decorated "
                        f"p50 {fmt_seconds(dec.pct(50))} p99 {fmt_seconds(dec.pct(99))}, bare "
                        f"p50 {fmt_seconds(ref.pct(50))} p99 {fmt_seconds(ref.pct(99))}, "
                        f"preempted {dec.share(dec.preempted):.1%}, "
                        f"blocked {dec.share(dec.blocked):.2%}, load {os.getloadavg()[0]:.2f}",
                        flush=True,
                    )
        finally:
            sidecar.process.stop()
            driftline.shutdown(timeout=1.0)
            os.sched_setaffinity(0, affinity)
    load_end = os.getloadavg()
    total_seconds = cycles * phase_seconds

    healthy = timed["healthy"]
    medians = {phase: _cycle_medians(per_cycle[phase], per_cycle["healthy"]) for phase in PHASES}
    faults = PHASES[1:]
    verdicts = "; ".join(
        [
            _verdict(
                "pooled p50, p99 (hung, down)",
                [timed[f].pct(q) / healthy.pct(q) for q in (50, 99) for f in faults],
            ),
            _verdict("per-cycle medians", [medians[f][i] for i in (0, 1) for f in faults]),
            _verdict("speed-corrected", [medians[f][i] for i in (2, 3) for f in faults]),
            _verdict(
                "decorated ÷ bare, over healthy's",
                [
                    (timed[f].pct(q) / reference[f].pct(q))
                    / (healthy.pct(q) / reference["healthy"].pct(q))
                    for q in (50, 99)
                    for f in faults
                ],
            ),
            _verdict(
                "and the bare model itself, pooled",
                [
                    reference[f].pct(q) / reference["healthy"].pct(q)
                    for q in (50, 99)
                    for f in faults
                ],
            ),
        ]
    )
    rows_out = []
    for phase in PHASES:
        dec, ref, d = timed[phase], reference[phase], deltas[phase]
        rows_out.append(
            [
                *latency_cells(phase, dec, ref, healthy),
                f"{dec.pct(50) / ref.pct(50):.3f} / {dec.pct(99) / ref.pct(99):.3f}",
                f"{dec.share(dec.preempted):.1%} / {ref.share(ref.preempted):.1%}",
                f"{dec.pct(50, unpreempted=True) / healthy.pct(50, unpreempted=True):.3f} / "
                f"{dec.pct(99, unpreempted=True) / healthy.pct(99, unpreempted=True):.3f}",
                " / ".join(f"{r:.3f}" for r in medians[phase]),
                f"{dec.share(dec.blocked):.2%} / {ref.share(ref.blocked):.2%}",
                f"{1000 * d['shipper_cpu'] / total_seconds:.0f} / "
                f"{1000 * d['sidecar_cpu'] / total_seconds:.0f}",
                f"{int(d['sent']):,}",
                drops_cell(d),
                f"{int(d['post_success'])} ok, {int(d['post_connection_error'])} failed",
            ]
        )
    headers = [
        "sidecar",
        "decorated calls",
        "p50",
        "p99",
        "p50 / healthy",
        "p99 / healthy",
        "bare model p50 / p99",
        "decorated / bare p50, p99",
        "preempted (decorated / bare)",
        "unpreempted p50, p99 / healthy",
        "per cycle, median: p50, p99 / healthy; speed-corrected p50, p99",
        "blocked (decorated / bare)",
        "CPU ms/s shipper / sidecar",
        "records sent",
        "records dropped",
        "POSTs",
    ]
    spread = "; ".join(
        f"{phase} "
        + ", ".join(
            f"{p50 / h50:.2f}/{p99 / h99:.2f}"
            for (p50, p99, _), (h50, h99, _) in zip(
                per_cycle[phase], per_cycle["healthy"], strict=True
            )
        )
        for phase in PHASES[1:]
    )
    setup = (
        f"Pinned: the calling thread on CPU {CALLER_CPU}; the driftline-shipper thread and the "
        f"sidecar process on CPU {BACKGROUND_CPU} (sched_setaffinity), so neither the "
        "sidecar's decoding and evaluation nor the shipper's encoding and sending runs on the "
        "caller's core; other processes of the machine are not pinned and run anywhere."
        if args.pin
        else "Not pinned: every thread and process may run on either core."
    )
    compressed = CaptureSettings(
        url=f"http://127.0.0.1:{port}", service_name="x", compression=settings.capture_compression
    ).gzip
    notes = [
        f"One process: a `@driftline.monitor` model of {NUMERIC} float features through "
        f"{layers} hidden tanh layers of {WIDTH} units (numpy), capture on with the default "
        f"settings (queue {settings.capture_queue_size:,}, batches of "
        f"{settings.capture_batch_size:,}, compression {settings.capture_compression}: "
        f"{'gzip' if compressed else 'none'} to 127.0.0.1, timeout "
        f"{settings.capture_timeout:g} s, {settings.capture_max_retries} retries), metrics on, "
        f"tracing off (no provider), {settings.log_sample_rate:.0%} of calls logged to "
        "/dev/null. "
        f"{cycles} cycles of 3 x {phase_seconds:g} s, the phase order rotating "
        "(healthy-hung-down, hung-down-healthy, down-healthy-hung); untimed between phases: a "
        "new sidecar is started where the phase needs one (after hung or down) and the "
        "backlog flushed to it, and 0.5 s of calls warm up a healthy phase. Each decorated "
        "call alternates with a call of the bare model on the same row; p50/p99 are over "
        "every call of the phase. " + setup,
        "healthy: a `driftline sidecar` process answering. hung: the same process after "
        "SIGSTOP (the kernel still accepts connections, nothing answers; POSTs time out after "
        "2 s, then the queue fills and new records are dropped as queue_full). down: after "
        "SIGKILL (connections refused, retried with backoff). Target: decorated p50 and p99 "
        f"within {TOLERANCE:.0%} of the healthy phase. Against it, hung / down (p50 ratios, "
        f"then p99): {verdicts}. The last reading is of the bare model, which driftline does "
        "not wrap: where it misses, the machine's speed moved between phases more than the "
        "target allows, and the readings that divide by the bare model's calls (made "
        "alternately with the decorated ones) are the ones that measure driftline.",
        "How to read the other columns: `decorated / bare` divides the decorated call's "
        "percentile by the bare model's in the same phase, which cancels most of the "
        "machine's drift between phases (both kinds of call are slowed alike). "
        "`preempted` is the share of calls during which the "
        "kernel gave the calling thread's CPU to something else (an involuntary context "
        "switch, from getrusage(RUSAGE_THREAD) around each call): the machine's doing, not "
        "driftline's. `unpreempted` repeats the two ratios over the calls that were not "
        "preempted. `per cycle, median` takes each cycle's phase over the same cycle's healthy "
        "phase (phases of one cycle are seconds apart, so the machine moved less between "
        "them) and gives the median over cycles of p50 and of p99, then of the "
        "speed-corrected p50 and p99: the decorated p50 and p99 divided by the bare model's "
        "p50 of the same phase (the machine's speed at that moment; the bare model's p50 is "
        "not moved by the rare calls that wait for the GIL, so what driftline does to the "
        "tail stays in). "
        "`blocked` is the share of calls during which the thread slept (a "
        "voluntary switch); the model does no I/O, so that is waiting for the GIL held by "
        "the shipper thread: driftline's doing, and it hits the bare model's calls as much "
        "as the decorated ones, since both run in the same process. `CPU ms/s` is the "
        "shipper thread's and the sidecar process's CPU time per second of the phase "
        f"(/proc, {1000 // TICKS} ms ticks). Per cycle, decorated p50/p99 over the same "
        f"cycle's healthy phase: {spread}.",
        load_note(load_start, load_end),
    ]
    print("| " + " | ".join(headers) + " |")
    for row in rows_out:
        print("| " + " | ".join(row) + " |")
    print(notes[-2].rsplit("Per cycle", 1)[1])
    print(verdicts)
    if not quick:
        title = "Prediction path under sidecar faults"
        path = write_results(args.output, title, headers, rows_out, notes)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
