"""What shipping and ingest on the other core cost a model that driftline does not touch.

``fault_path.py`` finds the healthy phase slower at p99 for the bare model as
much as for the decorated one. Part of that is the shipper thread's hold on the
GIL; this measures the rest: the model (fault_path's numpy network, undecorated,
in a process with no driftline) calls on CPU 0 while, on CPU 1, another process
encodes 500-record bodies and POSTs them to a sidecar that ingests and
evaluates them, as a healthy phase does. Shipping is switched on and off every
``--slice-seconds`` (2 s), so both states see the same machine within seconds;
the sidecar runs throughout, as in fault_interleaved.

    .venv/bin/python benchmarks/neighbour_load.py           # 40 slices of 2 s
    .venv/bin/python benchmarks/neighbour_load.py --quick   # 10 slices, not written
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from pathlib import Path

import numpy as np
from _common import fmt_seconds, is_quick, load_note, write_results
from _sidecar import SidecarProcess, free_port
from fault_path import (
    BACKGROUND_CPU,
    CALLER_CPU,
    MODEL,
    VERSION,
    _calibrate,
    _make_model,
    _on_cpu,
    _write_config,
    model_rows,
)

BATCH = 500


def _ship(url: str, rate: float, on: Event, stop: Event) -> None:
    """Encode and POST a body of BATCH call records ``rate`` times a second while ``on``."""
    from driftline._capture_settings import CaptureSettings
    from driftline._transport import Transport
    from driftline._wire import CALL, encode
    from prometheus_client import CollectorRegistry, Histogram

    rows = model_rows()
    histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
    transport = Transport(CaptureSettings(url=url, service_name="neighbour"), histogram)
    number = 0
    while not stop.is_set():
        if not on.wait(0.1):
            continue
        started = time.perf_counter()
        entries = [
            (CALL, MODEL, VERSION, "champion", number + i, started, None, rows[i % 256], 0.5)
            for i in range(BATCH)
        ]
        number += BATCH
        transport.post(encode("neighbour", entries, time.time(), gzip=False), "/v1/records")
        time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    transport.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 slices, not written")
    parser.add_argument("--slices", type=int, default=None, help="default 40 (quick 10)")
    parser.add_argument("--slice-seconds", type=float, default=2.0, help="default 2")
    parser.add_argument("--rate", type=float, default=3.0, help="bodies a second, default 3")
    parser.add_argument("--output", default="neighbour_load", help="results name or .md path")
    args = parser.parse_args(argv)
    quick = is_quick()
    slices = args.slices or (10 if quick else 40)
    rows = model_rows()
    with _on_cpu(CALLER_CPU):
        layers = _calibrate(rows)
    model = _make_model(layers)
    timings: dict[bool, list[float]] = {True: [], False: []}
    load_start = os.getloadavg()
    context = multiprocessing.get_context("spawn")
    on, stop = context.Event(), context.Event()
    with tempfile.TemporaryDirectory(prefix="driftline-neighbour-") as tmp:
        directory = Path(tmp)
        port = free_port()
        _write_config(directory, port)
        sidecar = SidecarProcess(directory, port)
        shipper = context.Process(target=_ship, args=(sidecar.url, args.rate, on, stop))
        try:
            with _on_cpu(BACKGROUND_CPU):  # the sidecar and the shipping process keep CPU 1
                sidecar.start()
                shipper.start()
            with _on_cpu(CALLER_CPU):
                for k in range(slices):
                    shipping = k % 2 == 0
                    (on.set if shipping else on.clear)()
                    time.sleep(0.1)  # a body in flight finishes in the slice it began in
                    out = timings[shipping]
                    end = time.perf_counter() + args.slice_seconds
                    i = 0
                    while time.perf_counter() < end:
                        started = time.perf_counter()
                        model(rows[i % len(rows)])
                        out.append(time.perf_counter() - started)
                        i += 1
        finally:
            stop.set()
            on.set()
            if shipper.pid is not None:
                shipper.join(timeout=30.0)
                if shipper.is_alive():
                    shipper.kill()
                    shipper.join()
            sidecar.stop()
    load_end = os.getloadavg()
    idle = np.asarray(timings[False])
    rows_out = []
    for shipping in (False, True):
        values = np.asarray(timings[shipping])
        rows_out.append(
            [
                "shipping" if shipping else "idle",
                f"{len(values):,}",
                fmt_seconds(float(np.percentile(values, 50))),
                fmt_seconds(float(np.percentile(values, 99))),
                f"{np.percentile(values, 50) / np.percentile(idle, 50):.3f}",
                f"{np.percentile(values, 99) / np.percentile(idle, 99):.3f}",
            ]
        )
    headers = ["CPU 1", "model calls", "p50", "p99", "p50 / idle", "p99 / idle"]
    for row in rows_out:
        print("| " + " | ".join(row) + " |")
    notes = [
        f"The undecorated fault_path model ({layers} hidden tanh layers of 64 units) calls on "
        f"CPU {CALLER_CPU} in a process without driftline. On CPU {BACKGROUND_CPU}, a "
        "`driftline sidecar` (evaluating every 5 s, as in fault_path) and a process that "
        f"encodes a body of {BATCH} call records and POSTs it, {args.rate:g} times a second, "
        f"while shipping is on: {slices} slices of {args.slice_seconds:g} s, on and off in "
        "turn. What this shows is the machine's share of a healthy phase's cost: no GIL is "
        "shared between the model and the shipping.",
        load_note(load_start, load_end),
    ]
    if not quick:
        title = "A model next to shipping and ingest on the other core"
        print(f"wrote {write_results(args.output, title, headers, rows_out, notes)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
