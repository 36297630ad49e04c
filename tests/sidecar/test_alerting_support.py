"""Builders of real drift-engine results for the alerting tests (no tests in this module).

They construct ``driftline_sidecar.drift`` ``ColumnResult`` and ``Evaluation`` objects with
chosen numbers, so each test states exactly the decision it feeds to alerting.
"""

from __future__ import annotations

from collections.abc import Mapping

from driftline_sidecar.drift import ColumnResult, Evaluation, Severity

NOW = 1_795_766_400.0
_CLEAN = {"missing": 0.0, "non_finite": 0.0, "out_of_range": 0.0, "unseen_category": 0.0}


def column(
    name: str,
    *,
    role: str = "feature",
    drifted: bool = False,
    severity: str = "none",
    test: str = "ks",
    statistic: float | None = 0.25,
    p_value: float | None = 1e-6,
    p_adjusted: float | None = 3e-6,
    effect_method: str = "psi",
    effect_size: float | None = 0.31,
    n_window: int = 1000,
    n_reference: int = 5000,
    quality: Mapping[str, float] | None = None,
) -> ColumnResult:
    """Return one tested numeric column's result; ``quality`` overrides the clean ratios."""
    return ColumnResult(
        name=name,
        role="prediction" if role == "prediction" else "feature",
        kind="numeric",
        status="tested",
        test=test,
        statistic=statistic,
        p_value=p_value,
        p_adjusted=p_adjusted,
        effect_method=effect_method,
        effect_size=effect_size,
        drifted=drifted,
        severity=Severity[severity.upper()],
        n_window=n_window,
        n_reference=n_reference,
        quality={**_CLEAN, **(quality or {})},
        reference_hist=None,
        window_hist=None,
    )


def evaluation(*columns: ColumnResult, model: str = "churn", version: str = "2") -> Evaluation:
    """Return an evaluation holding ``columns``."""
    return Evaluation(
        model=model,
        version=version,
        profile_id="p-test",
        evaluated_at=NOW,
        q=0.05,
        columns=tuple(columns),
        n_window=max((c.n_window for c in columns), default=0),
        duration_s=0.01,
    )


def drifted(name: str, severity: str = "warning", role: str = "feature") -> ColumnResult:
    """Return a column the engine flagged as drifted with ``severity``."""
    return column(name, role=role, drifted=True, severity=severity)


def quiet(name: str, role: str = "feature") -> ColumnResult:
    """Return a column with no drift and clean data."""
    return column(name, role=role, p_adjusted=0.6, effect_size=0.01)


def with_quality(name: str, **ratios: float) -> ColumnResult:
    """Return an undrifted column whose data-quality ratios are overridden by ``ratios``."""
    return column(name, p_adjusted=0.6, effect_size=0.01, quality=ratios)
