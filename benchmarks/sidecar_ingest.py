"""Sidecar ingest: records per second through a real ``driftline sidecar`` process's /v1/records.

Records of 20 features (15 numeric, 5 categorical) plus one prediction, in batches of
1,000 per body, gzip-compressed as the SDK sends them, over keep-alive HTTP connections
from client threads. Bodies are encoded once before timing, so the client costs little.
Also reports the sidecar's peak RSS (VmHWM) after 1 million records and at the end, to
show memory stays bounded by the window.

    .venv/bin/python benchmarks/sidecar_ingest.py            # 10 million records
    .venv/bin/python benchmarks/sidecar_ingest.py --quick    # 200 thousand
    .venv/bin/python benchmarks/sidecar_ingest.py --records 2000000
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import is_quick, write_results
from _sidecar import SidecarProcess, free_port, write_config

BATCH = 1_000
NUMERIC = 15
CATEGORICAL = 5
BODIES = 16
THREADS = 2
CHECKPOINT = 1_000_000


def _data(n: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {f"num_{i}": rng.normal(i, 1.0 + i / 10, n) for i in range(NUMERIC)}
    levels = np.array([f"level_{j}" for j in range(12)], dtype=object)
    for i in range(CATEGORICAL):
        data[f"cat_{i}"] = levels[rng.integers(0, 12, n)]
    data["score"] = rng.uniform(0, 1, n)
    return data


def _body(seed: int) -> bytes:
    data = _data(BATCH, seed)
    now = time.time()
    batch = {
        "model": "bench",
        "version": "1",
        "ids": [f"{seed:08d}-{i:06d}" for i in range(BATCH)],
        "timestamps": [now + i * 1e-3 for i in range(BATCH)],
        "features": {k: v.tolist() for k, v in data.items() if k != "score"},
        "predictions": {"value": data["score"].tolist()},
    }
    return gzip.compress(json.dumps({"v": 1, "sent_at": now, "batches": [batch]}).encode())


class _Sender(threading.Thread):
    def __init__(self, port: int, bodies: list[bytes], quota: int, counter: list[int]) -> None:
        super().__init__(daemon=True)
        self.port, self.bodies, self.quota, self.counter = port, bodies, quota, counter
        self.lock = threading.Lock()
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        for i in range(self.quota):
            connection.request("POST", "/v1/records", self.bodies[i % len(self.bodies)], headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                self.errors += 1
            with _COUNT_LOCK:
                self.counter[0] += BATCH
        connection.close()


_COUNT_LOCK = threading.Lock()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 thousand records")
    parser.add_argument("--records", type=int, default=None, help="records to send")
    args = parser.parse_args()
    total = args.records or (200_000 if is_quick() else 10_000_000)
    total -= total % (BATCH * THREADS)
    with tempfile.TemporaryDirectory(prefix="driftline-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        write_config(
            directory,
            port,
            _data(20_000, 0),
            [("bench", "1")],
            categorical=[f"cat_{i}" for i in range(CATEGORICAL)],
            interval=5,
            window_size=10_000,
        )
        bodies = [_body(seed) for seed in range(1, BODIES + 1)]
        sidecar = SidecarProcess(directory, port)
        sidecar.start()
        try:
            rss_start = sidecar.rss_mib("VmHWM")
            load_start = os.getloadavg()[0]
            counter = [0]
            per_thread = total // BATCH // THREADS
            senders = [_Sender(port, bodies, per_thread, counter) for _ in range(THREADS)]
            started = time.perf_counter()
            for sender in senders:
                sender.start()
            rss_checkpoint = None
            elapsed_checkpoint = None
            while any(sender.is_alive() for sender in senders):
                time.sleep(0.05)
                if rss_checkpoint is None and counter[0] >= min(CHECKPOINT, total):
                    rss_checkpoint = sidecar.rss_mib("VmHWM")
                    elapsed_checkpoint = time.perf_counter() - started
            elapsed = time.perf_counter() - started
            rss_end = sidecar.rss_mib("VmHWM")
            load_end = os.getloadavg()[0]
            errors = sum(sender.errors for sender in senders)
        finally:
            sidecar.stop()
    rate = total / elapsed
    first_rate = min(CHECKPOINT, total) / elapsed_checkpoint if elapsed_checkpoint else rate
    growth = (rss_end / rss_checkpoint - 1) * 100 if rss_checkpoint else float("nan")
    rows = [
        ["records sent", f"{total:,}"],
        ["batch size (records per body)", f"{BATCH:,}"],
        ["non-202 answers", str(errors)],
        ["records per second (whole run)", f"{rate:,.0f}"],
        [f"records per second (first {min(CHECKPOINT, total):,})", f"{first_rate:,.0f}"],
        ["sidecar peak RSS at start", f"{rss_start:.1f} MiB"],
        [f"sidecar peak RSS after {min(CHECKPOINT, total):,} records", f"{rss_checkpoint:.1f} MiB"],
        [f"sidecar peak RSS after {total:,} records", f"{rss_end:.1f} MiB"],
        ["peak RSS growth after the first million", f"{growth:+.1f} %"],
        ["machine load average (1 min) at start, at end", f"{load_start:.2f}, {load_end:.2f}"],
    ]
    notes = (
        f"One `driftline sidecar` process (uvicorn, one worker), window_size 10,000, "
        f"evaluation every 5 s against a 20-feature profile, on the same machine as the client "
        f"({THREADS} client threads, keep-alive connections, {BODIES} pre-encoded gzip bodies of "
        f"{NUMERIC} numeric + {CATEGORICAL} categorical features and one prediction). "
        f"Targets: at least 100,000 records/s; peak RSS after 10 million within 10 % of that "
        f"after 1 million. Peak RSS is VmHWM from /proc. The machine is shared: the load "
        f"average row shows how busy it was (2 cores)."
    )
    print("| measure | value |\n| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    if not is_quick():
        path = write_results("sidecar_ingest", "Sidecar ingest", ["measure", "value"], rows, notes)
        print(f"wrote {path}")
    return 1 if errors else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
