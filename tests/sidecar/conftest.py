"""Fixtures for sidecar tests: a reference profile on disk, configurations that use it, serving.

The churn 1.0 data, profile and config helpers come from ``tests.support.sidecar``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from driftline_sidecar.app import create_app
from driftline_sidecar.config import SidecarConfig, load_config
from driftline_sidecar.service import SidecarService
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from tests.support.sidecar import (
    MODEL,
    VERSION,
    records_body,
    reference_data,
    write_config,
    write_profile,
)

__all__ = [
    "MODEL",
    "VERSION",
    "records_body",
    "reference_data",
    "service_of",
    "serving",
    "write_config",
]


@pytest.fixture(scope="session")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved reference profile of `reference_data` for churn 1.0."""
    return write_profile(tmp_path_factory.mktemp("profiles") / "churn.npz")


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
