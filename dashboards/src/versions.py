"""The versions dashboard: the versions of one model side by side."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard

from dashboards.src._common import (
    DATASOURCE,
    SELECTED,
    base_dashboard,
    feature_variable,
    model_info_row,
    model_variable,
    query,
    timeseries_panel,
    version_variable,
)

__all__ = ["UID", "build"]

UID = "driftline-versions"

_RATE = "[$__rate_interval]"


def _by_version(metric: str) -> str:
    return f"sum by (version) (rate({metric}{{{SELECTED}}}{_RATE}))"


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
                        f'{{{SELECTED}, outcome="error"}}{_RATE}))'
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
                        f"(rate(driftline_request_duration_seconds_bucket{{{SELECTED}}}{_RATE})))",
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
                        f"(rate(driftline_request_duration_seconds_bucket{{{SELECTED}}}{_RATE})))",
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
                        f"(rate(driftline_prediction_value_sum{{{SELECTED}}}{_RATE}))"
                        " / sum by (version, output) "
                        f"(rate(driftline_prediction_value_count{{{SELECTED}}}{_RATE}))",
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
                        f"(rate(driftline_prediction_value_bucket{{{SELECTED}}}{_RATE})))",
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
                        f"(rate(driftline_predicted_class_total{{{SELECTED}}}{_RATE}))"
                        " / on (version, output) group_left () sum by (version, output) "
                        f"(rate(driftline_predicted_class_total{{{SELECTED}}}{_RATE}))",
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
                [query(f"driftline_drifted_features{{{SELECTED}}}", "{{version}}")],
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
                        f'{{{SELECTED}, feature=~"$feature", kind="feature"}})',
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
                        f'(driftline_drift_effect_size{{{SELECTED}, kind="prediction"}})',
                        "{{version}} {{feature}}",
                    )
                ],
                unit="short",
                width=8,
                runbooks=("DriftlinePredictionDrift",),
            )
        )
    )
    shadow_sel = 'model=~"$model", challenger_version=~"$version"'
    shadow_legend = "{{champion_version}} vs {{challenger_version}} {{output}}"
    comparison = (
        dashboard.Row("Version comparison")
        .with_panel(
            timeseries_panel(
                "Shadow agreement",
                "Share of shadow pairs where champion and challenger give the same label "
                "(scores thresholded for classification models).",
                [query(f"driftline_shadow_agreement_ratio{{{shadow_sel}}}", shadow_legend)],
                unit="percentunit",
                width=8,
                runbooks=("DriftlineChallengerDivergence",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Paired differences",
                "Challenger minus champion on the same requests: mean, mean absolute, "
                "5th and 95th percentiles.",
                [
                    query(
                        f"driftline_shadow_difference{{{shadow_sel}, "
                        'statistic=~"mean|mean_abs|p05|p95"}',
                        shadow_legend + " {{statistic}}",
                    )
                ],
                unit="short",
                width=8,
                runbooks=("DriftlineChallengerDivergence",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Prediction drift between versions",
                "Effect size of version b's predictions against version a's: shadow pairs "
                "(same requests) or each version's recent records (canary).",
                [
                    query(
                        "driftline_version_prediction_drift_effect_size"
                        '{model=~"$model", version_b=~"$version"}',
                        "{{version_a}} → {{version_b}} {{output}} {{method}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
    )
    performance = (
        dashboard.Row("Performance")
        .with_panel(
            timeseries_panel(
                "Performance by version",
                "Metrics over each version's last joined outcomes, and on its reference data.",
                [
                    query(f"driftline_model_performance{{{SELECTED}}}", "{{version}} {{metric}}"),
                    query(
                        f"driftline_model_performance_reference{{{SELECTED}}}",
                        "{{version}} {{metric}} (reference)",
                        "B",
                    ),
                ],
                unit="short",
                width=12,
                runbooks=("DriftlinePerformanceDegraded",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Outcomes joined",
                "Outcomes received per second by join status (all models), and the outcomes "
                "in each version's performance window.",
                [
                    query(f"sum by (status) (rate(driftline_outcomes_total{_RATE}))", "{{status}}"),
                    query(
                        f"driftline_model_performance_outcomes{{{SELECTED}}}",
                        "{{version}} in window",
                        "B",
                    ),
                ],
                unit="short",
                width=12,
            )
        )
    )
    info = model_info_row(
        "What each version declares: commit, training data, framework (driftline_model_info)."
    )
    return (
        base_dashboard(
            UID,
            "Driftline model versions",
            "How do the versions of one model compare: traffic, errors, latency, "
            "predictions and drift?",
        )
        .with_variable(model_variable("driftline_requests_total"))
        .with_variable(
            version_variable(
                # Champions and canaries serve calls; a shadow challenger only shows up
                # as the challenger_version of its champion's shadow calls.
                "query_result(group by (version) "
                '(driftline_requests_total{model=~"$model"}) or group by (version) '
                '(label_replace(driftline_shadow_calls_total{model=~"$model"}, '
                '"version", "$1", "challenger_version", "(.+)")))',
                regex='/version="([^"]+)"/',
            )
        )
        .with_variable(feature_variable('model=~"$model"'))
        .with_row(traffic)
        .with_row(latency)
        .with_row(predictions)
        .with_row(drift)
        .with_row(comparison)
        .with_row(performance)
        .with_row(info)
        .annotation(
            dashboard.AnnotationQuery()
            .name("Deployments")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("blue")
            # Present during the first two minutes after a version first served (any replica).
            .expr(
                "min by (model, version) (driftline_model_start_time_seconds"
                '{model=~"$model", version=~"$version"}) > time() - 120'
            )
        )
    )
