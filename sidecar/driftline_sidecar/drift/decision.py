"""The decision rule: Benjamini-Hochberg over one evaluation, an effect floor, and severity."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._types import FloatArray

__all__ = ["Decision", "Severity", "benjamini_hochberg", "decide"]


class Severity(enum.IntEnum):
    """How bad a column's drift is; the integer is what ``driftline_drift_severity`` exports."""

    NONE = 0
    INFO = 1
    WARNING = 2
    CRITICAL = 3

    @property
    def label(self) -> str:
        """The lower-case name used in JSON: none, info, warning or critical."""
        return self.name.lower()


def benjamini_hochberg(p_values: npt.ArrayLike) -> FloatArray:
    """Return Benjamini-Hochberg adjusted p-values (as ``scipy.stats.false_discovery_control``)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError("p_values must be one-dimensional")
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_values must be in [0, 1]")
    order = np.argsort(p)
    ranked = p[order] * (p.size / np.arange(1, p.size + 1))  # scipy's rounding
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted = np.empty_like(ranked)
    adjusted[order] = np.clip(ranked, 0.0, 1.0)
    return adjusted


@dataclass(frozen=True)
class Decision:
    """Whether one column drifted, and how badly."""

    drifted: bool
    severity: Severity


def decide(
    p_adjusted: float,
    effect: float,
    *,
    q: float,
    effect_floor: float,
    critical_effect: float,
    prediction: bool = False,
    prediction_critical: bool = True,
) -> Decision:
    """Return the decision for one tested column.

    - none: ``p_adjusted >= q`` (not significant);
    - info: significant, but ``effect < effect_floor`` (real but too small to act on);
    - warning: drifted (significant and ``effect >= effect_floor``), ``effect < critical_effect``;
    - critical: drifted with ``effect >= critical_effect``, or any drifted prediction column
      when ``prediction_critical``.
    """
    if not p_adjusted < q:
        return Decision(drifted=False, severity=Severity.NONE)
    if not effect >= effect_floor:
        return Decision(drifted=False, severity=Severity.INFO)
    if effect >= critical_effect or (prediction and prediction_critical):
        return Decision(drifted=True, severity=Severity.CRITICAL)
    return Decision(drifted=True, severity=Severity.WARNING)
