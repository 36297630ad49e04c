"""Shared fixtures: driftline's process-wide state is reset around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from driftline import _logging, _runtime


@pytest.fixture(autouse=True)
def _reset_driftline() -> Iterator[None]:
    """Start each test with no driftline runtime or remembered warnings; close what it built."""
    previous = _runtime.install(None)
    _logging._last_warning.clear()
    try:
        yield
    finally:
        runtime = _runtime.install(previous)
        if runtime is not None and runtime is not previous:
            runtime.close(0.5)
        _logging._last_warning.clear()
