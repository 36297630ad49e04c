"""A sidecar to test against: churn 1.0 reference data, its profile and config, and the process.

Typical use::

    profile = write_profile(tmp_path / "churn.npz")
    config = write_config(tmp_path, profile, state_dir="state")
    process, port = start_sidecar(config, tmp_path)   # stop it by pid: process.stop()
    httpx.post(f"http://127.0.0.1:{port}/v1/records", json=records_body(100, shift=2.0))
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from driftline_sidecar.profile import build_profile, save_profile

from tests.support.procs import ManagedProcess, start_on_free_port

__all__ = [
    "DRIFTLINE",
    "MODEL",
    "VERSION",
    "records_body",
    "reference_data",
    "sidecar_argv",
    "start_sidecar",
    "wait_for_evaluation",
    "write_config",
    "write_profile",
]

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
MODEL, VERSION = "churn", "1.0"


def reference_data(n: int = 5_000, seed: int = 0) -> dict[str, Any]:
    """Reference data: two numeric features, one categorical, one numeric prediction."""
    rng = np.random.default_rng(seed)
    plans = np.array(["basic", "pro", "team"], dtype=object)[rng.integers(0, 3, n)]
    return {
        "tenure": rng.normal(24.0, 6.0, n),
        "spend": rng.normal(50.0, 10.0, n),
        "plan": plans,
        "churn_probability": rng.uniform(0.0, 1.0, n),
    }


def write_profile(path: Path, n: int = 5_000) -> Path:
    """Save the reference profile of ``reference_data(n)`` for churn 1.0 at ``path``."""
    profile = build_profile(
        reference_data(n),
        model=MODEL,
        version=VERSION,
        categorical=["plan"],
        prediction_columns=["churn_probability"],
    )
    save_profile(profile, path)
    return path


def write_config(directory: Path, profile: Path, **overrides: Any) -> Path:
    """Write a sidecar YAML configuration (JSON is YAML) monitoring churn 1.0; return its path."""
    config: dict[str, Any] = {
        "interval": 3600,
        "snapshot_interval": 3600,
        "min_samples": 50,
        "window_size": 1_000,
        "alerting": {"log": False},
        "models": [
            {
                "model": MODEL,
                "version": VERSION,
                "profile": str(profile),
                "prediction_columns": {"value": "churn_probability"},
            }
        ],
    }
    config.update(overrides)
    path = directory / "sidecar.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def records_body(
    n: int,
    *,
    seed: int = 1,
    shift: float = 0.0,
    start: int = 0,
    model: str = MODEL,
    version: str = VERSION,
    at: float | None = None,
) -> dict[str, Any]:
    """A protocol v1 body of ``n`` records like the reference, ``tenure`` shifted by ``shift``.

    Ids are ``id-<start + i>``; every record is stamped ``at``, or, when None,
    ``1_800_000_000 + i`` (a fixed time, so the body is reproducible).
    """
    data = reference_data(n, seed)
    timestamps = [1_800_000_000.0 + i for i in range(n)] if at is None else [at] * n
    return {
        "v": 1,
        "batches": [
            {
                "model": model,
                "version": version,
                "ids": [f"id-{start + i}" for i in range(n)],
                "timestamps": timestamps,
                "features": {
                    "tenure": (data["tenure"] + shift).tolist(),
                    "spend": data["spend"].tolist(),
                    "plan": data["plan"].tolist(),
                },
                "predictions": {"value": data["churn_probability"].tolist()},
            }
        ],
    }


def sidecar_argv(config: Path, port: int | None = None) -> list[str]:
    """``driftline sidecar --config CONFIG`` (with ``--port PORT`` when given)."""
    argv = [DRIFTLINE, "sidecar", "--config", str(config)]
    return argv if port is None else [*argv, "--port", str(port)]


def start_sidecar(
    config: Path, log_dir: Path, *, name: str = "sidecar", timeout: float = 60.0
) -> tuple[ManagedProcess, int]:
    """``driftline sidecar`` on a free port, once ``/readyz`` answers; the caller stops it."""
    return start_on_free_port(
        lambda port: sidecar_argv(config, port),
        ready_path="/readyz",
        log_path=log_dir / f"{name}.log",
        name=name,
        timeout=timeout,
    )


def wait_for_evaluation(base: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll ``GET /v1/drift/churn/1.0`` at ``base`` until it answers 200; return its document.

    AssertionError, with the last answer, when no evaluation exists after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(f"{base}/v1/drift/{MODEL}/{VERSION}")
        if response.status_code == 200:
            document: dict[str, Any] = response.json()
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"no evaluation within {timeout}s: {response.text}")
        time.sleep(0.1)
