"""Fixtures for hostile-input and security tests: a sidecar served by real uvicorn on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.config import load_config
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from tests.sidecar.conftest import MODEL, VERSION, serving, write_config
from tests.support.sidecar import write_profile

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="session")
def hostile_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved reference profile for churn 1.0: tenure and spend numeric, plan categorical."""
    return write_profile(tmp_path_factory.mktemp("hostile-profiles") / "churn.npz")


def make_app(tmp_path: Path, profile: Path, **overrides: Any) -> FastAPI:
    """The sidecar application for churn 1.0 with configuration ``overrides``, own registry."""
    path = write_config(tmp_path, profile, **overrides)
    return create_app(load_config(path, environ={}), registry=CollectorRegistry())


@pytest.fixture
def hostile_app(tmp_path: Path, hostile_profile: Path) -> FastAPI:
    """The sidecar with small limits, so that breaking them needs only small bodies."""
    return make_app(
        tmp_path,
        hostile_profile,
        max_body_bytes=2_000_000,
        limits={
            "max_batches": 4,
            "max_records": 1_000,
            "max_features": 16,
            "max_model_versions": 3,
            "max_window_features": 8,
        },
    )


@pytest.fixture
def http(hostile_app: FastAPI) -> Iterator[httpx.Client]:
    """An HTTP client of ``hostile_app`` served by uvicorn on 127.0.0.1."""
    with serving(hostile_app) as client:
        yield client


def batch(n: int = 1, **fields: Any) -> dict[str, Any]:
    """One valid churn 1.0 batch of ``n`` records, with ``fields`` replaced."""
    body: dict[str, Any] = {
        "model": MODEL,
        "version": VERSION,
        "ids": [f"id-{i}" for i in range(n)],
        "timestamps": [1_800_000_000.0 + i for i in range(n)],
        "features": {"tenure": [12.0] * n, "spend": [40.0] * n, "plan": ["pro"] * n},
        "predictions": {"value": [0.5] * n},
    }
    body.update(fields)
    return body
