"""Turn a model's comparison into the version alerts: challenger divergence, performance."""

from __future__ import annotations

from collections import defaultdict

from driftline_sidecar.alerting import (
    CHALLENGER_DIVERGENCE,
    PERFORMANCE_DEGRADED,
    Alerter,
    divergence_condition,
    performance_condition,
)
from driftline_sidecar.alerting._conditions import Condition
from driftline_sidecar.performance import degraded
from driftline_sidecar.versions import ModelComparison
from driftline_sidecar.versions_settings import VersionsSettings

__all__ = ["observe_comparison"]


def observe_comparison(
    alerter: Alerter, comparison: ModelComparison, settings: VersionsSettings, *, now: float
) -> None:
    """Feed the alerter the version alerts that hold for every version of one model."""
    model = comparison.model
    chosen = settings.for_model(model)
    service = alerter.settings.service
    divergence: dict[str, list[Condition]] = defaultdict(list)
    for shadow in comparison.shadow:
        if shadow.pairs < settings.min_pairs:
            continue
        for output in shadow.outputs:
            condition = divergence_condition(
                model,
                shadow.champion_version,
                shadow.challenger_version,
                output.output,
                pairs=shadow.pairs,
                agreement=output.agreement,
                agreement_below=chosen.agreement_below,
                mean_abs=None if output.difference is None else output.difference.mean_abs,
                mean_abs_above=chosen.mean_abs_difference_above,
                service=service,
            )
            if condition is not None:
                divergence[shadow.challenger_version].append(condition)
    performance: dict[str, list[Condition]] = defaultdict(list)
    for entry in comparison.performance:
        if entry.reference is None or entry.performance.n < settings.min_outcomes:
            continue
        wanted = chosen.performance_metrics
        for metric, live in sorted(entry.performance.metrics.items()):
            reference = entry.reference.get(metric)
            if reference is None or (wanted is not None and metric not in wanted):
                continue
            if degraded(metric, live, reference, chosen.performance_margin):
                performance[entry.version].append(
                    performance_condition(
                        model,
                        entry.version,
                        metric,
                        live=live,
                        reference=reference,
                        margin=chosen.performance_margin,
                        outcomes=entry.performance.n,
                        service=service,
                    )
                )
    for version in comparison.versions:
        alerter.observe_conditions(
            model, version, divergence[version], scope=(CHALLENGER_DIVERGENCE,), now=now
        )
        alerter.observe_conditions(
            model, version, performance[version], scope=(PERFORMANCE_DEGRADED,), now=now
        )
