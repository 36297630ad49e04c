"""How often one POST of the shipper takes the GIL from a busy model thread.

A thread that never gives up the GIL by itself (a CPU-bound model) loses it
each time another thread comes back from a call that released it; it sleeps
then (a voluntary context switch) until it gets it back. Here a thread spins
on CPU 0 while another thread, on CPU 1 with a real sidecar, does a cycle
every 0.1 s: wake up, encode a 500-record body, and POST it (or not, for the
baseline). Reported: the spinning thread's voluntary context switches
(``getrusage``'s ``ru_nvcsw``) per cycle, for each way of POSTing:

- none: the wake-up and the encode only;
- http.client: ``HTTPConnection.request`` on a kept-open connection, as the
  transport did before it wrote its own requests;
- transport, Python: ``driftline._transport.Transport`` without ``_exchange``;
- transport, C: with it (the default where the extension is built).

    .venv/bin/python benchmarks/gil_handovers.py           # 5 repetitions of 40 cycles
    .venv/bin/python benchmarks/gil_handovers.py --quick   # 2 of 20, not written
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from _common import is_quick, load_note, write_results
from _sidecar import SidecarProcess, free_port
from driftline import _native
from driftline._capture_settings import CaptureSettings
from driftline._transport import Transport
from driftline._wire import CALL, Body, encode
from fault_path import BACKGROUND_CPU, CALLER_CPU, MODEL, VERSION, _write_config, model_rows
from prometheus_client import CollectorRegistry, Histogram

BATCH = 500
WAYS = ("none", "http.client", "transport, Python", "transport, C")


def _poster(way: str, url: str) -> tuple[Callable[[Body], object], Callable[[], None]]:
    """A function POSTing a body the given way, and one closing what it opened."""
    if way == "none":
        return (lambda body: None), (lambda: None)
    if way == "http.client":
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=2.0)

        def post(body: Body) -> object:
            conn.request("POST", "/v1/records", body.payload, {"Content-Type": "application/json"})
            return conn.getresponse().read()

        return post, conn.close
    saved = _native.exchange
    _native.exchange = saved if way == "transport, C" else None
    try:  # the transport reads _native.exchange when it is built
        histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
        transport = Transport(CaptureSettings(url=url, service_name="gil"), histogram)
    finally:
        _native.exchange = saved
    return (lambda body: transport.post(body, "/v1/records")), transport.close


def _switches_per_cycle(way: str, url: str, cycles: int) -> float:
    """Run ``cycles`` cycles of the POSTing thread; the spinning thread's switches per cycle."""
    rows = model_rows()
    post, close = _poster(way, url)
    done = threading.Event()

    def cycle() -> None:
        os.sched_setaffinity(0, {BACKGROUND_CPU})
        try:
            for n in range(cycles):
                time.sleep(0.1)
                started = time.perf_counter()
                entries = [
                    (
                        CALL,
                        MODEL,
                        VERSION,
                        "champion",
                        n * BATCH + i,
                        started,
                        None,
                        rows[i % 256],
                        0.5,
                    )
                    for i in range(BATCH)
                ]
                post(encode("gil", entries, time.time(), gzip=False))
        finally:
            done.set()

    thread = threading.Thread(target=cycle)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
    thread.start()
    spins = 0
    while not done.is_set():  # the busy model: pure Python, never releasing the GIL itself
        for i in range(1000):
            spins += i
    switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
    thread.join()
    close()
    return switches / cycles


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions of 20, not written")
    parser.add_argument("--output", default="gil_handovers", help="results name or .md path")
    args = parser.parse_args(argv)
    quick = is_quick()
    repetitions, cycles = (2, 20) if quick else (5, 40)
    results: dict[str, list[float]] = {way: [] for way in WAYS}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="driftline-gil-") as tmp:
        directory = Path(tmp)
        port = free_port()
        _write_config(directory, port)
        sidecar = SidecarProcess(directory, port)
        before = os.sched_getaffinity(0)
        try:
            os.sched_setaffinity(0, {BACKGROUND_CPU})
            sidecar.start()
            os.sched_setaffinity(0, {CALLER_CPU})
            for _ in range(repetitions):
                for way in WAYS:  # interleaved, so each way sees the same machine
                    results[way].append(_switches_per_cycle(way, sidecar.url, cycles))
        finally:
            os.sched_setaffinity(0, before)
            sidecar.stop()
    load_end = os.getloadavg()
    baseline = float(np.median(results["none"]))
    rows_out = []
    for way in WAYS:
        median = float(np.median(results[way]))
        spread = f"{min(results[way]):.2f} to {max(results[way]):.2f}"
        rows_out.append([way, f"{median:.2f}", spread, f"{median - baseline:.2f}"])
        print(f"{way:18s} {median:.2f} per cycle ({spread}), POST's share {median - baseline:.2f}")
    headers = ["POST", "switches per cycle, median", "range", "over none"]
    notes = [
        f"{repetitions} repetitions of {cycles} cycles per way, the ways interleaved. A "
        f"thread spins in pure Python on CPU {CALLER_CPU}; another, on CPU {BACKGROUND_CPU} "
        f"with a `driftline sidecar`, sleeps 0.1 s, encodes {BATCH} call records and POSTs "
        "them (none: does not). Counted: the spinning thread's voluntary context switches "
        "per cycle. Losing the GIL to the other thread and waiting to get it back costs it "
        "about two, so `over none` / 2 is about the GIL hand-overs a POST adds.",
        load_note(load_start, load_end),
    ]
    if not quick:
        title = "GIL hand-overs per POST"
        print(f"wrote {write_results(args.output, title, headers, rows_out, notes)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
