"""Shadow pairs and version comparison through the sidecar: GET /v1/compare, metrics, alerts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.config import load_config
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from tests.sidecar.conftest import service_of, serving, write_config
from tests.support.alertmanager import Alertmanager

N = 300


def batch(version: str, role: str, ids: list[str], values: np.ndarray) -> dict[str, Any]:
    """One protocol v1 batch of model churn with output ``value``."""
    return {
        "model": "churn",
        "version": version,
        "role": role,
        "ids": ids,
        "timestamps": [time.time()] * len(ids),
        "predictions": {"value": values.tolist()},
    }


def shadow_values(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Champion scores, and a challenger that flips many of them across 0.5."""
    rng = np.random.default_rng(seed)
    champion = rng.uniform(0.0, 1.0, N)
    return champion, 1.0 - champion + rng.normal(0.0, 0.05, N)


def post_pairs(client: httpx.Client, champion: np.ndarray, challenger: np.ndarray) -> None:
    """Send the champion's records and the challenger's in two separate bodies."""
    ids = [f"p-{i}" for i in range(len(champion))]
    for version, role, values in (("1.0", "champion", champion), ("2.0", "challenger", challenger)):
        answer = client.post(
            "/v1/records", json={"v": 1, "batches": [batch(version, role, ids, values)]}
        )
        assert answer.status_code == 202


def _app(tmp_path: Path, profile_path: Path, **overrides: Any) -> tuple[FastAPI, CollectorRegistry]:
    path = write_config(
        tmp_path,
        profile_path,
        versions={"min_pairs": 50, "models": {"churn": {"task": "classification"}}},
        **overrides,
    )
    registry = CollectorRegistry()
    return create_app(load_config(path, environ={}), registry=registry), registry


Compared = tuple[httpx.Client, CollectorRegistry, np.ndarray, np.ndarray]


@pytest.fixture
def compared(tmp_path: Path, profile_path: Path) -> Iterator[Compared]:
    """A sidecar that received N shadow pairs and ran one evaluation round."""
    app, registry = _app(tmp_path, profile_path)
    champion, challenger = shadow_values()
    with serving(app) as client:
        post_pairs(client, champion, challenger)
        service_of(app).evaluate_due()
        yield client, registry, champion, challenger


SHADOW = {
    "model": "churn",
    "champion_version": "1.0",
    "challenger_version": "2.0",
    "output": "value",
}


def test_agreement_metric_matches_numpy(compared: Any) -> None:
    """driftline_shadow_agreement_ratio is the share of pairs on the same side of 0.5."""
    _, registry, champion, challenger = compared

    expected = float(np.mean((champion >= 0.5) == (challenger >= 0.5)))
    assert registry.get_sample_value("driftline_shadow_agreement_ratio", SHADOW) == pytest.approx(
        expected
    )


def test_paired_mean_difference_metric_matches_numpy(compared: Any) -> None:
    """driftline_shadow_difference{statistic="mean"} is the mean of challenger - champion."""
    _, registry, champion, challenger = compared

    value = registry.get_sample_value(
        "driftline_shadow_difference", {**SHADOW, "statistic": "mean"}
    )
    assert value == pytest.approx(float(np.mean(challenger - champion)))


def test_pairs_metric_counts_the_pairs(compared: Any) -> None:
    """driftline_shadow_pairs counts pairs joined across two bodies."""
    _, registry, _, _ = compared

    assert registry.get_sample_value("driftline_shadow_pairs", SHADOW) == N


def test_compare_document_lists_the_shadow_pair(compared: Any) -> None:
    """GET /v1/compare/churn shows the pair, its agreement and its paired-drift entry."""
    client, _, champion, challenger = compared

    document = client.get("/v1/compare/churn").json()

    shadow = document["shadow"][0]
    assert (
        shadow["champion_version"],
        shadow["challenger_version"],
        shadow["outputs"][0]["agreement"],
        [(d["version_a"], d["version_b"], d["source"]) for d in document["drift"]],
    ) == (
        "1.0",
        "2.0",
        pytest.approx(float(np.mean((champion >= 0.5) == (challenger >= 0.5)))),
        [("1.0", "2.0", "pairs")],
    )


def test_compare_of_an_unknown_model_is_404(compared: Any) -> None:
    """GET /v1/compare for a model the sidecar never saw answers 404."""
    client, _, _, _ = compared

    answer = client.get("/v1/compare/nobody")

    assert (answer.status_code, answer.json()["error"]["reason"]) == (404, "unknown model")


def test_canary_versions_get_prediction_drift(tmp_path: Path, profile_path: Path) -> None:
    """Two versions without shadow pairs are compared on their recent records (source windows)."""
    app, registry = _app(tmp_path, profile_path)
    rng = np.random.default_rng(9)
    with serving(app) as client:
        for version, values in (("1.0", rng.normal(0.3, 0.1, N)), ("2.0", rng.normal(0.6, 0.1, N))):
            ids = [f"{version}-{i}" for i in range(N)]
            client.post(
                "/v1/records", json={"v": 1, "batches": [batch(version, "champion", ids, values)]}
            )
        service_of(app).evaluate_due()

    labels = {"model": "churn", "version_a": "1.0", "version_b": "2.0", "output": "value"}
    assert registry.get_sample_value("driftline_version_prediction_drift_detected", labels) == 1.0


def _divergence(alerts: list[Any]) -> list[Any]:
    return [a for a in alerts if a["labels"]["alertname"] == "DriftlineChallengerDivergence"]


@pytest.mark.integration
def test_diverging_challenger_fires_in_a_real_alertmanager(
    tmp_path: Path, profile_path: Path
) -> None:
    """A disagreeing challenger raises DriftlineChallengerDivergence, runbook link included."""
    with Alertmanager() as am:
        app, _ = _app(
            tmp_path,
            profile_path,
            alerting={"log": False, "pending_evaluations": 1, "alertmanager_urls": [am.url]},
        )
        champion, challenger = shadow_values(seed=1)
        with serving(app) as client:
            post_pairs(client, champion, challenger)
            service_of(app).evaluate_due()
            am.wait_for_alerts(lambda alerts: bool(_divergence(alerts)))
            (alert,) = _divergence(am.alerts())

    assert (
        alert["labels"]["version"],
        alert["labels"]["champion_version"],
        alert["annotations"]["runbook_url"],
    ) == (
        "2.0",
        "1.0",
        "https://github.com/driftline/driftline/blob/main/alerts/runbooks/DriftlineChallengerDivergence.md",
    )
