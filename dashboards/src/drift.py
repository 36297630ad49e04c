"""The drift dashboard: per feature effect size, p-values and flags; data quality; predictions."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, statetimeline
from grafana_foundation_sdk.models.dashboard import (
    ValueMap,
    ValueMappingResult,
)

from dashboards.src._common import (
    DATASOURCE,
    SELECTED,
    base_dashboard,
    feature_variable,
    model_variable,
    query,
    runbook_link,
    stat_panel,
    table_panel,
    timeseries_panel,
    version_variable,
)

__all__ = ["UID", "build"]

UID = "driftline-drift"

_FEATURES = f'{SELECTED}, feature=~"$feature", kind="feature"'
_PREDICTIONS = f'{SELECTED}, kind="prediction"'

_SEVERITY_NAMES = {"0": ("none", "green"), "1": ("info", "blue"), "2": ("warning", "orange")}
_SEVERITY_NAMES["3"] = ("critical", "red")


def _flags(title: str, description: str, expr: str, *, severity: bool) -> statetimeline.Panel:
    if severity:
        options = {
            value: ValueMappingResult(text=text, color=color, index=int(value))
            for value, (text, color) in _SEVERITY_NAMES.items()
        }
    else:
        options = {
            "0": ValueMappingResult(text="no drift", color="green", index=0),
            "1": ValueMappingResult(text="drifted", color="red", index=1),
        }
    return (
        statetimeline.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, "{{version}} {{feature}}"))
        .mappings([ValueMap(options=options)])
        .span(12)
        .height(8)
        .links([runbook_link("DriftlineFeatureDrift")])
    )


def build() -> dashboard.Dashboard:
    """The ``driftline-drift`` dashboard."""
    state = (
        dashboard.Row("Evaluation")
        .with_panel(
            stat_panel(
                "Drifted features",
                "Features flagged in the latest evaluation, by version.",
                f"driftline_drifted_features{{{SELECTED}}}",
                "{{version}}",
                unit="none",
            )
        )
        .with_panel(
            stat_panel(
                "Reference loaded",
                "1 when the version has a reference profile; 0 means records arrive without one.",
                f"driftline_reference_loaded{{{SELECTED}}}",
                "{{version}}",
                unit="none",
            ).links([runbook_link("DriftlineMissingReference")])
        )
        .with_panel(
            timeseries_panel(
                "Window records",
                "Records in the current window, by version: the sample size of each evaluation.",
                [query(f"driftline_window_records{{{SELECTED}}}", "{{version}}")],
                unit="short",
                width=6,
            )
        )
        .with_panel(
            timeseries_panel(
                "Time since last evaluation",
                "Seconds since the sidecar last evaluated the version.",
                [
                    query(
                        f"time() - driftline_last_evaluation_timestamp_seconds{{{SELECTED}}}",
                        "{{version}}",
                    )
                ],
                unit="s",
                width=6,
                runbooks=("DriftlineSidecarEvaluationLate",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Evaluation duration",
                "p90 of the time one evaluation took.",
                [
                    query(
                        "histogram_quantile(0.9, sum by (version, le) "
                        f"(rate(driftline_evaluation_duration_seconds_bucket{{{SELECTED}}}[$__rate_interval])))",
                        "{{version}}",
                    )
                ],
                unit="s",
            )
        )
        .with_panel(
            table_panel(
                "Reference profiles",
                "The reference profile in use by each version (driftline_reference_info).",
                f"driftline_reference_info{{{SELECTED}}}",
                width=12,
            )
        )
    )
    features = (
        dashboard.Row("Features")
        .with_panel(
            timeseries_panel(
                "Effect size",
                "Effect size of each feature against its reference (PSI, Wasserstein or "
                "Jensen-Shannon, by method).",
                [
                    query(
                        f"driftline_drift_effect_size{{{_FEATURES}}}",
                        "{{version}} {{feature}} {{method}}",
                    )
                ],
                unit="short",
                runbooks=("DriftlineFeatureDrift",),
            )
        )
        .with_panel(
            timeseries_panel(
                "P-values",
                "Raw p-value of each feature's test and the Benjamini-Hochberg adjusted one.",
                [
                    query(
                        f"driftline_drift_p_value{{{_FEATURES}}}",
                        "{{version}} {{feature}} {{method}} raw",
                    ),
                    query(
                        f"driftline_drift_p_value_adjusted{{{_FEATURES}}}",
                        "{{version}} {{feature}} {{method}} adjusted",
                        "B",
                    ),
                ],
                unit="short",
            )
        )
        .with_panel(
            _flags(
                "Drift flags",
                "1 when the feature drifted under the decision rule.",
                f"driftline_drift_detected{{{_FEATURES}}}",
                severity=False,
            )
        )
        .with_panel(
            _flags(
                "Drift severity",
                "Severity of each feature's drift: none, info, warning, critical.",
                f"driftline_drift_severity{{{_FEATURES}}}",
                severity=True,
            )
        )
        .with_panel(
            timeseries_panel(
                "Test statistic",
                "The test statistic of the latest evaluation (KS, chi-squared, by method).",
                [
                    query(
                        f"driftline_drift_statistic{{{_FEATURES}}}",
                        "{{version}} {{feature}} {{method}}",
                    )
                ],
                unit="short",
            )
        )
        .with_panel(
            timeseries_panel(
                "Number of drifted features",
                "Features flagged in each evaluation over time, by version.",
                [query(f"driftline_drifted_features{{{SELECTED}}}", "{{version}}")],
                unit="short",
            )
        )
    )
    quality = dashboard.Row("Data quality").with_panel(
        timeseries_panel(
            "Data quality",
            "Share of the window failing each check: missing, non_finite, out_of_range, "
            "unseen_category.",
            [
                query(
                    f'driftline_data_quality_ratio{{{SELECTED}, feature=~"$feature"}}',
                    "{{version}} {{feature}} {{check}}",
                )
            ],
            unit="percentunit",
            width=24,
            runbooks=("DriftlineDataQuality",),
        )
    )
    predictions = (
        dashboard.Row("Predictions")
        .with_panel(
            timeseries_panel(
                "Prediction drift",
                "Effect size of each model output against its reference.",
                [
                    query(
                        f"driftline_drift_effect_size{{{_PREDICTIONS}}}",
                        "{{version}} {{feature}} {{method}}",
                    )
                ],
                unit="short",
                runbooks=("DriftlinePredictionDrift",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Prediction drift flags",
                "1 when a model output drifted under the decision rule.",
                [
                    query(
                        f"driftline_drift_detected{{{_PREDICTIONS}}}",
                        "{{version}} {{feature}}",
                    )
                ],
                unit="short",
                runbooks=("DriftlinePredictionDrift",),
            )
        )
    )
    return (
        base_dashboard(
            UID,
            "Driftline drift",
            "Do the model's inputs and outputs still look like its reference profile?",
        )
        .with_variable(model_variable("driftline_drift_detected"))
        .with_variable(
            version_variable('label_values(driftline_drift_detected{model=~"$model"}, version)')
        )
        .with_variable(feature_variable(SELECTED))
        .with_row(state)
        .with_row(features)
        .with_row(quality)
        .with_row(predictions)
    )
