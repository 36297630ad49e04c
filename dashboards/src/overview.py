"""The model service overview: traffic, errors, latency, predictions and capture health."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard, prometheus

from dashboards.src._common import (
    SELECTED,
    base_dashboard,
    model_info_row,
    model_variable,
    query,
    stat_panel,
    timeseries_panel,
    version_variable,
)

__all__ = ["UID", "build"]

UID = "driftline-overview"

_RATE = "[$__rate_interval]"
_ERRORS = ', outcome="error"'
# Capture metrics have no model label: keep the processes that serve the selected model.
_OF_MODEL = 'on (job, instance) driftline_model_info{model=~"$model"}'


def _rate(metric: str, matchers: str = "") -> str:
    """``rate()`` of ``metric`` for the selected model and versions, plus extra ``matchers``."""
    return f"rate({metric}{{{SELECTED}{matchers}}}{_RATE})"


def _process_rate(metric: str) -> str:
    """``rate()`` of a per-process capture ``metric``, kept for processes serving the model."""
    return f"rate({metric}{_RATE}) and {_OF_MODEL}"


def _latency(quantile: str, ref_id: str) -> prometheus.Dataquery:
    expr = (
        f"histogram_quantile({quantile}, sum by (le) "
        f"(rate(driftline_request_duration_seconds_bucket{{{SELECTED}}}{_RATE})))"
    )
    return query(expr, f"p{round(float(quantile) * 100)}", ref_id, exemplar=True)


def build() -> dashboard.Dashboard:
    """The ``driftline-overview`` dashboard."""
    service = (
        dashboard.Row("Service")
        .with_panel(
            timeseries_panel(
                "Request rate",
                "Decorated calls per second, by version and outcome.",
                [
                    query(
                        f"sum by (version, outcome) ({_rate('driftline_requests_total')})",
                        "{{version}} {{outcome}}",
                    )
                ],
                unit="reqps",
            )
        )
        .with_panel(
            timeseries_panel(
                "Error ratio",
                "Share of calls that raised, by version. The availability SLO allows 0.1%.",
                [
                    query(
                        "sum by (version) "
                        f"({_rate('driftline_requests_total', _ERRORS)})"
                        f" / sum by (version) ({_rate('driftline_requests_total')})",
                        "{{version}}",
                    )
                ],
                unit="percentunit",
                runbooks=("DriftlineModelErrorBudgetFastBurn", "DriftlineModelErrorBudgetSlowBurn"),
            )
        )
        .with_panel(
            timeseries_panel(
                "Latency percentiles",
                "p50, p90 and p99 of the decorated call's wall time; the dots are exemplars "
                "linking to the trace of one call. The latency SLO is 99% within 0.5 s.",
                [_latency("0.5", "A"), _latency("0.9", "B"), _latency("0.99", "C")],
                unit="s",
                runbooks=(
                    "DriftlineModelLatencyBudgetFastBurn",
                    "DriftlineModelLatencyBudgetSlowBurn",
                ),
            )
        )
        .with_panel(
            timeseries_panel(
                "In-flight requests",
                "Calls running right now, by version.",
                [
                    query(
                        f"sum by (version) (driftline_requests_in_flight{{{SELECTED}}})",
                        "{{version}}",
                    )
                ],
                unit="short",
            )
        )
    )
    slo = (
        dashboard.Row("SLO burn rates")
        .with_panel(
            timeseries_panel(
                "Availability burn rate",
                "Error ratio divided by the 0.1% error budget. Pages above 14.4 (1h) or 6 (6h).",
                [
                    query(
                        'model:driftline_requests:error_ratio_rate1h{model=~"$model"} / 0.001', "1h"
                    ),
                    query(
                        'model:driftline_requests:error_ratio_rate6h{model=~"$model"} / 0.001',
                        "6h",
                        "B",
                    ),
                ],
                unit="short",
                runbooks=("DriftlineModelErrorBudgetFastBurn",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Latency burn rate",
                "Share of calls slower than 0.5 s divided by the 1% budget. "
                "Pages above 14.4 (1h) or 6 (6h).",
                [
                    query(
                        'model:driftline_request_duration:slow_ratio_rate1h{model=~"$model"}'
                        " / 0.01",
                        "1h",
                    ),
                    query(
                        'model:driftline_request_duration:slow_ratio_rate6h{model=~"$model"}'
                        " / 0.01",
                        "6h",
                        "B",
                    ),
                ],
                unit="short",
                runbooks=("DriftlineModelLatencyBudgetFastBurn",),
            )
        )
    )
    predictions = (
        dashboard.Row("Predictions")
        .with_panel(
            timeseries_panel(
                "Prediction distribution",
                "p10, p50 and p90 of numeric predictions, by output.",
                [
                    query(
                        f"histogram_quantile({q}, sum by (output, le) "
                        f"(rate(driftline_prediction_value_bucket{{{SELECTED}}}{_RATE})))",
                        f"{{{{output}}}} p{round(q * 100)}",
                        ref_id,
                    )
                    for q, ref_id in ((0.1, "A"), (0.5, "B"), (0.9, "C"))
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Predicted classes",
                "Predicted labels per second, by output and class.",
                [
                    query(
                        f"sum by (output, class) ({_rate('driftline_predicted_class_total')})",
                        "{{output}} {{class}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Rows predicted",
                "Rows predicted per second (a batch call counts its length), by version.",
                [
                    query(
                        f"sum by (version) ({_rate('driftline_prediction_rows_total')})",
                        "{{version}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
    )
    capture = (
        dashboard.Row("Capture")
        .with_panel(
            timeseries_panel(
                "Capture records",
                "Records per second accepted into the capture queue, acknowledged by the "
                "sidecar, and dropped by reason, in the processes serving the model.",
                [
                    query(
                        f"sum({_process_rate('driftline_capture_records_enqueued_total')})",
                        "enqueued",
                    ),
                    query(
                        f"sum({_process_rate('driftline_capture_records_sent_total')})",
                        "sent",
                        "B",
                    ),
                    query(
                        "sum by (reason) "
                        f"({_process_rate('driftline_capture_records_dropped_total')})",
                        "dropped {{reason}}",
                        "C",
                    ),
                ],
                unit="short",
                width=8,
                runbooks=("DriftlineCaptureRecordsDropped",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Capture queue fill",
                "Records waiting in the capture queue over its capacity, per process.",
                [
                    query(
                        "(driftline_capture_queue_size / driftline_capture_queue_capacity) "
                        f"and {_OF_MODEL}",
                        "{{instance}}",
                    )
                ],
                unit="percentunit",
                width=8,
                runbooks=("DriftlineCaptureQueueSaturated",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Capture send outcomes",
                "POSTs to the sidecar per second, by outcome.",
                [
                    query(
                        "sum by (outcome) "
                        f"({_process_rate('driftline_capture_send_duration_seconds_count')})",
                        "{{outcome}}",
                    )
                ],
                unit="reqps",
                width=8,
            )
        )
        .with_panel(
            timeseries_panel(
                "Records received by the sidecar",
                "Records of the model the sidecar accepted per second, by version.",
                [
                    query(
                        "sum by (version) "
                        f"(rate(driftline_sidecar_records_received_total{{{SELECTED}}}{_RATE}))",
                        "{{version}}",
                    )
                ],
                unit="short",
                width=8,
                runbooks=("DriftlineSidecarNotReceiving",),
            )
        )
        .with_panel(
            timeseries_panel(
                "Telemetry errors",
                "Problems inside driftline's own telemetry per second, by signal; never raised "
                "into model code.",
                [
                    query(
                        f"sum by (signal) ({_process_rate('driftline_telemetry_errors_total')})",
                        "{{signal}}",
                    )
                ],
                unit="short",
                width=8,
            )
        )
        .with_panel(
            stat_panel(
                "Sidecar up",
                "1 when Prometheus can scrape the sidecar.",
                'up{job="driftline-sidecar"}',
                "{{instance}}",
                unit="none",
                width=8,
            )
        )
    )
    info = model_info_row("What the service declares about each version (driftline_model_info).")
    return (
        base_dashboard(
            UID,
            "Driftline model overview",
            "Is the model service healthy? Traffic, errors, latency, predictions and capture.",
        )
        .with_variable(model_variable("driftline_requests_total"))
        .with_variable(
            version_variable('label_values(driftline_requests_total{model=~"$model"}, version)')
        )
        .with_row(service)
        .with_row(slo)
        .with_row(predictions)
        .with_row(capture)
        .with_row(info)
    )
