"""Load soak: several SDK processes shipping captured records to one real sidecar for minutes.

Four worker processes (this script with ``--worker``) each call a ``@driftline.monitor``
function (a dict of 8 numeric and 2 categorical features in, a float out) in a paced
loop, with ``driftline.configure(sidecar_url=...)``, against one ``driftline sidecar``
process. First the capacity is measured: the highest total call rate at which every
captured record reaches the sidecar (no drop in any worker, every sent record counted by
the sidecar, no backlog left in the queues), found by doubling the rate, then bisecting,
then confirmed with a step three times as long (10 % lower each time one falls behind).
Then the workers run at 80 % of it for three minutes while the sidecar's RSS is sampled
every second.

    .venv/bin/python benchmarks/load_soak.py            # capacity search, then a 3-minute soak
    .venv/bin/python benchmarks/load_soak.py --quick    # shorter steps, a 20-second soak
    .venv/bin/python benchmarks/load_soak.py --soak-seconds 600 --workers 2
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import driftline
import numpy as np
from _common import is_quick, report_measures
from _sidecar import SidecarProcess, cpu_seconds, free_port, scrape, status_mib, write_config

NUMERIC = 8
CATEGORICAL = 2
LEVELS = [f"level_{j}" for j in range(6)]
MODEL, VERSION = "soak", "1"
DEFAULTS = driftline.Settings()  # what each worker's configure() resolves to
BATCH_SIZE = DEFAULTS.capture_batch_size
BACKLOG_LIMIT = 4 * BATCH_SIZE  # records a worker may still hold after a step and keep up
SOAK_SHARE = 0.8
CONFIRM_STEPS = 3
"""The rate found by doubling and bisecting is confirmed with a step this many times as long."""
CONFIRM_TRIES = 4
"""Confirmation steps at most, each 10 % below the one that fell behind."""


# --- the worker process -------------------------------------------------------------------


def _rows(seed: int, n: int = 256) -> list[dict[str, float | str]]:
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float | str]] = []
    for _ in range(n):
        row: dict[str, float | str] = {
            f"num_{i}": float(rng.normal(i, 1.0 + i / 10)) for i in range(NUMERIC)
        }
        for i in range(CATEGORICAL):
            row[f"cat_{i}"] = LEVELS[int(rng.integers(0, len(LEVELS)))]
        rows.append(row)
    return rows


def _paced(call: Callable[[], object], rate: float, seconds: float) -> int:
    """Call ``call`` about ``rate`` times a second for ``seconds``; return the number of calls."""
    start = time.perf_counter()
    end = start + seconds
    calls = 0
    while True:
        now = time.perf_counter()
        if now >= end:
            return calls
        due = int((now - start) * rate) if math.isfinite(rate) else calls + 200
        if calls >= due:
            time.sleep(0.001)
            continue
        for _ in range(min(due - calls, 200)):
            call()
        calls += min(due - calls, 200)


def worker(url: str, seed: int) -> int:
    """Serve commands on stdin (one JSON object a line), answer each with counters on stdout."""
    import driftline
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    driftline.configure(
        service_name=f"soak-{seed}",
        sidecar_url=url,
        registry=registry,
        log_output=io.StringIO(),
        log_sample_rate=0.0,
    )
    weights = {f"num_{i}": 0.1 * (i + 1) for i in range(NUMERIC)}

    @driftline.monitor(model=MODEL, version=VERSION)
    def predict(features: dict[str, float | str]) -> float:
        z = sum(weights[k] * float(v) for k, v in features.items() if k in weights)
        return 1.0 / (1.0 + math.exp(-z / 20))

    rows = _rows(seed)
    position = [0]

    def one_call() -> None:
        position[0] = (position[0] + 1) % len(rows)
        predict(rows[position[0]])

    def counters() -> dict[str, Any]:
        def value(name: str, **labels: str) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        reasons = ("queue_full", "retries_exhausted", "rejected", "encode_error", "shutdown")
        return {
            "enqueued": value("driftline_capture_records_enqueued_total"),
            "sent": value("driftline_capture_records_sent_total"),
            "dropped": {
                reason: value("driftline_capture_records_dropped_total", reason=reason)
                for reason in reasons
            },
            "failed_posts": sum(
                value("driftline_capture_send_duration_seconds_count", outcome=outcome)
                for outcome in ("connection_error", "server_error", "client_error")
            ),
            "queue": value("driftline_capture_queue_size"),
            "rss_mib": status_mib(os.getpid()),
        }

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("stop"):
            break
        started = time.perf_counter()
        calls = _paced(one_call, float(command["rate"]), float(command["seconds"]))
        elapsed = time.perf_counter() - started
        backlog = counters()["queue"]
        flush_started = time.perf_counter()
        flushed = driftline.flush(timeout=60.0)
        flush_s = time.perf_counter() - flush_started
        answer = {"calls": calls, "elapsed": elapsed, "backlog": backlog, "flush_s": flush_s}
        print(json.dumps({**answer, "flushed": flushed, **counters()}), flush=True)
    driftline.shutdown(timeout=10.0)
    return 0


# --- the sidecar process --------------------------------------------------------------------


def _received(port: int) -> float:
    """``driftline_sidecar_records_received_total`` for the soak model, from /metrics."""
    for family in scrape(port, timeout=10):
        if family.name == "driftline_sidecar_records_received":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("model") == MODEL:
                    return float(sample.value)
    return 0.0


def _write_sidecar_config(directory: Path, port: int) -> Path:
    rows = _rows(0, 20_000)
    data: dict[str, Any] = {name: [row[name] for row in rows] for name in rows[0]}
    data["score"] = np.random.default_rng(1).uniform(0, 1, len(rows))
    categorical = [f"cat_{i}" for i in range(CATEGORICAL)]
    keys = [(MODEL, VERSION)]
    return write_config(
        directory, port, data, keys, categorical=categorical, interval=5, window_size=10_000
    )


# --- the driver -------------------------------------------------------------------------------


@dataclass
class Step:
    """One paced run of every worker at a total target rate, and what came of it."""

    target: float
    seconds: float
    calls: int = 0
    sent: float = 0.0
    dropped: float = 0.0
    received: float = 0.0
    backlog: float = 0.0
    flush_s: float = 0.0
    sidecar_cpu: float = 0.0
    failed_posts: float = 0.0
    rss: list[float] = field(default_factory=list)

    @property
    def achieved(self) -> float:
        """Calls per second over all workers."""
        return self.calls / self.seconds

    @property
    def kept_up(self) -> bool:
        """No drop, every sent record received, the target rate met, no backlog left."""
        return (
            self.dropped == 0
            and self.received == self.sent == self.calls
            and self.achieved >= 0.97 * self.target
            and self.backlog <= BACKLOG_LIMIT
        )


class Fleet:
    """The worker processes, driven over their stdin and stdout."""

    def __init__(self, url: str, workers: int) -> None:
        argv = [sys.executable, __file__, "--worker", url]
        self.procs = [
            subprocess.Popen(
                [*argv, "--seed", str(seed)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for seed in range(1, workers + 1)
        ]
        self.last: list[dict[str, Any]] = []
        for proc in self.procs:
            assert proc.stdout is not None
            json.loads(proc.stdout.readline())
        self.last = [self._zero() for _ in self.procs]

    @staticmethod
    def _zero() -> dict[str, Any]:
        return {"sent": 0.0, "dropped": {}, "calls": 0, "failed_posts": 0.0}

    def run(self, step: Step, port: int, sidecar_pid: int, sample_every: float = 1.0) -> Step:
        """Run every worker at ``step.target / workers`` calls a second; fill in the step."""
        received_before = _received(port)
        cpu_before = cpu_seconds(sidecar_pid)
        command = json.dumps({"rate": step.target / len(self.procs), "seconds": step.seconds})
        for proc in self.procs:
            assert proc.stdin is not None
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        started = time.monotonic()
        while time.monotonic() - started < step.seconds:
            step.rss.append(status_mib(sidecar_pid))
            time.sleep(min(sample_every, max(0.0, step.seconds - (time.monotonic() - started))))
        step.rss.append(status_mib(sidecar_pid))
        step.sidecar_cpu = (cpu_seconds(sidecar_pid) - cpu_before) / step.seconds
        answers = []
        for proc in self.procs:
            assert proc.stdout is not None
            answers.append(json.loads(proc.stdout.readline()))
        for before, after in zip(self.last, answers, strict=True):
            step.calls += after["calls"]
            step.sent += after["sent"] - before["sent"]
            step.failed_posts += after["failed_posts"] - before["failed_posts"]
            step.dropped += sum(after["dropped"].values()) - sum(before["dropped"].values())
            step.backlog = max(step.backlog, after["backlog"])
            step.flush_s = max(step.flush_s, after["flush_s"])
        self.last = answers
        step.received = _received(port) - received_before
        return step

    def worker_rss(self) -> list[float]:
        """Each worker's RSS in MiB, as of its last answer."""
        return [float(answer.get("rss_mib", float("nan"))) for answer in self.last]

    def stop(self) -> None:
        """Ask each worker to exit; kill (by pid) any that does not within 30 s."""
        for proc in self.procs:
            try:
                assert proc.stdin is not None
                proc.stdin.write(json.dumps({"stop": True}) + "\n")
                proc.stdin.close()
            except (BrokenPipeError, OSError):
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _describe(step: Step) -> str:
    verdict = "kept up" if step.kept_up else "fell behind"
    return (
        f"target {step.target:8,.0f}/s achieved {step.achieved:8,.0f}/s sent {step.sent:9,.0f} "
        f"received {step.received:9,.0f} dropped {step.dropped:7,.0f} "
        f"failed POSTs {step.failed_posts:3,.0f} "
        f"backlog {step.backlog:6,.0f} flush {step.flush_s:5.2f}s "
        f"sidecar CPU {step.sidecar_cpu:4.0%}: {verdict}"
    )


def find_capacity(
    fleet: Fleet, port: int, pid: int, seconds: float, bisections: int
) -> tuple[float, list[Step]]:
    """The highest total rate that kept up: doubling from 1,000/s, bisecting, then confirming."""
    steps: list[Step] = []
    good, bad = 0.0, math.inf
    rate = 1_000.0
    while True:
        step = fleet.run(Step(rate, seconds), port, pid)
        steps.append(step)
        print(_describe(step), flush=True)
        if not step.kept_up:
            bad = rate
            break
        good = rate
        rate *= 2
    for _ in range(bisections):
        if not good:
            break
        rate = round((good + bad) / 2, -2)
        step = fleet.run(Step(rate, seconds), port, pid)
        steps.append(step)
        print(_describe(step), flush=True)
        good, bad = (rate, bad) if step.kept_up else (good, rate)
    # A short step can keep up by luck: the capacity must also hold CONFIRM_STEPS times as long.
    for _ in range(CONFIRM_TRIES):
        if not good:
            break
        step = fleet.run(Step(good, seconds * CONFIRM_STEPS), port, pid)
        steps.append(step)
        print("confirm: " + _describe(step), flush=True)
        if step.kept_up:
            break
        good = round(good * 0.9, -2)
    else:
        good = 0.0
    return good, steps


def _flat(samples: Sequence[float]) -> str:
    return f"{samples[0]:.1f} / {samples[-1]:.1f} / {max(samples):.1f} MiB"


def _slope(samples: Sequence[float]) -> float:
    """Least-squares slope of the second half of 1-second samples, in MiB per minute."""
    half = list(samples[len(samples) // 2 :])
    if len(half) < 2:
        return float("nan")
    return float(np.polyfit(np.arange(len(half)), half, 1)[0]) * 60


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s capacity steps, a 20 s soak")
    parser.add_argument("--workers", type=int, default=4, help="SDK processes (default 4)")
    parser.add_argument("--soak-seconds", type=float, default=None, help="default 180 (quick 20)")
    parser.add_argument("--worker", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.seed)
    quick = is_quick()
    step_seconds = 5.0 if quick else 12.0
    bisections = 2 if quick else 3
    soak_seconds = args.soak_seconds or (20.0 if quick else 180.0)
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="driftline-soak-") as tmp:
        directory = Path(tmp)
        port = free_port()
        _write_sidecar_config(directory, port)
        sidecar = SidecarProcess(directory, port)
        sidecar.start()
        fleet: Fleet | None = None
        try:
            rss_ready = sidecar.rss_mib()
            fleet = Fleet(f"http://127.0.0.1:{port}", args.workers)
            generator = fleet.run(Step(math.inf, 3.0), port, sidecar.pid)
            print(f"generator ceiling (flat out): {generator.achieved:,.0f} calls/s", flush=True)
            capacity, steps = find_capacity(fleet, port, sidecar.pid, step_seconds, bisections)
            if not capacity:
                raise RuntimeError("the sidecar did not keep up even at 1,000 records/s")
            soak = fleet.run(Step(SOAK_SHARE * capacity, soak_seconds), port, sidecar.pid)
            print("soak: " + _describe(soak), flush=True)
            worker_rss = fleet.worker_rss()
            load_end = os.getloadavg()
        finally:
            if fleet is not None:
                fleet.stop()
            sidecar.stop()
    tried = ", ".join(f"{step.target:,.0f}{'' if step.kept_up else ' ✗'}" for step in steps)
    rows = [
        ["SDK processes", str(args.workers)],
        ["generator ceiling (all workers flat out, 3 s)", f"{generator.achieved:,.0f} calls/s"],
        ["rates tried (calls/s, ✗ = fell behind)", tried],
        ["capacity (highest rate kept up)", f"{capacity:,.0f} records/s"],
        ["soak rate (target, achieved)", f"{soak.target:,.0f}, {soak.achieved:,.0f} records/s"],
        ["soak length", f"{soak_seconds:.0f} s"],
        ["records captured by the SDKs in the soak", f"{soak.calls:,}"],
        ["records sent (SDK `..._sent_total`)", f"{soak.sent:,.0f}"],
        ["records received (sidecar `..._received_total`)", f"{soak.received:,.0f}"],
        ["records dropped (SDK `..._dropped_total`, all reasons)", f"{soak.dropped:,.0f}"],
        ["failed POSTs in the soak (timeout, refused, 5xx)", f"{soak.failed_posts:,.0f}"],
        ["largest queue backlog at the end of the soak", f"{soak.backlog:,.0f} records"],
        ["sidecar RSS when ready", f"{rss_ready:.1f} MiB"],
        ["sidecar RSS in the soak: first / last / max (1 s samples)", _flat(soak.rss)],
        ["sidecar RSS trend over the soak's second half", f"{_slope(soak.rss):+.2f} MiB/min"],
        ["sidecar CPU in the soak (share of one core)", f"{soak.sidecar_cpu:.0%}"],
        [
            "sidecar CPU at the first rate that fell behind",
            next(
                (f"{s.sidecar_cpu:.0%} at {s.target:,.0f}/s" for s in steps if not s.kept_up), "-"
            ),
        ],
        ["SDK process RSS at the end", ", ".join(f"{rss:.1f}" for rss in worker_rss) + " MiB"],
        [
            "load average (1, 5, 15 min) at start; at end",
            f"{', '.join(f'{v:.2f}' for v in load_start)}; "
            f"{', '.join(f'{v:.2f}' for v in load_end)}",
        ],
    ]
    notes = [
        f"{args.workers} worker processes, each `driftline.configure(sidecar_url=...)` with the "
        f"default capture settings (queue {DEFAULTS.capture_queue_size:,}, batches of "
        f"{BATCH_SIZE:,}, flush every {DEFAULTS.capture_flush_interval:g} s, compression "
        f"{DEFAULTS.capture_compression}: none to 127.0.0.1) and "
        f"a `@driftline.monitor` function called in a paced loop on a dict of {NUMERIC} numeric "
        f"and {CATEGORICAL} categorical features; one `driftline sidecar` process (window "
        "10,000, evaluation every 5 s against a profile of the same columns). Everything runs "
        "on the same 2 cores, so the capacity is that of the whole pipeline on this machine "
        "(SDK calls, the shippers' JSON encoding and the sidecar), not of the sidecar alone.",
        f"A step kept up when no worker dropped a record, the sidecar's received count equals "
        f"the records sent and the calls made, the workers reached 97 % of the target rate and "
        f"no worker held more than {BACKLOG_LIMIT:,} records when the step ended. Capacity "
        f"steps last {step_seconds:.0f} s: doubling from 1,000/s, then {bisections} "
        f"bisections; the rate found is then confirmed with a step of "
        f"{CONFIRM_STEPS * step_seconds:.0f} s, lowered by 10 % each time one falls behind "
        f"(at most {CONFIRM_TRIES} tries). The soak runs at {SOAK_SHARE:.0%} of the capacity.",
        "The machine is shared with other engineers' test runs; the load-average row shows how "
        "busy it was (2 cores).",
    ]
    title = "Load soak: SDK processes to one sidecar"
    report_measures("load_soak", title, rows, notes, write=not quick)
    return 0 if soak.kept_up else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
