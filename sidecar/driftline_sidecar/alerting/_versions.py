"""Conditions of the version alerts: a diverging challenger, performance below reference."""

from __future__ import annotations

from typing import Final

from driftline_sidecar.alerting._conditions import Condition, _condition

__all__ = [
    "CHALLENGER_DIVERGENCE",
    "PERFORMANCE_DEGRADED",
    "VERSION_ALERT_NAMES",
    "divergence_condition",
    "performance_condition",
]

CHALLENGER_DIVERGENCE: Final = "DriftlineChallengerDivergence"
PERFORMANCE_DEGRADED: Final = "DriftlinePerformanceDegraded"
VERSION_ALERT_NAMES: Final = (CHALLENGER_DIVERGENCE, PERFORMANCE_DEGRADED)


def divergence_condition(
    model: str,
    champion_version: str,
    challenger_version: str,
    output: str,
    *,
    pairs: int,
    agreement: float | None,
    agreement_below: float | None,
    mean_abs: float | None,
    mean_abs_above: float | None,
    service: str,
) -> Condition | None:
    """The divergence alert of one output of a shadow pair, None when it does not hold.

    Holds when the agreement is below ``agreement_below`` or the mean absolute paired
    difference is above ``mean_abs_above`` (each check only when both numbers are set).
    """
    problems = []
    if agreement is not None and agreement_below is not None and agreement < agreement_below:
        problems.append(f"agreement {agreement:.1%} (threshold {agreement_below:.1%})")
    if mean_abs is not None and mean_abs_above is not None and mean_abs > mean_abs_above:
        problems.append(f"mean absolute difference {mean_abs:.4g} (threshold {mean_abs_above:.4g})")
    if not problems:
        return None
    base = {
        "model": model,
        "version": challenger_version,
        "champion_version": champion_version,
        "output": output,
        "service": service,
    }
    return _condition(
        CHALLENGER_DIVERGENCE,
        "warning",
        base,
        summary=(
            f"Challenger {challenger_version} of model {model} diverges from champion "
            f"{champion_version} on output {output}"
        ),
        description=f"{'; '.join(problems)} over {pairs} shadow pairs.",
        dashboard_uid="driftline-versions",
    )


def performance_condition(
    model: str,
    version: str,
    metric: str,
    *,
    live: float,
    reference: float,
    margin: float,
    outcomes: int,
    service: str,
) -> Condition:
    """The performance alert of one metric of a model version (the caller checked it holds)."""
    base = {"model": model, "version": version, "metric": metric, "service": service}
    return _condition(
        PERFORMANCE_DEGRADED,
        "warning",
        base,
        summary=(f"{metric} of model {model} version {version} is below its reference performance"),
        description=(
            f"{metric} {live:.4g} over the last {outcomes} joined outcomes against "
            f"{reference:.4g} on the reference data (margin {margin:.0%})."
        ),
        dashboard_uid="driftline-versions",
    )
