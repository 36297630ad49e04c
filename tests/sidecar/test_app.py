"""The sidecar HTTP API through the real application (FastAPI's TestClient, lifespan running)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.config import load_config
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from .conftest import MODEL, VERSION, records_body, service_of, serving, write_config

JSON = {"content-type": "application/json"}


def _post(client: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/records", content=content, headers={**JSON, **(headers or {})})


def test_valid_body_is_accepted(client: httpx.Client) -> None:
    """A valid body answers 202 with the number of accepted records."""
    response = _post(client, records_body(10))
    assert (
        response.status_code,
        response.json(),
    ) == (202, {"accepted": 10, "rejected": 0, "errors": []})


def test_records_land_in_the_window(client: httpx.Client) -> None:
    """Accepted records are counted in the version's window."""
    _post(client, records_body(10))
    (entry,) = client.get("/v1/models").json()["models"]
    assert entry["window_records"] == 10


@pytest.mark.parametrize(
    ("bad", "status", "field"),
    [
        ({"model": 5}, 400, "batches[1].model"),
        ({"ids": ["a"]}, 400, "batches[1].timestamps"),
        ({"features": {"tenure": [1, [2]]}}, 400, "batches[1].features.tenure[1]"),
        ({"features": {"tenure": [1]}}, 400, "batches[1].features.tenure"),
        ({"model": "m" * 200}, 422, "batches[1].model"),
    ],
)
def test_partial_acceptance_keeps_valid_batches(
    client: httpx.Client, bad: dict[str, Any], status: int, field: str
) -> None:
    """One valid and one invalid batch: 202, the valid one kept, the bad one named."""
    body = records_body(2)
    invalid = {**body["batches"][0], **bad}
    body["batches"].append(invalid)
    answer = _post(client, body).json()
    assert (2, [{"batch": 1, "field": field}]) == (
        answer["accepted"],
        [{k: e[k] for k in ("batch", "field")} for e in answer["errors"]],
    )


@pytest.mark.parametrize(
    ("content", "headers", "status", "field"),
    [
        (b"{", {}, 400, "body"),
        (b"[]", {}, 400, "body"),
        (json.dumps({"v": 9, "batches": []}).encode(), {}, 400, "v"),
        (b"{}", {"content-type": "text/plain"}, 415, "Content-Type"),
        (b"{}", {"content-encoding": "br"}, 415, "Content-Encoding"),
        (b"{}", {"content-encoding": "gzip"}, 400, "body"),
        (b"x" * 2_000_000, {}, 413, "body"),
    ],
)
def test_bad_bodies_answer_status_and_field(
    client: httpx.Client, content: bytes, headers: dict[str, str], status: int, field: str
) -> None:
    """A body refused as a whole answers the protocol's status and names the field."""
    response = _post(client, content, headers)
    assert (status, field) == (response.status_code, response.json()["error"]["field"])


def test_only_invalid_batches_answer_the_first_error(client: httpx.Client) -> None:
    """When no batch is valid the answer is that of the first bad batch, naming its field."""
    body = records_body(2)
    body["batches"] = [{**body["batches"][0], "ids": 3}, {**body["batches"][0], "model": ""}]
    response = _post(client, body)
    assert (response.status_code, response.json()["error"]["field"]) == (400, "batches[0].ids")


def test_gzip_body_is_accepted(client: httpx.Client) -> None:
    """A gzip-encoded body is decompressed and accepted."""
    content = gzip.compress(json.dumps(records_body(5)).encode())
    response = _post(client, content, {"content-encoding": "gzip"})
    assert (response.status_code, response.json()["accepted"]) == (202, 5)


def test_zip_bomb_answers_413(client: httpx.Client) -> None:
    """A small gzip body inflating past max_body_bytes answers 413."""
    content = gzip.compress(b"[" + b" " * 20_000_000 + b"]")
    response = _post(client, content, {"content-encoding": "gzip"})
    assert (response.status_code, response.json()["error"]["field"]) == (413, "body")


def test_new_version_beyond_the_cap_is_422(tmp_path: Path, profile_path: Path) -> None:
    """Records of a new model version beyond limits.max_model_versions are refused with 422."""
    path = write_config(tmp_path, profile_path, limits={"max_model_versions": 1})
    app = create_app(load_config(path, environ={}), registry=CollectorRegistry())
    with serving(app) as client:
        response = _post(client, records_body(3, version="other"))
    assert (response.status_code, response.json()["error"]["field"]) == (422, "batches[0].version")


def test_version_without_profile_is_received_and_reported(client: httpx.Client) -> None:
    """Records of a version with no profile are accepted and listed with reference_loaded false."""
    _post(client, records_body(4, version="9.9"))
    models = {m["version"]: m for m in client.get("/v1/models").json()["models"]}
    assert (models["9.9"]["reference_loaded"], models["9.9"]["window_records"]) == (False, 4)


@pytest.fixture
def token_client(tmp_path: Path, profile_path: Path) -> Any:
    """A client of a sidecar configured with the token 's3cret'."""
    path = write_config(tmp_path, profile_path, token="s3cret")
    app = create_app(load_config(path, environ={}), registry=CollectorRegistry())
    with serving(app) as client:
        yield client


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic s3cret", "Bearer"])
def test_token_is_required(token_client: httpx.Client, header: str | None) -> None:
    """Without the configured bearer token /v1/records answers 401 naming Authorization."""
    headers = {} if header is None else {"authorization": header}
    response = _post(token_client, records_body(1), headers)
    assert (response.status_code, response.json()["error"]["field"]) == (401, "Authorization")


def test_right_token_is_accepted(token_client: httpx.Client) -> None:
    """With the configured bearer token /v1/records accepts the body."""
    response = _post(token_client, records_body(1), {"authorization": "Bearer s3cret"})
    assert response.status_code == 202


def test_drift_unknown_version_is_404(client: httpx.Client) -> None:
    """GET /v1/drift for a version the sidecar never saw answers 404 with a reason."""
    response = client.get("/v1/drift/nope/1")
    assert (
        response.status_code,
        response.json()["error"]["reason"],
    ) == (404, "unknown model version")


def test_drift_not_evaluated_is_404(client: httpx.Client) -> None:
    """GET /v1/drift for a configured version without an evaluation answers 404 saying so."""
    response = client.get(f"/v1/drift/{MODEL}/{VERSION}")
    assert (
        response.status_code,
        response.json()["error"]["reason"].startswith("not evaluated yet"),
    ) == (404, True)


def test_drift_document_after_evaluation(app: FastAPI, client: httpx.Client) -> None:
    """After an evaluation GET /v1/drift returns it, with the shifted feature drifted."""
    _post(client, records_body(500, shift=12.0))
    service_of(app).evaluate_due()
    document = client.get(f"/v1/drift/{MODEL}/{VERSION}").json()
    drifted = {c["name"] for c in document["columns"] if c["drifted"]}
    assert ("churn", "1.0", {"tenure"}) == (document["model"], document["version"], drifted)


def test_prediction_output_maps_to_profile_column(app: FastAPI, client: httpx.Client) -> None:
    """The wire output 'value' is evaluated as the profile's churn_probability column."""
    _post(client, records_body(500))
    service_of(app).evaluate_due()
    document = client.get(f"/v1/drift/{MODEL}/{VERSION}").json()
    (column,) = [c for c in document["columns"] if c["name"] == "churn_probability"]
    assert (column["n_window"], column["role"]) == (500, "prediction")


def test_healthz(client: httpx.Client) -> None:
    """/healthz answers 200 while the process serves."""
    assert client.get("/healthz").status_code == 200


def test_readyz_when_started(client: httpx.Client) -> None:
    """/readyz answers 200 once the lifespan has started the service."""
    assert client.get("/readyz").json() == {"status": "ready"}


def test_readyz_before_start(app: FastAPI) -> None:
    """/readyz answers 503 while the service has not been started (no lifespan run)."""
    with serving(app, lifespan="off") as client:
        assert client.get("/readyz").status_code == 503


def test_openapi_documents_the_records_body(client: httpx.Client) -> None:
    """/openapi.json describes the /v1/records request body schema."""
    operation = client.get("/openapi.json").json()["paths"]["/v1/records"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["v", "batches"]


def test_requests_are_counted_by_endpoint_and_status(app: FastAPI, client: httpx.Client) -> None:
    """driftline_sidecar_requests_total counts answers by endpoint template and status."""
    client.get("/v1/drift/nope/1")
    registry = service_of(app).metrics.registry
    value = registry.get_sample_value(
        "driftline_sidecar_requests_total",
        {"endpoint": "/v1/drift/{model}/{version}", "status": "404"},
    )
    assert value == 1.0


def test_rejected_bodies_are_counted_by_reason(app: FastAPI, client: httpx.Client) -> None:
    """A body refused as malformed counts once under reason=malformed."""
    _post(client, b"{")
    registry = service_of(app).metrics.registry
    value = registry.get_sample_value(
        "driftline_sidecar_records_rejected_total", {"reason": "malformed"}
    )
    assert value == 1.0


def test_drift_fires_an_alert_after_two_evaluations(app: FastAPI, client: httpx.Client) -> None:
    """Drift seen in two evaluations in a row fires DriftlineFeatureDrift (alerting wired in)."""
    service = service_of(app)
    for seed in (1, 2):
        _post(client, records_body(300, seed=seed, shift=12.0))
        service.evaluate_due()
    firing = sum(
        service.metrics.registry.get_sample_value(
            "driftline_alerts_firing",
            {"alertname": "DriftlineFeatureDrift", "severity": severity},
        )
        or 0.0
        for severity in ("warning", "critical")
    )
    assert firing == 1.0


def test_version_without_profile_is_reported_to_listeners(
    app: FastAPI, client: httpx.Client
) -> None:
    """After a round, listeners hear of a version without a profile with has_profile False."""
    heard: list[tuple[str, str, object, bool]] = []

    def listener(
        model: str, version: str, evaluation: object, *, has_profile: bool, now: float | None = None
    ) -> None:
        heard.append((model, version, evaluation, has_profile))

    service = service_of(app)
    service.add_listener(listener)
    _post(client, records_body(3, version="9.9"))
    service.evaluate_due()
    assert heard == [(MODEL, "9.9", None, False)]
