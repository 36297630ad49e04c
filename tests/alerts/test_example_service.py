"""The example FastAPI service of the compose stack, run for real with uvicorn on 127.0.0.1."""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.alerts.catalog import REPO_ROOT
from tests.support.procs import start_on_free_port

pytestmark = pytest.mark.integration

SERVICE_DIR = REPO_ROOT / "examples" / "fastapi_service"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service started as in its container (uvicorn app:app), without sidecar or OTLP."""
    # `env` clears any DRIFTLINE_* of the test run, so the service neither ships nor exports.
    unset = [arg for key in os.environ if key.startswith("DRIFTLINE_") for arg in ("-u", key)]

    def argv(port: int) -> list[str]:
        return [
            "env",
            *unset,
            "MODEL_VERSION=1.0.0",
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]

    log = tmp_path_factory.mktemp("example") / "uvicorn.log"
    process, port = start_on_free_port(
        argv, ready_path="/healthz", log_path=log, name="example", cwd=SERVICE_DIR
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        result: dict[str, object] = json.loads(answer.read())
        return result


def _sample(url: str, name: str, labels: dict[str, str]) -> float | None:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as answer:
        text = answer.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


def test_predict_answers_a_probability(service: str) -> None:
    """POST /predict returns the churn probability and the version that computed it."""
    answer = _post(
        service + "/predict", {"tenure_months": 12.0, "monthly_spend": 50.0, "plan": "pro"}
    )
    probability = answer["churn_probability"]
    assert answer["version"] == "1.0.0"
    assert isinstance(probability, float)
    assert 0.0 < probability < 1.0


def test_metrics_count_the_monitored_call(service: str) -> None:
    """/metrics exposes driftline_requests_total for the decorated model after a prediction."""
    _post(service + "/predict", {"tenure_months": 3.0, "monthly_spend": 80.0, "plan": "basic"})
    labels = {"model": "churn", "version": "1.0.0", "outcome": "success"}
    count = _sample(service, "driftline_requests_total", labels)
    assert count is not None
    assert count >= 1.0
