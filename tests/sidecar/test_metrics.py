"""The sidecar's /metrics: the documented names and labels, valid for promtool, no stale series."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest
from driftline_sidecar.metrics import ColumnState, ModelState, SidecarMetrics
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from .conftest import MODEL, VERSION, records_body, service_of

JSON = {"content-type": "application/json"}


def _evaluated(app: FastAPI, client: httpx.Client) -> None:
    client.post("/v1/records", json=records_body(300, shift=12.0))
    client.post("/v1/records", json=records_body(3, version="no-profile"))
    service_of(app).evaluate_due()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make debs)")
def test_exposition_passes_promtool(app: FastAPI, client: httpx.Client) -> None:
    """`promtool check metrics` finds no problem in /metrics (Prometheus text format)."""
    _evaluated(app, client)
    exposition = client.get("/metrics").text
    result = subprocess.run(
        ["promtool", "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_openmetrics_when_asked(client: httpx.Client) -> None:
    """/metrics answers in OpenMetrics when the Accept header asks for it."""
    accept = "application/openmetrics-text; version=1.0.0"
    response = client.get("/metrics", headers={"accept": accept})
    assert response.headers["content-type"].startswith("application/openmetrics-text")


def test_drift_gauges_after_evaluation(app: FastAPI, client: httpx.Client) -> None:
    """After an evaluation the shifted feature has driftline_drift_detected 1, kind=feature."""
    _evaluated(app, client)
    registry = service_of(app).metrics.registry
    labels = {"model": MODEL, "version": VERSION, "feature": "tenure", "kind": "feature"}
    assert registry.get_sample_value("driftline_drift_detected", labels) == 1.0


def test_p_value_carries_the_test_method(app: FastAPI, client: httpx.Client) -> None:
    """driftline_drift_p_value of a numeric feature is labelled method="ks"."""
    _evaluated(app, client)
    registry = service_of(app).metrics.registry
    labels = {"model": MODEL, "version": VERSION, "feature": "spend", "kind": "feature"}
    assert (
        registry.get_sample_value("driftline_drift_p_value", {**labels, "method": "ks"}) is not None
    )


def test_prediction_column_has_kind_prediction(app: FastAPI, client: httpx.Client) -> None:
    """The prediction column's gauges carry kind="prediction"."""
    _evaluated(app, client)
    registry = service_of(app).metrics.registry
    labels = {"model": MODEL, "version": VERSION, "feature": "churn_probability"}
    assert (
        registry.get_sample_value("driftline_drift_severity", {**labels, "kind": "prediction"})
        == 0.0
    )


def test_reference_loaded_is_zero_without_profile(app: FastAPI, client: httpx.Client) -> None:
    """A version whose records arrive without a profile has driftline_reference_loaded 0."""
    _evaluated(app, client)
    registry = service_of(app).metrics.registry
    loaded = registry.get_sample_value(
        "driftline_reference_loaded", {"model": MODEL, "version": "no-profile"}
    )
    assert loaded == 0.0


def test_records_received_counts_by_version(app: FastAPI, client: httpx.Client) -> None:
    """driftline_sidecar_records_received_total counts accepted records per model version."""
    _evaluated(app, client)
    registry = service_of(app).metrics.registry
    value = registry.get_sample_value(
        "driftline_sidecar_records_received_total", {"model": MODEL, "version": VERSION}
    )
    assert value == 300.0


def test_type_mismatch_ratio_is_exported(app: FastAPI, client: httpx.Client) -> None:
    """Strings in a numeric column show as driftline_data_quality_ratio{check="type_mismatch"}."""
    body = records_body(300)
    body["batches"][0]["features"]["spend"][:30] = ["oops"] * 30
    client.post("/v1/records", json=body)
    service_of(app).evaluate_due()
    registry = service_of(app).metrics.registry
    labels = {"model": MODEL, "version": VERSION, "feature": "spend", "check": "type_mismatch"}
    assert registry.get_sample_value("driftline_data_quality_ratio", labels) == pytest.approx(0.1)


class _States:
    def __init__(self) -> None:
        self.states: list[ModelState] = []

    def metric_state(self) -> list[ModelState]:
        return self.states


def _column(name: str) -> ColumnState:
    return ColumnState(name, "feature", "ks", 0.1, 0.5, 0.5, "wasserstein", 0.01, False, 0)


def test_columns_leaving_an_evaluation_leave_the_exposition() -> None:
    """A column absent from the newer evaluation loses its driftline_drift_statistic series."""
    registry = CollectorRegistry()
    source = _States()
    SidecarMetrics(registry).watch(source)
    source.states = [ModelState("m", "v", 10, "p", 1.0, 0, (_column("a"), _column("b")))]
    before = registry.get_sample_value(
        "driftline_drift_statistic",
        {"model": "m", "version": "v", "feature": "b", "kind": "feature", "method": "ks"},
    )
    source.states = [ModelState("m", "v", 10, "p", 2.0, 0, (_column("a"),))]
    after = registry.get_sample_value(
        "driftline_drift_statistic",
        {"model": "m", "version": "v", "feature": "b", "kind": "feature", "method": "ks"},
    )
    assert (before, after) == (0.1, None)
