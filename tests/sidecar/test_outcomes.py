"""POST /v1/outcomes: joins to stored predictions, counting rules, and bad bodies."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.config import load_config
from prometheus_client import CollectorRegistry

from tests.sidecar.conftest import service_of, serving, write_config


def records(ids: list[str], values: list[Any], *, version: str = "1.0", role: str = "champion",
            at: float | None = None) -> dict[str, Any]:  # fmt: skip
    """A protocol v1 body: one batch of predictions of model churn under ``ids``."""
    now = time.time() if at is None else at
    return {
        "v": 1,
        "batches": [
            {
                "model": "churn",
                "version": version,
                "role": role,
                "ids": ids,
                "timestamps": [now] * len(ids),
                "predictions": {"value": values},
            }
        ],
    }


def outcomes(ids: list[str], actuals: list[Any], **extra: Any) -> dict[str, Any]:
    """A protocol v1 outcomes body."""
    return {"v": 1, "outcomes": {"ids": ids, "actuals": actuals, **extra}}


@pytest.fixture
def sidecar(tmp_path: Path, profile_path: Path) -> Iterator[tuple[httpx.Client, CollectorRegistry]]:
    """A served sidecar whose prediction store keeps 3 ids for one hour."""
    path = write_config(
        tmp_path,
        profile_path,
        token="secret",
        versions={"max_predictions": 3, "horizon": 3600, "min_outcomes": 1},
    )
    registry = CollectorRegistry()
    app = create_app(load_config(path, environ={}), registry=registry)
    with serving(app) as client:
        client.headers["Authorization"] = "Bearer secret"
        client.app = app  # type: ignore[attr-defined]
        yield client, registry


def _count(registry: CollectorRegistry, status: str) -> float | None:
    return registry.get_sample_value("driftline_outcomes_total", {"status": status})


def test_an_outcome_for_a_stored_prediction_is_joined(sidecar: tuple[httpx.Client, Any]) -> None:
    """An outcome whose id is stored joins and is answered and counted as joined."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["a"], [0.9]))

    answer = client.post("/v1/outcomes", json=outcomes(["a"], [1]))

    assert (answer.status_code, answer.json()["joined"], _count(registry, "joined")) == (
        202,
        1,
        1.0,
    )


def test_an_unknown_id_is_counted_unknown(sidecar: tuple[httpx.Client, Any]) -> None:
    """An outcome for an id never seen is counted as unknown."""
    client, registry = sidecar

    client.post("/v1/outcomes", json=outcomes(["nobody"], [1]))

    assert _count(registry, "unknown") == 1.0


def test_a_second_outcome_for_an_id_is_a_duplicate(sidecar: tuple[httpx.Client, Any]) -> None:
    """The second outcome of one id, in the same body or a later one, is a duplicate."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["a"], [0.9]))

    client.post("/v1/outcomes", json=outcomes(["a", "a"], [1, 1]))
    client.post("/v1/outcomes", json=outcomes(["a"], [0]))

    assert (_count(registry, "joined"), _count(registry, "duplicate")) == (1.0, 2.0)


def test_an_outcome_after_the_horizon_is_late(sidecar: tuple[httpx.Client, Any]) -> None:
    """An outcome recorded more than horizon seconds after its prediction is late."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["a"], [0.9]))

    client.post("/v1/outcomes", json=outcomes(["a"], [1], timestamps=[time.time() + 3601]))

    assert (_count(registry, "late"), _count(registry, "joined")) == (1.0, 0.0)


def test_an_outcome_for_an_evicted_prediction_is_late(sidecar: tuple[httpx.Client, Any]) -> None:
    """An id pushed out of the store by newer ones (max_predictions 3) counts as late."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["a", "b", "c", "d"], [0.1, 0.2, 0.3, 0.4]))

    client.post("/v1/outcomes", json=outcomes(["a", "d"], [0, 1]))

    assert (_count(registry, "late"), _count(registry, "joined")) == (1.0, 1.0)


def test_a_prediction_older_than_the_horizon_is_evicted(sidecar: tuple[httpx.Client, Any]) -> None:
    """A prediction whose timestamp is beyond the horizon leaves; its outcome is late."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["old"], [0.5], at=time.time() - 7200))

    client.post("/v1/outcomes", json=outcomes(["old"], [1]))

    assert _count(registry, "late") == 1.0


def test_joined_outcomes_feed_the_performance_metric(sidecar: tuple[httpx.Client, Any]) -> None:
    """After an evaluation round, driftline_model_performance has the joined outcomes' accuracy."""
    client, registry = sidecar
    client.post("/v1/records", json=records(["a", "b", "c"], [0.9, 0.2, 0.7]))
    client.post("/v1/outcomes", json=outcomes(["a", "b", "c"], [1, 0, 0]))

    service_of(client.app).evaluate_due()  # type: ignore[attr-defined]

    labels = {"model": "churn", "version": "1.0", "metric": "accuracy"}
    assert registry.get_sample_value("driftline_model_performance", labels) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"not json", 400, "body"),
        (b"[]", 400, "body"),
        (b'{"outcomes": {"ids": [], "actuals": []}}', 400, "v"),
        (b'{"v": 2, "outcomes": {"ids": [], "actuals": []}}', 400, "v"),
        (b'{"v": 1}', 400, "outcomes"),
        (b'{"v": 1, "outcomes": {"actuals": []}}', 400, "outcomes.ids"),
        (b'{"v": 1, "outcomes": {"ids": [3], "actuals": [1]}}', 400, "outcomes.ids[0]"),
        (b'{"v": 1, "outcomes": {"ids": ["a"]}}', 400, "outcomes.actuals"),
        (b'{"v": 1, "outcomes": {"ids": ["a"], "actuals": [1, 2]}}', 400, "outcomes.actuals"),
        (b'{"v": 1, "outcomes": {"ids": ["a"], "actuals": [null]}}', 400, "outcomes.actuals[0]"),
        (b'{"v": 1, "outcomes": {"ids": ["a"], "actuals": [[1]]}}', 400, "outcomes.actuals[0]"),
        (
            b'{"v": 1, "outcomes": {"ids": ["a"], "actuals": [1], "timestamps": ["x"]}}',
            400,
            "outcomes.timestamps[0]",
        ),
    ],
)
def test_a_bad_body_gets_a_400_naming_the_field(
    sidecar: tuple[httpx.Client, Any], body: bytes, status: int, field: str
) -> None:
    """A malformed outcomes body is refused whole with the documented status and field."""
    client, _ = sidecar

    answer = client.post("/v1/outcomes", content=body, headers={"Content-Type": "application/json"})

    assert (answer.status_code, answer.json()["error"]["field"]) == (status, field)


def test_too_many_outcomes_get_a_422(tmp_path: Path, profile_path: Path) -> None:
    """More outcomes than limits.max_records in one body is a 422 for outcomes.ids."""
    path = write_config(tmp_path, profile_path, limits={"max_records": 2})
    app = create_app(load_config(path, environ={}), registry=CollectorRegistry())
    with serving(app) as client:
        answer = client.post("/v1/outcomes", json=outcomes(["a", "b", "c"], [1, 0, 1]))

    assert (answer.status_code, answer.json()["error"]["field"]) == (422, "outcomes.ids")


def test_outcomes_need_the_token(sidecar: tuple[httpx.Client, Any]) -> None:
    """Without the bearer token the answer is 401 naming Authorization."""
    client, _ = sidecar

    answer = client.post(
        "/v1/outcomes", json=outcomes(["a"], [1]), headers={"Authorization": "Bearer wrong"}
    )

    assert (answer.status_code, answer.json()["error"]["field"]) == (401, "Authorization")


def test_outcomes_must_be_json(sidecar: tuple[httpx.Client, Any]) -> None:
    """A body that is not application/json gets a 415."""
    client, _ = sidecar

    answer = client.post("/v1/outcomes", content=b"a", headers={"Content-Type": "text/plain"})

    assert answer.status_code == 415
