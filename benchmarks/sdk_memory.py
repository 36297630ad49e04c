"""Memory of a process making 10 million decorated calls while the sidecar is unreachable.

Usage: ``.venv/bin/python benchmarks/sdk_memory.py [--quick]`` (``--quick``: 1 million
calls). Writes ``benchmarks/results/sdk_memory.md``.

driftline is configured with capture to a closed port on 127.0.0.1 (default
queue of 10,000 records, so after the first 10,000 calls every record is
dropped as ``queue_full`` while the shipper retries and gives up), metrics on,
1% of calls logged to ``os.devnull``, tracing off. The resident set size is read
from ``/proc/self/statm`` after every million calls; the capture queue is bounded,
so it should not grow.
"""

from __future__ import annotations

import os
import socket
import sys
import time

import driftline
from _common import is_quick, write_results
from prometheus_client import CollectorRegistry

STEP = 1_000_000
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    """This process's resident set size in MiB, from /proc/self/statm."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def main() -> int:
    """Make the calls, sample memory every million and write the table."""
    total = STEP if is_quick() else 10 * STEP
    sample_every = STEP // 10 if is_quick() else STEP
    registry = CollectorRegistry()
    load_before = os.getloadavg()
    with open(os.devnull, "w", encoding="utf-8") as devnull:
        driftline.configure(
            service_name="bench",
            registry=registry,
            sidecar_url=closed_port_url(),
            trace_sample_rate=0.0,
            log_sample_rate=0.01,
            log_output=devnull,
        )

        @driftline.monitor(model="churn", version="1")
        def predict(features: dict[str, float]) -> float:
            return 0.5

        features = {f"f{i:02d}": float(i) + 0.5 for i in range(20)}
        rows: list[list[object]] = [["0", f"{rss_mib():.1f}", "0", "0", "0"]]
        started = time.perf_counter()
        done = 0
        while done < total:
            for _ in range(sample_every):
                predict(features)
            done += sample_every

            def value(name: str, **labels: str) -> int:
                return int(registry.get_sample_value(name, labels) or 0)

            rows.append(
                [
                    f"{done:,}",
                    f"{rss_mib():.1f}",
                    value("driftline_capture_queue_size"),
                    value("driftline_capture_records_dropped_total", reason="queue_full"),
                    value("driftline_capture_records_dropped_total", reason="retries_exhausted"),
                ]
            )
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
        seconds = time.perf_counter() - started
        driftline.shutdown(0.1)
    load_after = os.getloadavg()
    first, last = float(str(rows[1][1])), float(str(rows[-1][1]))
    notes = [
        f"RSS after the first {sample_every:,} calls: {first:.1f} MiB; after {total:,}: "
        f"{last:.1f} MiB ({last - first:+.1f} MiB). {total:,} calls took {seconds:.0f} s "
        f"({seconds / total * 1e6:.1f} µs a call, timing included the sampling).",
        "Configuration: capture to a closed port on 127.0.0.1 (queue of 10,000 records), "
        "metrics on, tracing off, 1% of calls logged to os.devnull. Row 0 is before the first "
        "call.",
        f"Load average (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {', '.join(f'{x:.2f}' for x in load_after)}; the machine is shared.",
    ]
    if is_quick():
        notes.insert(0, "Quick run (1 million calls): for checking the script only, do not quote.")
    write_results(
        "sdk_memory",
        "SDK memory with the sidecar unreachable",
        ["calls", "RSS (MiB)", "queue size", "dropped queue_full", "dropped retries_exhausted"],
        rows,
        notes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
