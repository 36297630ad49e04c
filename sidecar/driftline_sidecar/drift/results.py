"""What one evaluation found: a result per column and the totals, JSON-able."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._types import Histogram, Kind, json_float
from .decision import Severity

__all__ = ["ColumnResult", "ColumnStatus", "Evaluation"]

ColumnStatus = Literal["tested", "absent", "too_few_samples", "no_reference", "disabled"]
"""``tested``; ``absent`` (no such column in the window); ``too_few_samples`` (fewer usable
values than ``min_samples``); ``no_reference`` (the profile has no values for it);
``disabled`` (turned off in the settings)."""


@dataclass(frozen=True)
class ColumnResult:
    """One column's test, effect size, decision, data quality and histograms."""

    name: str
    role: Literal["feature", "prediction"]
    kind: Kind
    status: ColumnStatus
    test: str
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None
    effect_method: str
    effect_size: float | None
    drifted: bool
    severity: Severity
    n_window: int
    n_reference: int
    quality: Mapping[str, float]
    reference_hist: Histogram | None
    window_hist: Histogram | None
    unseen_categories: tuple[str, ...] = ()

    @property
    def tested(self) -> bool:
        """Whether the column was tested in this evaluation."""
        return self.status == "tested"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict (None where a number is missing or not finite)."""
        return {
            "name": self.name,
            "role": self.role,
            "kind": self.kind,
            "status": self.status,
            "test": self.test,
            "statistic": json_float(self.statistic),
            "p_value": json_float(self.p_value),
            "p_adjusted": json_float(self.p_adjusted),
            "effect_method": self.effect_method,
            "effect_size": json_float(self.effect_size),
            "drifted": self.drifted,
            "severity": self.severity.label,
            "n_window": self.n_window,
            "n_reference": self.n_reference,
            "quality": {k: json_float(v) for k, v in self.quality.items()},
            "reference_hist": _hist(self.reference_hist),
            "window_hist": _hist(self.window_hist),
            "unseen_categories": list(self.unseen_categories),
        }


@dataclass(frozen=True)
class Evaluation:
    """The drift evaluation of one window of one model version against its reference profile."""

    model: str
    version: str
    profile_id: str
    evaluated_at: float
    q: float
    columns: tuple[ColumnResult, ...]
    n_window: int
    duration_s: float

    @property
    def drifted_count(self) -> int:
        """How many columns drifted under the decision rule."""
        return sum(1 for c in self.columns if c.drifted)

    @property
    def severity(self) -> Severity:
        """The worst severity over all columns."""
        return max((c.severity for c in self.columns), default=Severity.NONE)

    def column(self, name: str) -> ColumnResult:
        """Return the result of column ``name``; raise KeyError naming it when there is none."""
        for result in self.columns:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able dict: no NaN or infinity, severities as labels."""
        return {
            "model": self.model,
            "version": self.version,
            "profile_id": self.profile_id,
            "evaluated_at": self.evaluated_at,
            "q": self.q,
            "n_window": self.n_window,
            "drifted_count": self.drifted_count,
            "severity": self.severity.label,
            "duration_s": self.duration_s,
            "columns": [c.to_dict() for c in self.columns],
        }


def _hist(histogram: Histogram | None) -> dict[str, Any] | None:
    return None if histogram is None else histogram.to_dict()
