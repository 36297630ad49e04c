"""``driftline demo --fast`` end to end, as a subprocess against a real sidecar it starts."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from driftline_sidecar.demo.data import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from driftline_sidecar.demo.run import EXIT_INTERRUPTED
from driftline_sidecar.demo.shift import expected_drift

from tests.support.alertmanager import Alertmanager
from tests.support.procs import assert_no_process, pid_alive, stop_pid

pytestmark = pytest.mark.integration

_DEMO = [sys.executable, "-m", "driftline_sidecar.demo"]
_SIDECAR_PID = re.compile(r"^sidecar\s+pid (\d+) ")


@dataclass(frozen=True)
class Finished:
    """A completed demo run: its exit code, its output and its JSON report."""

    returncode: int
    stdout: str
    report: dict[str, Any]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Finished:
    """One ``--fast`` demo run shared by the tests of this module."""
    directory = tmp_path_factory.mktemp("demo")
    report = directory / "report.json"
    result = subprocess.run(
        [*_DEMO, "--fast", "--report", str(report)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    if "sidecar_pid" in data and pid_alive(data["sidecar_pid"]):
        stop_pid(data["sidecar_pid"])
    return Finished(result.returncode, result.stdout + result.stderr, data)


@pytest.fixture(scope="module")
def august_shift(flights: Any, january: Any) -> Any:
    """What the data says about August against January, computed here, not by the demo."""
    august = flights[flights["month"] == 8]
    return expected_drift(january, august, NUMERIC_FEATURES, CATEGORICAL_FEATURES)


def test_the_demo_exits_zero(finished: Finished) -> None:
    """A complete fast run ends with exit code 0."""
    assert finished.returncode == 0, finished.stdout[-3000:]


def test_drift_is_detected_on_the_features_that_really_shift(
    finished: Finished, august_shift: Any
) -> None:
    """Every feature whose distribution clearly moved by August is flagged at the end."""
    assert august_shift.shifted == {"temp", "dewp"}
    assert august_shift.shifted <= set(finished.report["drifted_features"])


def test_no_drift_is_flagged_on_the_features_that_stay_put(
    finished: Finished, august_shift: Any
) -> None:
    """Hour, carrier and origin, which barely move, are not flagged at the end."""
    stable = august_shift.stable & {"sched_dep_hour", "carrier", "origin"}
    assert stable == {"sched_dep_hour", "carrier", "origin"}
    assert not stable & set(finished.report["drifted_features"])


def test_the_prediction_drift_is_reported(finished: Finished) -> None:
    """The model's output (its late probability) is flagged as drifted by August."""
    assert finished.report["drifted_predictions"] == ["value"]


def test_the_final_table_lists_every_feature(finished: Finished) -> None:
    """The closing drift table has one row per feature and marks temp as drifted."""
    rows = {
        line.split()[0]: line.split()
        for line in finished.stdout.splitlines()[1:]
        if line.startswith("  ") and len(line.split()) == 7
    }
    assert set(NUMERIC_FEATURES + CATEGORICAL_FEATURES) <= set(rows)
    assert rows["temp"][5] == "yes"


def test_an_alert_with_a_runbook_link_is_shown(finished: Finished) -> None:
    """At least one firing alert is printed with its runbook and dashboard links."""
    lines = finished.stdout.splitlines()
    headlines = [i for i, line in enumerate(lines) if "ALERT FIRING" in line]
    assert headlines, finished.stdout[-3000:]
    first = headlines[0]
    assert re.search(r"runbook:\s+https?://\S+\.md$", lines[first + 2])
    assert re.search(r"dashboard:\s+https?://\S+/d/", lines[first + 3])


def test_the_sidecar_is_gone_after_the_demo(finished: Finished) -> None:
    """The sidecar process the demo started no longer runs once the demo has exited."""
    assert_no_process(finished.report["sidecar_pid"], timeout=0.5)


def _lines(stream: Any, sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


@pytest.fixture
def running_demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], queue.Queue[str]]]:
    """A ``--fast`` demo subprocess with its output lines in a queue; killed if still running."""
    process = subprocess.Popen(
        [*_DEMO, "--fast"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=_lines, args=(process.stdout, lines), daemon=True)
    reader.start()
    try:
        yield process, lines
    finally:
        if process.poll() is None:
            stop_pid(process.pid)
        process.wait(timeout=30)
        reader.join(timeout=5)
        assert process.stdout is not None
        process.stdout.close()


def _wait_for(lines: queue.Queue[str], pattern: re.Pattern[str], seen: list[str]) -> re.Match[str]:
    while True:
        line = lines.get(timeout=120)
        seen.append(line)
        match = pattern.search(line)
        if match:
            return match


def test_ctrl_c_stops_the_demo_and_its_sidecar(
    running_demo: tuple[subprocess.Popen[str], queue.Queue[str]],
) -> None:
    """SIGINT during the replay ends the demo with 130 and leaves no sidecar running."""
    process, lines = running_demo
    seen: list[str] = []
    sidecar_pid = int(_wait_for(lines, _SIDECAR_PID, seen).group(1))
    _wait_for(lines, re.compile(r"^\[2013-"), seen)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == EXIT_INTERRUPTED, "".join(seen)
    assert_no_process(sidecar_pid, timeout=5.0)


def test_alerts_reach_a_real_alertmanager_given_on_the_command_line(tmp_path: Path) -> None:
    """With --alertmanager-url the drift alerts are also stored by that Alertmanager."""
    with Alertmanager() as alertmanager:
        result = subprocess.run(
            [*_DEMO, "--fast", "--alertmanager-url", alertmanager.url],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        stored = alertmanager.alerts(filters=['model="flights-delay"', 'feature="temp"'])
    assert [a["labels"]["alertname"] for a in stored] == ["DriftlineFeatureDrift"]
    assert stored[0]["annotations"]["runbook_url"].endswith("/DriftlineFeatureDrift.md")
