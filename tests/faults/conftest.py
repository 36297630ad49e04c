"""Fixtures for fault tests: one reference profile per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults._sidecar import write_profile


@pytest.fixture(scope="session")
def profile_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved reference profile for churn 1.0."""
    return write_profile(tmp_path_factory.mktemp("fault-profiles") / "churn.npz")
