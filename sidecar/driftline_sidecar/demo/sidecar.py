"""The demo's sidecar: a generated configuration and a ``driftline sidecar`` child process.

The child runs in its own session, so a Ctrl-C in the terminal reaches the demo only and
the demo stops the sidecar itself, by pid: SIGTERM (the sidecar saves its snapshot and
exits), then SIGKILL if it has not gone within the grace period. On Linux the child also
asks the kernel for SIGTERM should the demo die without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["SidecarError", "SidecarProcess", "free_port", "start_sidecar", "write_config"]

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 0.05


class SidecarError(RuntimeError):
    """The sidecar did not start; the message ends with the tail of its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_config(path: Path, settings: Mapping[str, Any]) -> Path:
    """Write the sidecar configuration ``settings`` as YAML to ``path`` and return the path."""
    path.write_text(yaml.safe_dump(dict(settings), sort_keys=False), encoding="utf-8")
    return path


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM))


@dataclass
class SidecarProcess:
    """A running ``driftline sidecar`` child: its pid, URL and log file."""

    popen: subprocess.Popen[bytes]
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the sidecar's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        """Block until ``GET /readyz`` answers 200; raise SidecarError if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise SidecarError(
                    f"the sidecar exited with code {self.popen.returncode}:\n{self.log_tail()}"
                )
            with (
                contextlib.suppress(urllib.error.URLError, OSError),
                urllib.request.urlopen(self.url + "/readyz", timeout=1.0) as response,
            ):
                if response.status == 200:
                    return
            time.sleep(_POLL_SECONDS)
        raise SidecarError(f"the sidecar was not ready within {timeout:g}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM, wait up to ``grace`` seconds, then SIGKILL; return the exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


def start_sidecar(
    config: Path, url: str, log_path: Path, extra_args: Sequence[str] = ()
) -> SidecarProcess:
    """Start ``driftline sidecar --config CONFIG`` with this Python, logging to ``log_path``."""
    argv = [sys.executable, "-m", "driftline_sidecar", "sidecar", "--config", str(config)]
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [*argv, *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    return SidecarProcess(popen=popen, url=url, log_path=log_path)
