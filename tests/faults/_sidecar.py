"""A real ``driftline sidecar --config`` process for fault tests: killed, paused, restarted by pid.

It keeps its port across restarts, so an SDK or a test client configured once
reaches whichever process runs now. Every process it starts is stopped by pid in
``close()``. The churn 1.0 data, profile and config come from ``tests.support.sidecar``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support import sidecar as shared
from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import ManagedProcess, assert_no_process, start_process
from tests.support.sidecar import MODEL, VERSION, sidecar_argv, write_config

__all__ = [
    "MODEL",
    "VERSION",
    "SidecarProcess",
    "records_body",
    "running_sidecar",
    "wait_until",
    "write_config",
    "write_profile",
]


def write_profile(path: Path) -> Path:
    """Save a reference profile of 2,000 reference records for churn 1.0 at ``path``."""
    return shared.write_profile(path, n=2_000)


def records_body(n: int, *, seed: int = 1, shift: float = 0.0, start: int = 0) -> dict[str, Any]:
    """A protocol v1 body of ``n`` records like the reference, ``tenure`` shifted by ``shift``,
    every record stamped now."""
    return shared.records_body(n, seed=seed, shift=shift, start=start, at=time.time())


class SidecarProcess:
    """``driftline sidecar --config CONFIG --port PORT``: killed, paused, restarted on one port."""

    def __init__(self, config: Path, log_dir: Path, *, port: int | None = None) -> None:
        self.config = config
        self.port = free_port() if port is None else port
        self.log_dir = log_dir
        self._process: ManagedProcess | None = None
        self._starts = 0
        self._pids: list[int] = []

    @property
    def url(self) -> str:
        """The base URL, the same across restarts."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def process(self) -> ManagedProcess:
        """The process started last."""
        if self._process is None:
            raise RuntimeError("the sidecar was never started")
        return self._process

    def start(self, timeout: float = 60.0) -> None:
        """Start a new process on the same port and wait until ``/readyz`` answers 200."""
        self._starts += 1
        self._process = start_process(
            sidecar_argv(self.config, self.port),
            log_path=self.log_dir / f"sidecar-{self._starts}.log",
            name=f"sidecar-{self._starts}",
        )
        self._pids.append(self._process.pid)
        self._process.wait_ready(f"{self.url}/readyz", timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the process (no snapshot, no graceful shutdown) and reap it."""
        self.process.popen.send_signal(signal.SIGKILL)
        self.process.popen.wait(timeout=10.0)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections (kernel backlog) but nothing answers."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after ``pause()``."""
        os.kill(self.process.pid, signal.SIGCONT)

    def close(self) -> None:
        """Stop every process this object started, by pid (a paused one is resumed first)."""
        if self._process is not None and self._process.running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGCONT)
            self._process.stop()
        assert_no_process(*self._pids)

    def log(self) -> str:
        """Every log line of every process started, in order."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted(self.log_dir.glob("sidecar-*.log"))
        )

    # -- reading its state ---------------------------------------------------------------------

    def post(self, body: dict[str, Any]) -> httpx.Response:
        """POST a protocol v1 body to ``/v1/records``."""
        return httpx.post(f"{self.url}/v1/records", json=body, timeout=30.0)

    def send(self, body: dict[str, Any]) -> None:
        """POST a body and fail, with the sidecar's answer, unless it is 202."""
        answer = self.post(body)
        assert answer.status_code == 202, f"{answer.status_code}: {answer.text}"

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of ``/metrics`` (0.0 when absent)."""
        text = httpx.get(f"{self.url}/metrics", timeout=30.0).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                wanted = all(sample.labels.get(k) == v for k, v in labels.items())
                if sample.name == name and wanted:
                    return float(sample.value)
        return 0.0

    def window_records(self) -> int:
        """``window_records`` of churn 1.0 from ``GET /v1/models``."""
        models = httpx.get(f"{self.url}/v1/models", timeout=30.0).json()["models"]
        (entry,) = [m for m in models if (m["model"], m["version"]) == (MODEL, VERSION)]
        return int(entry["window_records"])


@contextlib.contextmanager
def running_sidecar(config: Path, log_dir: Path) -> Iterator[SidecarProcess]:
    """A started ``SidecarProcess``, closed (every process stopped by pid) on exit."""
    sidecar = SidecarProcess(config, log_dir)
    try:
        sidecar.start()
        yield sidecar
    finally:
        sidecar.close()


def wait_until(
    predicate: Callable[[], object], timeout: float = 30.0, message: str = "condition"
) -> None:
    """Poll ``predicate()`` every 50 ms until it is true; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout:g}s")
        time.sleep(0.05)
