"""The process helpers: readiness over HTTP, clear start errors, stop by pid."""

from __future__ import annotations

import re
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.support.ports import LOOPBACK, free_port
from tests.support.procs import (
    ProcessStartError,
    assert_no_process,
    pid_alive,
    running_process,
    start_process,
    stop_pid,
)


def _http_server_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK]


def test_free_port_can_be_bound() -> None:
    """free_port returns a port that a new socket can bind on 127.0.0.1."""
    port = free_port()
    with socket.socket() as sock:
        sock.bind((LOOPBACK, port))
        assert sock.getsockname() == (LOOPBACK, port)


def test_running_process_waits_until_url_answers() -> None:
    """The block is entered only once the process's URL answers, and the process is alive."""
    port = free_port()
    url = f"http://{LOOPBACK}:{port}/"
    with running_process(_http_server_argv(port), ready_url=url, timeout=20) as proc:
        assert pid_alive(proc.pid)
    assert_no_process(proc.pid)


def test_early_exit_reports_code_and_log_tail() -> None:
    """A process that exits before answering raises ProcessStartError with its output."""
    argv = [sys.executable, "-c", "print('no config here'); raise SystemExit(3)"]
    with (
        pytest.raises(ProcessStartError, match=r"(?s)exited with code 3.*no config here"),
        running_process(argv, ready_url=f"http://{LOOPBACK}:{free_port()}/", timeout=20),
    ):
        pass


def test_timeout_reports_url_and_log_tail() -> None:
    """A process that never answers raises ProcessStartError naming the URL, then is stopped."""
    code = "import os, time; print('sleeping pid', os.getpid(), flush=True); time.sleep(60)"
    argv = [sys.executable, "-c", code]
    url = f"http://{LOOPBACK}:{free_port()}/"
    with (
        pytest.raises(ProcessStartError, match=r"(?s)did not answer within 0.5s.*sleeping") as info,
        running_process(argv, ready_url=url, timeout=0.5),
    ):
        pass
    pid = re.search(r"sleeping pid (\d+)", str(info.value))
    assert pid is not None, str(info.value)
    assert url in str(info.value)
    assert_no_process(int(pid.group(1)))


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    """A process that ignores SIGTERM is killed after the stop timeout."""
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = start_process([sys.executable, "-c", code], log_path=tmp_path / "p.log")
    try:
        while "ready" not in proc.log_tail():
            assert proc.running(), proc.log_tail()
            time.sleep(0.01)
        assert proc.stop(timeout=0.3) == -9
    finally:
        proc.stop()


def test_stop_pid_ends_a_process() -> None:
    """stop_pid ends a process given only its pid."""
    port = free_port()
    with running_process(
        _http_server_argv(port), ready_url=f"http://{LOOPBACK}:{port}/", timeout=20
    ) as proc:
        stop_pid(proc.pid)
        assert not pid_alive(proc.pid)


def test_assert_no_process_names_survivors() -> None:
    """assert_no_process fails, naming the pid, while that process runs."""
    port = free_port()
    with (
        running_process(
            _http_server_argv(port), ready_url=f"http://{LOOPBACK}:{port}/", timeout=20
        ) as proc,
        pytest.raises(AssertionError, match=str(proc.pid)),
    ):
        assert_no_process(proc.pid, timeout=0.1)
