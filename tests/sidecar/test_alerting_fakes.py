"""Evaluation-shaped frozen dataclasses for the alerting tests (no tests in this module).

Stand-ins for ``driftline_sidecar.drift.engine`` results until that module lands;
they carry exactly the fields alerting reads (``driftline_sidecar.alerting.ColumnLike``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

NOW = 1_795_766_400.0


@dataclass(frozen=True)
class FakeColumn:
    """One column's drift result, drifted or not, with its data-quality ratios."""

    name: str
    role: str = "feature"
    kind: str = "numeric"
    test: str = "ks"
    statistic: float = 0.25
    p_value: float = 1e-6
    p_adjusted: float = 3e-6
    effect_method: str = "psi"
    effect_size: float = 0.31
    drifted: bool = False
    severity: str = "none"
    n_window: int = 1000
    n_reference: int = 5000
    quality: Mapping[str, float] = field(
        default_factory=lambda: {
            "missing": 0.0,
            "non_finite": 0.0,
            "out_of_range": 0.0,
            "unseen_category": 0.0,
        }
    )


@dataclass(frozen=True)
class FakeEvaluation:
    """An evaluation: its columns by name and the window size."""

    columns: Mapping[str, FakeColumn]
    n_window: int = 1000


def evaluation(*columns: FakeColumn) -> FakeEvaluation:
    """Return an evaluation holding ``columns``."""
    return FakeEvaluation({c.name: c for c in columns})


def drifted(name: str, severity: str = "warning", role: str = "feature") -> FakeColumn:
    """Return a column the engine flagged as drifted with ``severity``."""
    return FakeColumn(name, role=role, drifted=True, severity=severity)


def quiet(name: str, role: str = "feature") -> FakeColumn:
    """Return a column with no drift and clean data."""
    return FakeColumn(name, role=role)


def with_quality(name: str, **ratios: float) -> FakeColumn:
    """Return an undrifted column whose data-quality ratios are overridden by ``ratios``."""
    quality = {"missing": 0.0, "non_finite": 0.0, "out_of_range": 0.0, "unseen_category": 0.0}
    quality.update(ratios)
    return FakeColumn(name, quality=quality)
