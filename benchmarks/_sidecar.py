"""A real ``driftline sidecar`` process for benchmarks: config, start, memory, /metrics, stop.

    from _sidecar import SidecarProcess, free_port, write_config

    port = free_port()
    write_config(directory, port, reference, [("bench", "1")], interval=5)
    with SidecarProcess(directory, port) as sidecar:
        ...  # POST to sidecar.url; sidecar.rss_mib(); sidecar.cpu_seconds(); sidecar.metrics()

The sidecar's own modules and the metrics parser are imported only when used, so a
benchmark's worker processes that import this module stay small.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Metric

__all__ = [
    "DRIFTLINE",
    "SidecarProcess",
    "cpu_seconds",
    "free_port",
    "scrape",
    "status_mib",
    "write_config",
]

DRIFTLINE = str(Path(sys.executable).parent / "driftline")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def status_mib(pid: int, field: str = "VmRSS") -> float:
    """A memory line of ``/proc/PID/status`` in MiB: ``VmRSS`` (now) or ``VmHWM`` (peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int, tid: int | None = None) -> float:
    """User plus system CPU time a process (all its threads), or its thread ``tid``, used so far."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port: int, timeout: float = 30.0) -> list[Metric]:
    """``GET http://127.0.0.1:PORT/metrics``, parsed into metric families."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as response:
        text = response.read().decode()
    return list(text_string_to_metric_families(text))


def write_config(
    directory: Path,
    port: int,
    reference: Mapping[str, Any],
    keys: Sequence[tuple[str, str]],
    *,
    categorical: Sequence[str] = (),
    **settings: Any,
) -> Path:
    """Save ``reference`` as ``profile.npz`` and write ``sidecar.yaml``; return its path.

    Every ``(model, version)`` of ``keys`` is monitored against that one profile,
    with the ``score`` column as the prediction ``value``; ``settings`` are the
    other top-level config keys (``interval``, ``window_size``...).
    """
    from driftline_sidecar.profile import build_profile, save_profile

    model, version = keys[0]
    profile = build_profile(
        dict(reference),
        model=model,
        version=version,
        categorical=list(categorical),
        prediction_columns=["score"],
    )
    save_profile(profile, directory / "profile.npz")
    config = {
        "port": port,
        **settings,
        "models": [
            {
                "model": model,
                "version": version,
                "profile": "profile.npz",
                "prediction_columns": {"value": "score"},
            }
            for model, version in keys
        ],
    }
    path = directory / "sidecar.yaml"
    path.write_text(json.dumps(config))
    return path


class SidecarProcess:
    """``driftline sidecar --config sidecar.yaml --log-level warning`` run in ``directory``.

    Its output is appended to ``directory/sidecar.log``. ``start()`` may be called
    again after ``kill()`` or ``stop()``: the new process listens on the same port.
    """

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> SidecarProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The running process's id."""
        if self.proc is None:
            raise RuntimeError("the sidecar is not running")
        return self.proc.pid

    def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until ``/readyz`` answers 200 (stopped again if not)."""
        argv = [DRIFTLINE, "sidecar", "--config", str(self.directory / "sidecar.yaml")]
        with (self.directory / "sidecar.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [*argv, "--log-level", "warning"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
            )
        try:
            self._wait_ready(self.proc, timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        url = f"{self.url}/readyz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (self.directory / "sidecar.log").read_text(errors="replace")
                tail = "\n".join(log.splitlines()[-20:])
                raise RuntimeError(f"sidecar exited with {proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{url} not ready within {timeout}s")

    def rss_mib(self, field: str = "VmRSS") -> float:
        """The process's memory in MiB: ``VmRSS`` (now) or ``VmHWM`` (peak)."""
        return status_mib(self.pid, field)

    def cpu_seconds(self) -> float:
        """CPU time (user plus system, every thread) the process used so far."""
        return cpu_seconds(self.pid)

    def metrics(self, timeout: float = 30.0) -> list[Metric]:
        """``GET /metrics``, parsed into metric families."""
        return scrape(self.port, timeout)

    def hang(self) -> None:
        """SIGSTOP the process: it keeps its socket, so connections queue and POSTs time out."""
        os.kill(self.pid, signal.SIGSTOP)

    def kill(self) -> None:
        """SIGKILL the process (stopped or not) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self, timeout: float = 30.0) -> None:
        """SIGCONT (in case it hangs), then SIGTERM; SIGKILL after ``timeout`` seconds."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None
