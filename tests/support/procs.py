"""External processes for tests: started with a log file, awaited over HTTP, stopped by pid.

Typical use::

    with running_process(["prometheus", ...], ready_url="http://127.0.0.1:9090/-/ready") as proc:
        ...  # proc.pid, proc.log_tail()
    assert_no_process(proc.pid)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import LOOPBACK, free_port

__all__ = [
    "ManagedProcess",
    "ProcessStartError",
    "assert_no_process",
    "pid_alive",
    "running_process",
    "start_on_free_port",
    "start_process",
    "stop_pid",
    "wait_for_http",
]

_POLL_SECONDS = 0.05


class ProcessStartError(RuntimeError):
    """A process exited early or did not answer on its URL in time; the message has its log."""


@dataclass
class ManagedProcess:
    """A started subprocess whose stdout and stderr go to ``log_path``."""

    name: str
    argv: tuple[str, ...]
    popen: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path

    @property
    def pid(self) -> int:
        """The operating-system process id."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code once the process has ended, else None."""
        return self.popen.poll()

    def running(self) -> bool:
        """Whether the process has not exited yet."""
        return self.popen.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the combined stdout/stderr log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"<log {self.log_path} unreadable: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float = 30.0) -> None:
        """Block until ``url`` answers 2xx/3xx; raise ProcessStartError with the log tail if not."""
        wait_for_http(url, timeout=timeout, process=self)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; return the exit code."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.popen.kill()
                self.popen.wait(timeout=timeout)
        return self.popen.returncode


def start_process(
    argv: Sequence[str],
    *,
    log_path: Path,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
) -> ManagedProcess:
    """Start ``argv`` with stdout and stderr appended to ``log_path``; the caller must stop it."""
    if shutil.which(argv[0]) is None and not Path(argv[0]).exists():
        raise ProcessStartError(f"{argv[0]!r} not found on PATH (for Debian binaries: make debs)")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else dict(env),
            cwd=cwd,
            # Its own session, so a Ctrl-C in the terminal reaches pytest only and the
            # teardown still stops the process in order.
            start_new_session=True,
        )
    return ManagedProcess(
        name=name or Path(argv[0]).name, argv=tuple(argv), popen=popen, log_path=log_path
    )


def wait_for_http(
    url: str, *, timeout: float = 30.0, process: ManagedProcess | None = None
) -> None:
    """Block until a GET on ``url`` answers below 400, or raise ProcessStartError.

    When ``process`` is given, its early exit is reported at once, and every error
    message carries the tail of its log.
    """
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    while True:
        if process is not None and not process.running():
            raise ProcessStartError(
                f"{process.name} (pid {process.pid}) exited with code {process.returncode} "
                f"before {url} answered; log {process.log_path}:\n{process.log_tail()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2.0) as response:
                if response.status < 400:
                    return
                last_error = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last_error = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = str(exc)
        if time.monotonic() >= deadline:
            detail = ""
            if process is not None:
                detail = f"; log {process.log_path}:\n{process.log_tail()}"
            raise ProcessStartError(
                f"{url} did not answer within {timeout:g}s (last error: {last_error}){detail}"
            )
        time.sleep(_POLL_SECONDS)


@contextlib.contextmanager
def running_process(
    argv: Sequence[str],
    *,
    ready_url: str | None = None,
    timeout: float = 30.0,
    name: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    log_dir: Path | None = None,
    stop_timeout: float = 10.0,
) -> Iterator[ManagedProcess]:
    """Run ``argv`` for the duration of the ``with`` block, stopped by pid on exit.

    When ``ready_url`` is given the block is entered only once it answers. The log
    goes to ``log_dir`` (kept) or to a temporary directory removed on exit.
    """
    own_dir = log_dir is None
    directory = Path(tempfile.mkdtemp(prefix="driftline-proc-")) if log_dir is None else log_dir
    label = name or Path(argv[0]).name
    try:
        process = start_process(
            argv, log_path=directory / f"{label}.log", name=label, env=env, cwd=cwd
        )
        try:
            if ready_url is not None:
                process.wait_ready(ready_url, timeout=timeout)
            yield process
        finally:
            process.stop(timeout=stop_timeout)
    finally:
        if own_dir:
            shutil.rmtree(directory, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # The state is the first field after the parenthesised command name.
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def stop_pid(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds for it to go, then SIGKILL it."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not pid_alive(pid):
                return
            time.sleep(_POLL_SECONDS)


def assert_no_process(*pids: int, timeout: float = 5.0) -> None:
    """Assert every pid has exited within ``timeout`` seconds; the failure names the survivors."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if pid_alive(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
        alive = [pid for pid in alive if pid_alive(pid)]
    assert not alive, f"processes still running: {alive}"


def start_on_free_port(
    argv_for_port: Callable[[int], Sequence[str]],
    *,
    ready_path: str,
    log_path: Path,
    name: str,
    cwd: Path | str | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
) -> tuple[ManagedProcess, int]:
    """Start a server binary on a free 127.0.0.1 port and wait for ``ready_path`` to answer.

    ``free_port()`` leaves a small race with other processes; when the binary then
    fails with "address already in use" it is started again on a new port.
    Returns the running process and its port; the caller must stop the process.
    """
    for attempt in range(1, attempts + 1):
        port = free_port()
        process = start_process(argv_for_port(port), log_path=log_path, name=name, cwd=cwd)
        try:
            process.wait_ready(f"http://{LOOPBACK}:{port}{ready_path}", timeout=timeout)
        except ProcessStartError:
            process.stop()
            if attempt < attempts and "address already in use" in process.log_tail().lower():
                continue
            raise
        return process, port
    raise AssertionError("unreachable")  # pragma: no cover
