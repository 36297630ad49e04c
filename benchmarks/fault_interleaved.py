"""Prediction path under faults, interleaved: healthy, hung and down at the same time.

``fault_path.py`` runs the three phases one after another in one process, and on
this shared machine the speed of the machine moves between phases by as much as
the 5 % the target allows (the bare model, which driftline does not wrap, moves
with it). Here three worker processes run at once, each with the same
``@driftline.monitor`` model (fault_path's numpy network, about 300 µs a call) and
capture on, each against one sidecar state at a time:

- healthy: a ``driftline sidecar`` process answering;
- hung: a second sidecar process, SIGSTOPped once the workers started, before any
  connects (the port accepts connections, nothing answers, POSTs time out, then the
  queue fills);
- down: a port nothing listens on (connections refused, retried with backoff).

The workers take turns: the coordinator tells one worker to call for a slice of
``--slice-seconds`` (0.5 s), waits for its timings, then the next, the order
rotating each round, so all three states see the same machine within a second of
each other. A worker that is not calling waits on a pipe while its shipper and
log threads carry on (the healthy one sending its last records, the hung one
waiting on its POST, the down one retrying). The states move on from worker to
worker ``--segments`` times (6: every 16 rounds), each worker shutting
driftline down and configuring it anew for its next state, so each process
serves each state for as long: a process whose model runs faster or slower as a
whole (its memory layout, say) then weighs on every state alike. As in fault_path, each decorated
call alternates with a call of the bare model on the same row, and with
``--pin`` (the default on 2+ cores) the calling threads run on CPU 0, the
shipper threads and the sidecars on CPU 1.

    .venv/bin/python benchmarks/fault_interleaved.py           # 96 rounds of 3 x 0.5 s
    .venv/bin/python benchmarks/fault_interleaved.py --quick   # 24 rounds, 3 segments, not written
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import fmt_seconds, is_quick, load_note, write_results
from _sidecar import SidecarProcess, free_port
from fault_path import (
    BACKGROUND_CPU,
    CALLER_CPU,
    MODEL,
    NUMERIC,
    PHASES,
    TOLERANCE,
    VERSION,
    Calls,
    _calibrate,
    _counters,
    _make_model,
    _on_cpu,
    _phase,
    _verdict,
    _write_config,
    add_pin_option,
    drops_cell,
    latency_cells,
    model_rows,
)


def _worker(layers: int, pin: bool, conn: Connection) -> None:
    """A worker process: serve the sidecar state it is told, call when told, send back timings.

    Messages: a URL (shut driftline down, answer its counters since the last URL, or None,
    and configure it anew for that sidecar, its threads started on the background CPU); a
    number of seconds (call for that long, answer the timings); None (shut down, answer the
    counters, end).
    """
    import driftline
    from prometheus_client import CollectorRegistry

    rows = model_rows()
    registry: CollectorRegistry | None = None

    def counters() -> dict[str, float] | None:
        driftline.shutdown(timeout=0.5)  # a hung state's records in flight count as shutdown
        return None if registry is None else _counters(registry)

    with open(os.devnull, "w") as devnull:
        bare = _make_model(layers)
        decorated = driftline.monitor(model=MODEL, version=VERSION)(bare)
        while True:
            message = conn.recv()
            if message is None:
                break
            if isinstance(message, str):
                counts = counters()
                registry = CollectorRegistry()
                with _on_cpu(BACKGROUND_CPU if pin else None):  # the threads keep CPU 1
                    driftline.configure(
                        service_name="fault-bench",
                        sidecar_url=message,
                        registry=registry,
                        log_output=devnull,
                    )
                if pin:
                    os.sched_setaffinity(0, {CALLER_CPU})
                conn.send(counts)
                continue
            conn.send(_phase(decorated, bare, rows, message))
        conn.send(counters())


WORKERS = ("a", "b", "c")


def _add_counts(
    counters: dict[str, dict[str, float]], phase: str | None, counts: dict[str, float] | None
) -> None:
    """Add a worker's counters for the segment it just ended to its state's."""
    if phase is None or counts is None:
        return
    total = counters.setdefault(phase, {})
    for key, value in counts.items():
        total[key] = total.get(key, 0.0) + value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="24 rounds, not written")
    parser.add_argument("--rounds", type=int, default=None, help="default 96 (quick 24)")
    parser.add_argument("--slice-seconds", type=float, default=0.5, help="default 0.5")
    parser.add_argument(
        "--segments", type=int, default=None, help="state rotations, default 6 (quick 3)"
    )
    add_pin_option(parser, "callers on CPU 0, shippers and sidecars on CPU 1 (default on 2+ cores)")
    parser.add_argument("--output", default="fault_interleaved", help="results name or .md path")
    args = parser.parse_args(argv)
    quick = is_quick()
    rounds = args.rounds or (24 if quick else 96)
    segments = args.segments or (3 if quick else 6)
    if segments < 3 or segments % 3 or rounds % segments:
        parser.error("--segments: a positive multiple of 3 that divides --rounds")
    per_segment = rounds // segments
    background = BACKGROUND_CPU if args.pin else None

    rows = model_rows()
    with _on_cpu(CALLER_CPU if args.pin else None):
        layers = _calibrate(rows)
    load_start = os.getloadavg()
    timed = {phase: Calls() for phase in PHASES}
    reference = {phase: Calls() for phase in PHASES}
    counters: dict[str, dict[str, float]] = {}
    context = multiprocessing.get_context("spawn")  # a clean interpreter: no inherited runtime
    with tempfile.TemporaryDirectory(prefix="driftline-interleaved-") as tmp:
        sidecars: dict[str, SidecarProcess] = {}
        urls: dict[str, str] = {"down": f"http://127.0.0.1:{free_port()}"}
        workers: dict[str, tuple[Any, Connection]] = {}  # by worker name
        try:
            for phase in ("healthy", "hung"):
                directory = Path(tmp) / phase
                directory.mkdir()
                port = free_port()
                _write_config(directory, port)
                sidecars[phase] = SidecarProcess(directory, port)
                with _on_cpu(background):
                    sidecars[phase].start()
                urls[phase] = f"http://127.0.0.1:{port}"
            for name in WORKERS:
                parent, child = context.Pipe()
                process = context.Process(
                    target=_worker, args=(layers, args.pin, child), daemon=True
                )
                process.start()
                workers[name] = (process, parent)
            sidecars["hung"].hang()
            serving: dict[str, str] = {}  # worker: the state it serves
            for turn in range(rounds):
                if turn % per_segment == 0:
                    # Each worker to the next state, so each process serves each state alike.
                    segment = turn // per_segment
                    for w, name in enumerate(WORKERS):
                        conn = workers[name][1]
                        conn.send(urls[PHASES[(w + segment) % 3]])
                        _add_counts(counters, serving.get(name), conn.recv())
                        serving[name] = PHASES[(w + segment) % 3]
                    for name in WORKERS:  # warm-up, untimed; a hung state's POST starts waiting
                        workers[name][1].send(0.5)
                        workers[name][1].recv()
                by_state = {phase: name for name, phase in serving.items()}
                order = PHASES[turn % 3 :] + PHASES[: turn % 3]
                for phase in order:
                    conn = workers[by_state[phase]][1]
                    conn.send(args.slice_seconds)
                    dec, ref = conn.recv()
                    timed[phase].extend(dec)
                    reference[phase].extend(ref)
                if (turn + 1) % 12 == 0:
                    print(
                        f"round {turn + 1}: "
                        + ", ".join(
                            f"{p} p50 {fmt_seconds(timed[p].pct(50))} "
                            f"p99 {fmt_seconds(timed[p].pct(99))}"
                            for p in PHASES
                        ),
                        flush=True,
                    )
            for name in WORKERS:
                workers[name][1].send(None)
                _add_counts(counters, serving.get(name), workers[name][1].recv())
        finally:
            for process, conn in workers.values():
                process.join(timeout=10.0)
                if process.is_alive():
                    process.kill()
                    process.join()
                conn.close()
            for sidecar in sidecars.values():
                sidecar.stop()
    load_end = os.getloadavg()

    healthy, healthy_ref = timed["healthy"], reference["healthy"]
    faults = PHASES[1:]
    verdicts = "; ".join(
        [
            _verdict(
                "p50, p99 (hung, down)",
                [timed[f].pct(q) / healthy.pct(q) for q in (50, 99) for f in faults],
            ),
            _verdict(
                "largest over smallest of the three, p50, p99",
                [
                    max(timed[p].pct(q) for p in PHASES) / min(timed[p].pct(q) for p in PHASES)
                    for q in (50, 99)
                ],
            ),
            _verdict(
                "decorated ÷ bare, over healthy's",
                [
                    (timed[f].pct(q) / reference[f].pct(q)) / (healthy.pct(q) / healthy_ref.pct(q))
                    for q in (50, 99)
                    for f in faults
                ],
            ),
            _verdict(
                "the bare model itself",
                [reference[f].pct(q) / healthy_ref.pct(q) for q in (50, 99) for f in faults],
            ),
        ]
    )
    rows_out = []
    for phase in PHASES:
        dec, ref, count = timed[phase], reference[phase], counters[phase]
        rows_out.append(
            [
                *latency_cells(phase, dec, ref, healthy),
                f"{ref.pct(50) / healthy_ref.pct(50):.3f} / "
                f"{ref.pct(99) / healthy_ref.pct(99):.3f}",
                f"{dec.share(dec.preempted):.1%} / {ref.share(ref.preempted):.1%}",
                f"{dec.share(dec.blocked):.2%} / {ref.share(ref.blocked):.2%}",
                f"{dec.pct(99, quiet=True) / healthy.pct(99, quiet=True):.3f} / "
                f"{ref.pct(99, quiet=True) / healthy_ref.pct(99, quiet=True):.3f}",
                f"{int(count['sent']):,}",
                drops_cell(count),
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
        "bare model p50, p99 / healthy",
        "preempted (decorated / bare)",
        "blocked (decorated / bare)",
        "p99 / healthy, quiet calls (decorated / bare)",
        "records sent",
        "records dropped",
    ]
    pinned = (
        f"Pinned: the calling threads on CPU {CALLER_CPU}, the shipper threads and both "
        f"sidecar processes on CPU {BACKGROUND_CPU}."
        if args.pin
        else "Not pinned."
    )
    notes = [
        f"Three worker processes at once, one per sidecar state, the states moving on from "
        f"worker to worker {segments} times (each process serves each state {segments // 3} "
        "times; at each move driftline is shut down and configured anew, then every worker "
        f"calls for 0.5 s untimed; a state lasts {per_segment * 3 * args.slice_seconds:g} "
        "s per worker, so the hung one is mostly a POST waiting out its timeout while the "
        "queue fills, and what is queued at each move is counted as shutdown), each with "
        f"fault_path's model ({NUMERIC} float features through {layers} hidden tanh layers of "
        "64 units), capture on with the default settings, metrics on, tracing off, 1 % of "
        "calls logged to /dev/null. healthy: a `driftline sidecar` answering; hung: a second "
        "sidecar, SIGSTOPped once the workers started, before any connects; down: a port "
        "nothing listens on. "
        f"The workers take turns calling, {rounds} rounds of 3 x {args.slice_seconds:g} s, "
        "the order rotating each round, so the three states are timed on the same machine "
        "within about a second of each other; a worker not calling waits on a pipe while its "
        "shipper and log threads carry on. Each decorated call alternates with a call of the "
        f"bare model on the same row; p50/p99 are over every call of the state. {pinned}",
        "`preempted`: the share of calls during which the kernel ran something else on the "
        "caller's CPU (an involuntary context switch); `blocked`: during which the calling "
        "thread slept (a voluntary one: the model does no I/O, so that is waiting for the GIL, "
        "held by another thread of the process). `p99 / healthy, quiet calls`: the p99 of the "
        "calls that were neither, over the healthy state's; the bare model's show how much of "
        "a difference the machine makes when no thread of driftline's holds the call up.",
        f"Target: decorated p50 and p99 within {TOLERANCE:.0%} of the healthy state's. Against "
        f"it (hung, down; p50 ratios, then p99): {verdicts}. `decorated ÷ bare` takes out what "
        "moves a worker process's model as a whole (its memory layout, say), since each worker "
        "times its own bare model alongside; the rotation of the states spreads it over the "
        "three states. `fault_path.py` measures the same "
        "states one after another in one process, which includes the transitions but also "
        "the machine's drift between phases.",
        load_note(load_start, load_end),
    ]
    print("| " + " | ".join(headers) + " |")
    for row in rows_out:
        print("| " + " | ".join(row) + " |")
    print(verdicts)
    if not quick:
        title = "Prediction path under sidecar faults, interleaved"
        path = write_results(args.output, title, headers, rows_out, notes)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
