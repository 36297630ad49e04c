"""The versions dashboard: the versions of one model side by side."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src._common import base_dashboard, query, table_panel, timeseries_panel, variable

__all__ = ["UID", "build"]

UID = "driftline-versions"

_SEL = 'model=~"$model", version=~"$version"'
_RATE = "[$__rate_interval]"


def _by_version(metric: str) -> str:
    return f"sum by (version) (rate({metric}{{{_SEL}}}{_RATE}))"


def build() -> dashboard.Dashboard:
    """The ``driftline-versions`` dashboard."""
    traffic = (
        dashboard.Row("Traffic and errors")
        .with_panel(
            timeseries_panel(
                "Request rate by version",
                "Decorated calls per second: how traffic is split between versions.",
                [query(_by_version("driftline_requests_total"), "{{version}}")],
                unit="reqps",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Error ratio by version",
                "Share of calls that raised, per version.",
                [
                    query(
                        "sum by (version) (rate(driftline_requests_total"
                        f'{{{_SEL}, outcome="error"}}{_RATE}))'
                        f" / {_by_version('driftline_requests_total')}",
                        "{{version}}",
                    )
                ],
                unit="percentunit",
                width=8,
                runbooks=("DriftlineModelErrorBudgetFastBurn",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Rows predicted by version",
                "Rows predicted per second, per version.",
                [query(_by_version("driftline_prediction_rows_total"), "{{version}}")],
                unit="short",
                width=8,
            )
        )
    )
    latency = (
        dashboard.Row("Latency")
        .with_panel(
            timeseries_panel(
                "p50 latency by version",
                "Median wall time of a call, per version.",
                [
                    query(
                        "histogram_quantile(0.5, sum by (version, le) "
                        f"(rate(driftline_request_duration_seconds_bucket{{{_SEL}}}{_RATE})))",
                        "{{version}}",
                        exemplar=True,
                    )
                ],
                unit="s",
            )
        )
        .with_panel(
            timeseries_panel(
                "p99 latency by version",
                "99th percentile wall time of a call, per version; dots are exemplar traces.",
                [
                    query(
                        "histogram_quantile(0.99, sum by (version, le) "
                        f"(rate(driftline_request_duration_seconds_bucket{{{_SEL}}}{_RATE})))",
                        "{{version}}",
                        exemplar=True,
                    )
                ],
                unit="s",
                runbooks=("DriftlineModelLatencyBudgetFastBurn",),
            )
        )
    )
    predictions = (
        dashboard.Row("Predictions")
        .with_panel(
            timeseries_panel(
                "Mean prediction by version",
                "Mean of numeric predictions, per version and output.",
                [
                    query(
                        "sum by (version, output) "
                        f"(rate(driftline_prediction_value_sum{{{_SEL}}}{_RATE}))"
                        " / sum by (version, output) "
                        f"(rate(driftline_prediction_value_count{{{_SEL}}}{_RATE}))",
                        "{{version}} {{output}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Median prediction by version",
                "Median of numeric predictions, per version and output.",
                [
                    query(
                        "histogram_quantile(0.5, sum by (version, output, le) "
                        f"(rate(driftline_prediction_value_bucket{{{_SEL}}}{_RATE})))",
                        "{{version}} {{output}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Predicted class share by version",
                "Share of each predicted class among a version's predictions of that output.",
                [
                    query(
                        "sum by (version, output, class) "
                        f"(rate(driftline_predicted_class_total{{{_SEL}}}{_RATE}))"
                        " / on (version, output) group_left () sum by (version, output) "
                        f"(rate(driftline_predicted_class_total{{{_SEL}}}{_RATE}))",
                        "{{version}} {{output}}={{class}}",
                    )
                ],
                unit="percentunit",
                width=8,
            )
        )
    )
    drift = (
        dashboard.Row("Drift")
        .with_panel(
            timeseries_panel(
                "Drifted features by version",
                "Features flagged in the latest evaluation, per version.",
                [query(f"driftline_drifted_features{{{_SEL}}}", "{{version}}")],
                unit="short",
                width=8,
                runbooks=("DriftlineFeatureDrift",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Feature effect size by version",
                "Effect size of the selected features, per version.",
                [
                    query(
                        "max by (version, feature) (driftline_drift_effect_size"
                        f'{{{_SEL}, feature=~"$feature", kind="feature"}})',
                        "{{version}} {{feature}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Prediction drift by version",
                "Largest effect size of each model output against its reference, per version.",
                [
                    query(
                        "max by (version, feature) "
                        f'(driftline_drift_effect_size{{{_SEL}, kind="prediction"}})',
                        "{{version}} {{feature}}",
                    )
                ],
                unit="short",
                width=8,
                runbooks=("DriftlinePredictionDrift",),
            )
        )
    )
    info = dashboard.Row("Provenance").with_panel(
        table_panel(
            "Model info",
            "What each version declares: commit, training data, framework (driftline_model_info).",
            f"driftline_model_info{{{_SEL}}}",
        )
    )
    return (
        base_dashboard(
            UID,
            "Driftline model versions",
            "How do the versions of one model compare: traffic, errors, latency, "
            "predictions and drift?",
        )
        .with_variable(
            variable(
                "model",
                "Model",
                "label_values(driftline_requests_total, model)",
                multi=False,
                include_all=False,
            )
        )
        .with_variable(
            variable(
                "version",
                "Version",
                'label_values(driftline_requests_total{model=~"$model"}, version)',
                multi=True,
                include_all=True,
            )
        )
        .with_variable(
            variable(
                "feature",
                "Feature",
                'label_values(driftline_drift_detected{model=~"$model", kind="feature"}, feature)',
                multi=True,
                include_all=True,
            )
        )
        .with_row(traffic)
        .with_row(latency)
        .with_row(predictions)
        .with_row(drift)
        .with_row(info)
    )
