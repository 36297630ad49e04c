"""Fixtures for the demo tests: the flight data is read once per session (about a second)."""

from __future__ import annotations

from typing import Any

import pytest
from driftline_sidecar.demo.data import load_flights, split_months


@pytest.fixture(scope="session")
def flights() -> Any:
    """The joined flights and weather of 2013."""
    return load_flights()


@pytest.fixture(scope="session")
def january(flights: Any) -> Any:
    """The training month."""
    return split_months(flights).train


@pytest.fixture(scope="session")
def february(flights: Any) -> Any:
    """The first replayed month, close to the training month."""
    return flights[flights["month"] == 2].reset_index(drop=True)


@pytest.fixture(scope="session")
def july(flights: Any) -> Any:
    """A summer month, far from the training month."""
    return flights[flights["month"] == 7].reset_index(drop=True)
