"""The real ``driftline`` command: the sidecar process, restarts, exit codes, reference build."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from driftline_sidecar.profile import load_profile

from tests.support.ports import free_port
from tests.support.procs import assert_no_process, running_process
from tests.support.sidecar import DRIFTLINE, sidecar_argv, wait_for_evaluation

from .conftest import MODEL, VERSION, records_body, reference_data, write_config

_MODEL_ARGS = ("--model", "m", "--version", "1")


def _run_sidecar(config: Path) -> subprocess.CompletedProcess[str]:
    """``driftline sidecar --config CONFIG`` run to its end; its exit code and output."""
    return subprocess.run(
        sidecar_argv(config), capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.integration
def test_restart_restores_window_and_evaluation(tmp_path: Path, profile_path: Path) -> None:
    """After SIGTERM and a new start on the same state_dir, window and last evaluation are back.

    uvicorn shuts down gracefully, then ends by the signal it caught (exit status -SIGTERM).
    """
    port = free_port()
    config = write_config(
        tmp_path, profile_path, state_dir="state", interval=0.2, port=port, min_samples=50
    )
    argv = sidecar_argv(config)
    base = f"http://127.0.0.1:{port}"
    with running_process(argv, ready_url=f"{base}/readyz", name="sidecar-1") as first:
        httpx.post(f"{base}/v1/records", json=records_body(300, shift=12.0)).raise_for_status()
        before = wait_for_evaluation(base)
        exit_code = first.stop()
    assert_no_process(first.pid)
    with running_process(argv, ready_url=f"{base}/readyz", name="sidecar-2"):
        after = httpx.get(f"{base}/v1/drift/{MODEL}/{VERSION}").json()
        (model,) = httpx.get(f"{base}/v1/models").json()["models"]
    assert (exit_code, model["window_records"], after) == (-signal.SIGTERM, 300, before)


@pytest.mark.integration
def test_bad_config_exits_2_naming_key_and_file(tmp_path: Path) -> None:
    """A configuration error stops the sidecar with exit code 2 and a one-line message."""
    config = tmp_path / "sidecar.yaml"
    config.write_text("port: 8765\nwindow: 10\n", encoding="utf-8")
    result = _run_sidecar(config)
    assert (
        result.returncode,
        "window" in result.stderr,
        str(config) in result.stderr,
        len(result.stderr.strip().splitlines()),
    ) == (2, True, True, 1)


@pytest.mark.integration
def test_bad_config_prints_no_traceback(tmp_path: Path) -> None:
    """A missing reference profile is reported without a Python traceback."""
    config = tmp_path / "sidecar.yaml"
    config.write_text("models:\n  - {model: m, version: v, profile: gone.npz}\n", encoding="utf-8")
    result = _run_sidecar(config)
    assert ("Traceback" in result.stderr, "models[0].profile" in result.stderr) == (False, True)


def test_cli_imports_without_scipy_or_fastapi() -> None:
    """Importing the CLI and building its parser loads neither scipy nor FastAPI."""
    code = (
        "import sys, driftline_sidecar.cli as cli; cli.build_parser(); "
        "print(sorted(m for m in ('scipy', 'fastapi', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_cli_has_the_sidecar_and_reference_commands() -> None:
    """The parser offers the sidecar and reference subcommands (and any registered plugin)."""
    from driftline_sidecar.cli import COMMANDS, build_parser

    build_parser()
    assert {"sidecar", "reference"} <= set(COMMANDS)


def test_reference_build_writes_a_profile(tmp_path: Path) -> None:
    """`driftline reference build` profiles a CSV with the given categorical and output columns."""
    data = reference_data(500)
    csv = tmp_path / "ref.csv"
    rows = ["tenure,spend,plan,churn_probability"] + [
        f"{t},{s},{p},{c}"
        for t, s, p, c in zip(
            data["tenure"], data["spend"], data["plan"], data["churn_probability"], strict=True
        )
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "profile.npz"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "driftline_sidecar",
            "reference",
            "build",
            str(csv),
            "--model",
            "churn",
            "--version",
            "1",
            "-o",
            str(out),
            "--categorical",
            "plan",
            "--exclude",
            "spend",
            "--prediction-column",
            "churn_probability",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    profile = load_profile(out)
    roles = {name: (c.kind, c.role) for name, c in profile.columns.items()}
    assert roles == {
        "tenure": ("numeric", "feature"),
        "plan": ("categorical", "feature"),
        "churn_probability": ("numeric", "prediction"),
    }


def test_reference_build_reports_a_missing_file(tmp_path: Path) -> None:
    """`driftline reference build` on a missing file exits 2 with the path in the message."""
    result = subprocess.run(
        [DRIFTLINE, "reference", "build", str(tmp_path / "nope.csv"), *_MODEL_ARGS, "-o", "p.npz"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, "nope.csv" in result.stderr) == (2, True)
