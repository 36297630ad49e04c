"""The shapes every drift method shares: its result, its histograms and its registry entry."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import numpy.typing as npt

Kind = Literal["numeric", "categorical"]
Purpose = Literal["test", "effect"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
State = TypeVar("State")


def json_float(value: float | None) -> float | None:
    """Return ``value`` as a JSON-safe float: None for None, NaN and infinities."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Histogram:
    """Proportions over numeric bins (``edges``) or over ``categories``, for plotting."""

    proportions: tuple[float, ...]
    edges: tuple[float, ...] | None = None
    categories: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict; the open outer edges (-inf, +inf) become None."""
        out: dict[str, Any] = {"proportions": [json_float(p) for p in self.proportions]}
        if self.edges is not None:
            out["edges"] = [json_float(e) for e in self.edges]
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out


@dataclass(frozen=True)
class MethodResult:
    """What one method says about one window: its statistic, p-value (tests only) and extras."""

    statistic: float
    p_value: float | None = None
    reference_hist: Histogram | None = None
    window_hist: Histogram | None = None
    unseen: tuple[str, ...] = ()


@dataclass(frozen=True)
class Method(Generic[State]):
    """A registered drift method: ``fit`` once per reference column, ``score`` per window."""

    name: str
    kinds: frozenset[Kind]
    purpose: Purpose
    fit: Callable[[Any], State]
    score: Callable[[State, Any], MethodResult]
