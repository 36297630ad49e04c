"""How often, and for how long, one POST of the shipper takes the GIL from a busy model thread.

A thread that never gives up the GIL by itself (a CPU-bound model) loses it
each time another thread comes back from a call that released it; it sleeps
then (a voluntary context switch) until it gets it back, as long as the other
thread holds it. Here a thread spins on CPU 0 while another thread, on CPU 1
with a real sidecar, does a cycle every 0.1 s: wake up, encode a 500-record
body built before it slept (not gzipped, as by default to a loopback sidecar),
and POST it (or not, for the baseline). Reported per cycle, for each way of
encoding and POSTing: the spinning thread's voluntary context switches
(``getrusage``'s ``ru_nvcsw``), its stalls (a turn of its loop, about 10 µs of
work, that took over 100 µs) and the time they took.

POSTs:

- none: the wake-up and the encode only;
- http.client: ``HTTPConnection.request`` on a kept-open connection, as the
  transport did before it wrote its own requests;
- transport, Python: ``driftline._transport.Transport`` without ``_exchange``;
- transport, C: with it (the default where the extension is built);
- transport, C, one call: ``Transport.post_entries``, the encoding and the
  POST in one call without the GIL;
- transport, C, one call, waits: the same call then waits out the 0.1 s
  itself, on a ``_wake.Wake``, before it takes the GIL back, as the shipper
  does on a kept-open connection to a loopback sidecar when nothing waits for
  it after the take (both extensions built); its wait ends at the next full
  batch, flush or ``capture_flush_interval``, here at the 0.1 s.

Encoders: Python (``_wire_fast`` and orjson, holding the GIL), or C
(``_body``: reads the records holding it, writes the JSON without it; the
default where the extension is built).

    .venv/bin/python benchmarks/gil_handovers.py           # 5 repetitions of 40 cycles
    .venv/bin/python benchmarks/gil_handovers.py --quick   # 2 of 20, not written
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np
from _common import is_quick, load_note, write_results
from _sidecar import SidecarProcess, free_port
from driftline import _native
from driftline._capture_settings import CaptureSettings
from driftline._transport import Transport
from driftline._wake import Wake
from driftline._wire import CALL, Body, Entry, encode
from fault_path import (
    BACKGROUND_CPU,
    CALLER_CPU,
    MODEL,
    VERSION,
    _on_cpu,
    _write_config,
    model_rows,
)
from prometheus_client import CollectorRegistry, Histogram

BATCH = 500
WAYS = (
    ("none", "Python"),
    ("none", "C"),
    ("http.client", "C"),
    ("transport, Python", "C"),
    ("transport, C", "Python"),
    ("transport, C", "C"),
    ("transport, C, one call", "C"),
    ("transport, C, one call, waits", "C"),
)
"""(POST, encoder) pairs."""
STALL = 100e-6
"""A turn of the spinning loop that takes longer than this was stopped."""


@dataclass(frozen=True)
class Spin:
    """What the spinning thread went through in one run, per cycle."""

    switches: float
    stalls: float
    stalled_s: float


def _shipper(way: str, url: str) -> tuple[Callable[[list[Entry]], bool], Callable[[], None]]:
    """A function encoding and POSTing entries the given way, and one closing what it opened.

    The function returns True when it waited out the cycle's 0.1 s itself."""
    if way == "none":
        return _never_waits(_encode), (lambda: None)
    if way == "http.client":
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=2.0)

        def post(entries: list[Entry]) -> bytes:
            payload = _encode(entries).payload
            conn.request("POST", "/v1/records", payload, {"Content-Type": "application/json"})
            return conn.getresponse().read()

        return _never_waits(post), conn.close
    saved = _native.exchange
    _native.exchange = None if way == "transport, Python" else saved
    try:  # the transport reads _native.exchange when it is built
        histogram = Histogram("send_seconds", "s", ["outcome"], registry=CollectorRegistry())
        transport = Transport(CaptureSettings(url=url, service_name="gil"), histogram)
    finally:
        _native.exchange = saved
    if not way.startswith("transport, C, one call"):
        return _never_waits(lambda entries: transport.post(_encode(entries), "/v1/records")), (
            transport.close
        )
    wake = Wake()
    linger = 0.1 if way.endswith("waits") else 0.0

    def post_entries(entries: list[Entry]) -> bool:  # as CaptureQueue._ship
        done = transport.post_entries("gil", entries, "/v1/records", wake.fileno(), linger)
        if done is None:
            transport.post(_encode(entries), "/v1/records")
        return done is not None and done[2]

    def close() -> None:
        transport.close()
        wake.close()

    return post_entries, close


def _never_waits(send: Callable[[list[Entry]], object]) -> Callable[[list[Entry]], bool]:
    """``send`` as a ship function that leaves the cycle's 0.1 s to the cycle."""

    def ship(entries: list[Entry]) -> bool:
        send(entries)
        return False

    return ship


def _encode(entries: list[Entry]) -> Body:
    return encode("gil", entries, time.time(), gzip=False)  # as to a loopback sidecar


def _spin(way: str, encoder: str, url: str, cycles: int) -> Spin:
    """Run ``cycles`` cycles of the POSTing thread; what the spinning thread went through."""
    cycle_rows = itertools.cycle(model_rows())
    ship, close = _shipper(way, url)
    done = threading.Event()
    saved = _native.body
    _native.body = saved if encoder == "C" else None  # encode reads it per body

    def cycle() -> None:
        os.sched_setaffinity(0, {BACKGROUND_CPU})
        waited = False
        try:
            for n in range(cycles):
                started = time.perf_counter()
                entries: list[Entry] = [
                    (CALL, MODEL, VERSION, "champion", n * BATCH + i, started, None, row, 0.5)
                    for i, row in enumerate(islice(cycle_rows, BATCH))
                ]
                if not waited:
                    time.sleep(0.1)  # the records are queued already when the shipper wakes
                waited = ship(entries)
        finally:
            done.set()

    thread = threading.Thread(target=cycle)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
    thread.start()
    spins = 0
    stalls: list[float] = []
    last = time.perf_counter()
    try:
        while not done.is_set():  # the busy model: pure Python, never releasing the GIL itself
            for i in range(100):
                spins += i
            now = time.perf_counter()
            if now - last > STALL:
                stalls.append(now - last)
            last = now
        switches = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - before
    finally:
        thread.join()
        close()
        _native.body = saved
    return Spin(switches / cycles, len(stalls) / cycles, sum(stalls) / cycles)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 repetitions of 20, not written")
    parser.add_argument("--output", default="gil_handovers", help="results name or .md path")
    args = parser.parse_args(argv)
    quick = is_quick()
    repetitions, cycles = (2, 20) if quick else (5, 40)
    results: dict[tuple[str, str], list[Spin]] = {way: [] for way in WAYS}
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="driftline-gil-") as tmp:
        directory = Path(tmp)
        port = free_port()
        _write_config(directory, port)
        sidecar = SidecarProcess(directory, port)
        try:
            with _on_cpu(BACKGROUND_CPU):
                sidecar.start()
            with _on_cpu(CALLER_CPU):
                for _ in range(repetitions):
                    for way in WAYS:  # interleaved, so each way sees the same machine
                        results[way].append(_spin(*way, sidecar.url, cycles))
        finally:
            sidecar.stop()
    load_end = os.getloadavg()
    baseline = float(np.median([spin.switches for spin in results["none", "Python"]]))
    rows_out = []
    for way in WAYS:
        switches = [spin.switches for spin in results[way]]
        median = float(np.median(switches))
        stalls = float(np.median([spin.stalls for spin in results[way]]))
        stalled = float(np.median([spin.stalled_s for spin in results[way]]))
        spread = f"{min(switches):.2f} to {max(switches):.2f}"
        over = f"{median - baseline:.2f}"
        rows_out.append(
            [*way, f"{median:.2f}", spread, over, f"{stalls:.2f}", f"{stalled * 1e6:.0f} µs"]
        )
        print(
            f"{way[0]:18s} {way[1]:7s} {median:.2f} switches per cycle ({spread}), "
            f"{stalls:.2f} stalls, {stalled * 1e6:.0f} µs stalled"
        )
    headers = [
        "POST",
        "encoder",
        "switches per cycle, median",
        "range",
        "over none, Python",
        "stalls per cycle",
        "stalled per cycle",
    ]
    notes = [
        f"{repetitions} repetitions of {cycles} cycles per way, the ways interleaved. A "
        f"thread spins in pure Python on CPU {CALLER_CPU}; another, on CPU {BACKGROUND_CPU} "
        f"with a `driftline sidecar`, builds {BATCH} call records, sleeps 0.1 s, encodes "
        "them (not gzipped, as by default to a loopback sidecar) and POSTs them (none: does "
        "not); `one call`: `Transport.post_entries`, both in one call without the GIL; "
        "`waits`: that call then waits out the next cycle's 0.1 s itself. "
        "Counted: the spinning thread's voluntary context switches per cycle; losing the GIL "
        "to the other thread and waiting to get it back costs it about two, so `over none, "
        "Python` / 2 is about the GIL hand-overs the encoder and the POST add. `stalls`: "
        "turns of the spinning loop (about 10 µs of work) that took over "
        f"{STALL * 1e6:.0f} µs; `stalled`: the time those turns took, in all. The medians "
        "are over the repetitions.",
        load_note(load_start, load_end),
    ]
    if not quick:
        title = "GIL hand-overs per POST"
        print(f"wrote {write_results(args.output, title, headers, rows_out, notes)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
