"""Sidecar ingest: records per second through a real ``driftline sidecar`` process's /v1/records.

Records of 20 features (15 numeric, 5 categorical) plus one prediction, in batches of
1,000 per body, gzip-compressed as the SDK sends them to a sidecar that is not on a
loopback address (``capture_compression``; to a loopback one it sends plain JSON), over
keep-alive HTTP connections from client threads. Every body carries new prediction ids,
so the prediction store (on, with its default 100,000 ids) stores and evicts every
record: a body is compressed once before timing except its ids, which are compressed per
send and spliced in (a gzip stream of independently flushed deflate pieces), so the
client costs little.
Also reports the sidecar's peak RSS (VmHWM) after 1 million records and at the end, to
show memory stays bounded by the window; then two shorter runs (at most 1 million
records each) against a fresh sidecar: shadow pairs (each id sent by the champion,
version 1, then by the challenger, version 2, in the next body) and the store off
(``versions.max_predictions: 0``).

    .venv/bin/python benchmarks/sidecar_ingest.py            # 10 million records
    .venv/bin/python benchmarks/sidecar_ingest.py --quick    # 200 thousand
    .venv/bin/python benchmarks/sidecar_ingest.py --records 2000000
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import struct
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass
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


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_ROW_IDS = [f"-{i:06d}" for i in range(BATCH)]


def _deflate(data: bytes, mode: int) -> bytes:
    """Raw deflate of ``data`` ending on a byte boundary (Z_SYNC_FLUSH) or final (Z_FINISH)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(mode)


class _Template:
    """One batch body, gzip-compressed once but for its ids, which each send fills in."""

    def __init__(self, seed: int, version: str, role: str) -> None:
        data = _data(BATCH, seed)
        now = time.time()
        batch = {
            "model": "bench",
            "version": version,
            "role": role,
            "timestamps": [now + i * 1e-3 for i in range(BATCH)],
            "features": {k: v.tolist() for k, v in data.items() if k != "score"},
            "predictions": {"value": data["score"].tolist()},
        }
        text = json.dumps({"v": 1, "sent_at": now, "batches": [batch]})
        head = (text[: -len("}]}")] + ', "ids": [').encode()
        self.tail = b"]}]}"
        self.deflated_head = _deflate(head, zlib.Z_SYNC_FLUSH)
        self.deflated_tail = _deflate(self.tail, zlib.Z_FINISH)
        self.head_crc = zlib.crc32(head)
        self.fixed_size = len(head) + len(self.tail)

    def body(self, prefix: str) -> bytes:
        """The gzip body with ids ``PREFIX-000000`` ... (valid JSON, one gzip member)."""
        ids = ",".join([f'"{prefix}{row}"' for row in _ROW_IDS]).encode()
        crc = zlib.crc32(self.tail, zlib.crc32(ids, self.head_crc))
        size = (self.fixed_size + len(ids)) & 0xFFFFFFFF
        return b"".join(
            (
                _GZIP_HEADER,
                self.deflated_head,
                _deflate(ids, zlib.Z_SYNC_FLUSH),
                self.deflated_tail,
                struct.pack("<II", crc, size),
            )
        )


class _Sender(threading.Thread):
    """Posts ``quota`` bodies; with ``challengers``, every second body resends the ids before."""

    def __init__(
        self,
        port: int,
        name: str,
        templates: dict[str, list[_Template]],
        quota: int,
        counter: list[int],
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.prefix, self.templates = port, name, templates
        self.quota, self.counter = quota, counter
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        shadow = "challenger" in self.templates
        for i in range(self.quota):
            group, role = (i // 2, ("champion", "challenger")[i % 2]) if shadow else (i, "champion")
            templates = self.templates[role]
            body = templates[group % len(templates)].body(f"{self.prefix}-{group}")
            connection.request("POST", "/v1/records", body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 202:
                self.errors += 1
            with _COUNT_LOCK:
                self.counter[0] += BATCH
        connection.close()


_COUNT_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Run:
    records: int
    seconds: float
    first_seconds: float | None
    errors: int
    rss_start: float
    rss_checkpoint: float | None
    rss_end: float
    cpu_seconds: float
    """The sidecar's CPU time (all threads) while the records were sent."""


def _run(total: int, shadow: bool, store: bool) -> _Run:
    """Send ``total`` records to a fresh sidecar; time them and read its peak RSS."""
    roles = ("champion", "challenger") if shadow else ("champion",)
    with tempfile.TemporaryDirectory(prefix="driftline-bench-") as tmp:
        directory = Path(tmp)
        port = free_port()
        write_config(
            directory,
            port,
            _data(20_000, 0),
            [("bench", "1"), ("bench", "2")],
            categorical=[f"cat_{i}" for i in range(CATEGORICAL)],
            interval=5,
            window_size=10_000,
            versions={"max_predictions": 100_000 if store else 0},
        )
        templates = {
            role: [_Template(seed, str(1 + k), role) for seed in range(1, BODIES + 1)]
            for k, role in enumerate(roles)
        }
        with SidecarProcess(directory, port) as sidecar:
            rss_start = sidecar.rss_mib("VmHWM")
            cpu_start = sidecar.cpu_seconds()
            counter = [0]
            per_thread = total // BATCH // THREADS
            senders = [
                _Sender(port, f"t{t}", templates, per_thread, counter) for t in range(THREADS)
            ]
            started = time.perf_counter()
            for sender in senders:
                sender.start()
            rss_checkpoint = None
            first_seconds = None
            while any(sender.is_alive() for sender in senders):
                time.sleep(0.05)
                if rss_checkpoint is None and counter[0] >= min(CHECKPOINT, total):
                    rss_checkpoint = sidecar.rss_mib("VmHWM")
                    first_seconds = time.perf_counter() - started
            elapsed = time.perf_counter() - started
            rss_end = sidecar.rss_mib("VmHWM")
            cpu = sidecar.cpu_seconds() - cpu_start
    errors = sum(sender.errors for sender in senders)
    return _Run(total, elapsed, first_seconds, errors, rss_start, rss_checkpoint, rss_end, cpu)


def _rate_and_cpu(run: _Run) -> str:
    return f"{run.records / run.seconds:,.0f} ({run.cpu_seconds / run.records * 1e6:.2f} µs CPU)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 thousand records")
    parser.add_argument("--records", type=int, default=None, help="records to send")
    args = parser.parse_args()
    total = args.records or (200_000 if is_quick() else 10_000_000)
    total -= total % (BATCH * THREADS * 2)
    short = min(total, CHECKPOINT)
    load_start = os.getloadavg()[0]
    main_run = _run(total, shadow=False, store=True)
    shadow_run = _run(short, shadow=True, store=True)
    off_run = _run(short, shadow=False, store=False)
    load_end = os.getloadavg()[0]
    runs = (main_run, shadow_run, off_run)
    errors = sum(run.errors for run in runs)
    rate = total / main_run.seconds
    checkpoint = min(CHECKPOINT, total)
    first = main_run.first_seconds
    first_rate = checkpoint / first if first else rate
    rss_checkpoint = main_run.rss_checkpoint
    growth = (main_run.rss_end / rss_checkpoint - 1) * 100 if rss_checkpoint else float("nan")
    rows = [
        ["records sent", f"{total:,}"],
        ["batch size (records per body)", f"{BATCH:,}"],
        ["non-202 answers (all runs)", str(errors)],
        ["records per second (whole run)", f"{rate:,.0f}"],
        ["sidecar CPU time per record (whole run)", f"{main_run.cpu_seconds / total * 1e6:.2f} µs"],
        ["sidecar peak RSS at start", f"{main_run.rss_start:.1f} MiB"],
        [f"sidecar peak RSS after {total:,} records", f"{main_run.rss_end:.1f} MiB"],
    ]
    if total > CHECKPOINT:
        rows[5:5] = [[f"records per second (first {checkpoint:,})", f"{first_rate:,.0f}"]]
        rows[7:7] = [
            [f"sidecar peak RSS after {checkpoint:,} records", f"{rss_checkpoint:.1f} MiB"]
        ]
        rows.append(["peak RSS growth after the first million", f"{growth:+.1f} %"])
    rows += [
        [
            f"records per second (sidecar CPU per record), store on with shadow pairs "
            f"({short:,} records)",
            _rate_and_cpu(shadow_run),
        ],
        [
            f"records per second (sidecar CPU per record), store off ({short:,} records)",
            _rate_and_cpu(off_run),
        ],
        ["machine load average (1 min) at start, at end", f"{load_start:.2f}, {load_end:.2f}"],
    ]
    notes = (
        f"One `driftline sidecar` process (uvicorn, one worker), window_size 10,000, "
        f"evaluation every 5 s against a 20-feature profile, on the same machine as the client "
        f"({THREADS} client threads, keep-alive connections, gzip bodies from {BODIES} "
        f"pre-encoded batches of {NUMERIC} numeric + {CATEGORICAL} categorical features and one "
        f"prediction, with new prediction ids in every body). The first rows are the main run, "
        f"prediction store on (100,000 ids, every record stored and evicted). Shadow pairs: "
        f"each body's ids are sent again as the challenger (version 2) in the next body, so "
        f"half the records complete a pair. Store off: `versions.max_predictions: 0`. "
        f"Targets: at least 100,000 records/s; peak RSS after 10 million within 10 % of that "
        f"after 1 million. Peak RSS is VmHWM from /proc; CPU time is the sidecar's user + "
        f"system time (all threads) from /proc, which moves less with the machine's load than "
        f"records per second do. The machine is shared: the load average row shows how busy "
        f"it was (2 cores)."
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
