"""The benchmark harness: result tables, machine description, and run_all's README update."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

DEMO = """\
from _common import is_quick, write_results
write_results("demo", "Demo", ["quick"], [[is_quick()]])
"""
README = "# Bench\n\n<!-- results:start -->\nold\n<!-- results:end -->\ntrailer\n"


@pytest.fixture(scope="module")
def common() -> ModuleType:
    """benchmarks/_common.py loaded as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_common", BENCHMARKS / "_common.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_dir(tmp_path: Path) -> Path:
    """A copy of the harness in a temporary benchmarks/ with one demo benchmark and a README."""
    directory = tmp_path / "benchmarks"
    directory.mkdir()
    for name in ("_common.py", "run_all.py"):
        shutil.copy(BENCHMARKS / name, directory / name)
    (directory / "demo.py").write_text(DEMO, encoding="utf-8")
    (directory / "README.md").write_text(README, encoding="utf-8")
    return directory


def _run_all(bench_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DRIFTLINE_BENCH_QUICK"}
    return subprocess.run(
        [sys.executable, str(bench_dir / "run_all.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_write_results_writes_titled_table(common: ModuleType, tmp_path: Path) -> None:
    """write_results writes the title, the machine line, the table and the notes, in order."""
    path = common.write_results(tmp_path / "x.md", "Title", ["a", "b"], [["x", 0.5]], "A note.")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert (lines[0], lines[4:], lines[2].startswith("*")) == (
        "### Title",
        ["| a | b |", "| --- | --- |", "| x | 0.5 |", "", "A note."],
        True,
    )


def test_write_results_rejects_ragged_rows(common: ModuleType, tmp_path: Path) -> None:
    """A row with the wrong number of cells raises ValueError naming the row."""
    with pytest.raises(ValueError, match=r"\['x'\] has 1 cells for 2 headers"):
        common.write_results(tmp_path / "x.md", "T", ["a", "b"], [["x"]])


def test_machine_info_omits_host_name(common: ModuleType) -> None:
    """machine_info describes the machine without its host name."""
    info = common.machine_info()
    assert socket.gethostname() not in json.dumps(info)


def test_timings_of_calls_warmup_then_runs(common: ModuleType) -> None:
    """timings_of calls fn warmup + runs times and returns one timing per run."""
    calls: list[None] = []
    timings = common.timings_of(lambda: calls.append(None), 4, warmup=2)
    assert (len(calls), len(timings)) == (6, 4)


def test_median_of_returns_the_median_run(
    common: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """median_of returns the median of the timed runs, not their mean (a fake clock, since
    real durations cannot be controlled)."""
    readings = iter([0.0, 5.0, 10.0, 11.0, 20.0, 22.0])  # runs of 5 s, 1 s and 2 s
    monkeypatch.setattr(common, "time", SimpleNamespace(perf_counter=lambda: next(readings)))
    assert common.median_of(lambda: None, 3, warmup=0) == 2.0


def test_run_all_splices_results_between_markers(bench_dir: Path) -> None:
    """run_all runs each benchmark with --quick and puts its table between the README markers."""
    result = _run_all(bench_dir, "--quick")
    readme = (bench_dir / "README.md").read_text(encoding="utf-8")
    body = readme.split("<!-- results:start -->\n")[1].split("<!-- results:end -->")[0]
    assert (result.returncode, body.splitlines()[0], body.splitlines()[-1], readme[-8:]) == (
        0,
        "### Demo",
        "| True |",
        "trailer\n",
    )


def test_run_all_reports_failure_and_keeps_others(bench_dir: Path) -> None:
    """A failing benchmark makes run_all exit 1, while the others' results are still spliced."""
    (bench_dir / "broken.py").write_text("raise SystemExit(2)\n", encoding="utf-8")
    result = _run_all(bench_dir)
    readme = (bench_dir / "README.md").read_text(encoding="utf-8")
    assert (result.returncode, "failed: broken" in result.stderr, "| False |" in readme) == (
        1,
        True,
        True,
    )


def test_fmt_seconds_keeps_the_sign_and_unit_of_a_negative_duration(common: ModuleType) -> None:
    """A negative duration reads like its positive size with a minus sign, not as nanoseconds."""
    assert (common.fmt_seconds(-0.0578), common.fmt_seconds(0.0578)) == ("-57.8 ms", "57.8 ms")


def test_load_note_gives_both_readings_of_the_load_average(common: ModuleType) -> None:
    """load_note writes the start and end readings, two decimals each, in that order."""
    note = common.load_note((0.5, 1.25, 2.0), (3.0, 2.5, 1.0))
    assert note.endswith(
        "load average (1, 5, 15 min) 0.50, 1.25, 2.00 at start, 3.00, 2.50, 1.00 at end."
    )
