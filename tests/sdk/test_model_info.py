"""Versions side by side: model start time for deployment annotations, and canary separation."""

from __future__ import annotations

import time

import driftline
from driftline.testing import Telemetry, capture_telemetry


def start_time(telemetry: Telemetry, model: str, version: str) -> float | None:
    """Return driftline_model_start_time_seconds of (model, version)."""
    return telemetry.metric("driftline_model_start_time_seconds", model=model, version=version)


def test_start_time_is_the_first_call() -> None:
    """A version's start time is the Unix time of its first call in this process."""

    @driftline.monitor(model="start-first-call", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    with capture_telemetry() as telemetry:
        assert start_time(telemetry, "start-first-call", "1") is None
        before = time.time()
        predict({"x": 1.0})
        after = time.time()
        first = start_time(telemetry, "start-first-call", "1")

    assert first is not None
    assert before <= first <= after


def test_start_time_is_set_once_per_version() -> None:
    """Later calls and a new configuration keep the version's first start time."""

    @driftline.monitor(model="start-once", version="1")
    def predict(features: dict[str, float]) -> float:
        return 0.5

    with capture_telemetry() as telemetry:
        predict({"x": 1.0})
        first = start_time(telemetry, "start-once", "1")
    with capture_telemetry() as telemetry:
        predict({"x": 1.0})
        predict({"x": 2.0})
        again = start_time(telemetry, "start-once", "1")

    assert first is not None
    assert again == first


def test_a_new_version_gets_its_own_start_time() -> None:
    """Deploying a new version adds a start time and a model_info series beside the old one's."""

    @driftline.monitor(model="start-new", version="1")
    def old(features: dict[str, float]) -> float:
        return 0.5

    @driftline.monitor(model="start-new", version="2")
    def new(features: dict[str, float]) -> float:
        return 0.6

    with capture_telemetry(service_name="churn-api") as telemetry:
        old({"x": 1.0})
        new({"x": 1.0})
        first, second = (
            start_time(telemetry, "start-new", "1"),
            start_time(telemetry, "start-new", "2"),
        )
        infos = [
            telemetry.metric(
                "driftline_model_info", model="start-new", version=v, service="churn-api"
            )
            for v in ("1", "2")
        ]

    assert first is not None
    assert second is not None
    assert first <= second
    assert infos == [1.0, 1.0]


def test_canary_versions_keep_separate_metrics_and_records() -> None:
    """Two versions of one model serving live traffic are counted and captured apart."""

    @driftline.monitor(model="canary", version="2.3.0")
    def stable(features: dict[str, float]) -> float:
        return 0.5

    @driftline.monitor(model="canary", version="2.4.0")
    def canary(features: dict[str, float]) -> float:
        return 0.7

    def predict(user_id: int, features: dict[str, float]) -> float:
        """Route one user in ten to the canary, the way an app would."""
        return canary(features) if user_id % 10 == 0 else stable(features)

    with capture_telemetry() as telemetry:
        for user_id in range(30):
            predict(user_id, {"x": float(user_id)})
        counts = [
            telemetry.metric(
                "driftline_requests_total", model="canary", version=v, outcome="success"
            )
            for v in ("2.3.0", "2.4.0")
        ]
        records = telemetry.records

    assert counts == [27, 3]
    assert sorted({(r.version, r.role, r.predictions["value"]) for r in records}) == [
        ("2.3.0", "champion", 0.5),
        ("2.4.0", "champion", 0.7),
    ]
    assert [r.features["x"] for r in records if r.version == "2.4.0"] == [0.0, 10.0, 20.0]
