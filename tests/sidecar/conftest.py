"""Fixtures for sidecar tests: a reference profile on disk and configurations that use it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from driftline_sidecar.app import create_app
from driftline_sidecar.config import SidecarConfig, load_config
from driftline_sidecar.profile import build_profile, save_profile
from driftline_sidecar.service import SidecarService
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

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


@pytest.fixture(scope="session")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved reference profile of `reference_data` for churn 1.0."""
    path = tmp_path_factory.mktemp("profiles") / "churn.npz"
    profile = build_profile(
        reference_data(),
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
    n: int, *, seed: int = 1, shift: float = 0.0, model: str = MODEL, version: str = VERSION
) -> dict[str, Any]:
    """A protocol v1 body of ``n`` records like the reference, ``tenure`` shifted by ``shift``."""
    data = reference_data(n, seed)
    return {
        "v": 1,
        "batches": [
            {
                "model": model,
                "version": version,
                "ids": [f"id-{i}" for i in range(n)],
                "timestamps": [1_800_000_000.0 + i for i in range(n)],
                "features": {
                    "tenure": (data["tenure"] + shift).tolist(),
                    "spend": data["spend"].tolist(),
                    "plan": data["plan"].tolist(),
                },
                "predictions": {"value": data["churn_probability"].tolist()},
            }
        ],
    }


@pytest.fixture
def config(tmp_path: Path, profile_path: Path) -> SidecarConfig:
    """A configuration monitoring churn 1.0: snapshots in tmp_path/state, 1 MB bodies."""
    path = write_config(tmp_path, profile_path, state_dir="state", max_body_bytes=1_000_000)
    return load_config(path, environ={})


@pytest.fixture
def app(config: SidecarConfig) -> FastAPI:
    """The sidecar application with its own registry."""
    return create_app(config, registry=CollectorRegistry())


@contextmanager
def serving(app: FastAPI, *, lifespan: str = "on") -> Iterator[httpx.Client]:
    """Serve ``app`` with a real uvicorn server on 127.0.0.1 (a free port) in a thread."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan=lifespan, log_level="warning")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("uvicorn stopped before it started")
            thread.join(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30.0) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture
def client(app: FastAPI) -> Iterator[httpx.Client]:
    """An HTTP client of ``app`` served by uvicorn on 127.0.0.1, lifespan running."""
    with serving(app) as http:
        yield http


def service_of(app: FastAPI) -> SidecarService:
    """The service behind an application."""
    service: SidecarService = app.state.service
    return service
