"""Reference performance in profiles (--label-column) and the DriftlinePerformanceDegraded alert."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from driftline_sidecar.app import create_app
from driftline_sidecar.cli import main
from driftline_sidecar.config import load_config
from driftline_sidecar.profile import build_profile, load_profile, save_profile
from prometheus_client import CollectorRegistry
from sklearn import metrics

from tests.sidecar.conftest import reference_data, service_of, serving, write_config


def labelled(n: int = 2_000, seed: int = 0) -> dict[str, np.ndarray]:
    """Reference data whose churn_probability predicts the label ``churned`` well."""
    data = reference_data(n, seed)
    rng = np.random.default_rng(seed + 1)
    data["churned"] = (rng.uniform(0, 1, n) < data["churn_probability"]).astype(np.float64)
    return data


def test_profile_stores_the_performance_on_its_labels() -> None:
    """build_profile with a label column stores ROC AUC equal to scikit-learn's."""
    data = labelled()
    profile = build_profile(
        data,
        model="churn",
        version="1.0",
        categorical=["plan"],
        prediction_columns=["churn_probability"],
        label_column="churned",
    )

    assert profile.performance is not None
    assert profile.performance["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(data["churned"], data["churn_probability"])
    )


def test_label_column_is_not_profiled() -> None:
    """The label column is left out of the profile's columns."""
    profile = build_profile(
        labelled(), model="m", version="1", prediction_columns=["churn_probability"],
        categorical=["plan"], label_column="churned",
    )  # fmt: skip

    assert "churned" not in profile.columns


def test_cli_writes_the_reference_performance(tmp_path: Path) -> None:
    """driftline reference build --label-column stores the performance in the saved profile."""
    data = labelled(500)
    csv = tmp_path / "train.csv"
    rows = ["tenure,churn_probability,churned"] + [
        f"{t},{p},{int(y)}"
        for t, p, y in zip(data["tenure"], data["churn_probability"], data["churned"], strict=True)
    ]
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "p.npz"

    code = main([
        "reference", "build", str(csv), "--model", "m", "--version", "1", "-o", str(out),
        "--prediction-column", "churn_probability", "--label-column", "churned",
    ])  # fmt: skip

    performance = load_profile(out).performance
    assert (code, performance is not None and "accuracy" in performance) == (0, True)


def test_performance_below_reference_raises_the_alert(tmp_path: Path) -> None:
    """Outcomes that contradict the predictions make DriftlinePerformanceDegraded fire."""
    profile = build_profile(
        labelled(), model="churn", version="1.0", categorical=["plan"],
        prediction_columns=["churn_probability"], label_column="churned",
    )  # fmt: skip
    path = tmp_path / "labelled.npz"
    save_profile(profile, path)
    config = write_config(
        tmp_path,
        path,
        alerting={"log": False, "pending_evaluations": 1},
        versions={"min_outcomes": 50, "models": {"churn": {"task": "classification"}}},
    )
    app = create_app(load_config(config, environ={}), registry=CollectorRegistry())
    scores = np.random.default_rng(4).uniform(0, 1, 100)
    ids = [f"o-{i}" for i in range(100)]
    body = {
        "v": 1,
        "batches": [
            {"model": "churn", "version": "1.0", "ids": ids, "timestamps": [time.time()] * 100,
             "predictions": {"value": scores.tolist()}}
        ],
    }  # fmt: skip
    with serving(app) as client:
        client.post("/v1/records", json=body)
        wrong = [0 if s >= 0.5 else 1 for s in scores]
        client.post("/v1/outcomes", json={"v": 1, "outcomes": {"ids": ids, "actuals": wrong}})
        service_of(app).evaluate_due()

    degraded = {
        a.labels["metric"]
        for a in app.state.alerter.active_alerts()
        if a.alertname == "DriftlinePerformanceDegraded"
    }
    assert {"accuracy", "roc_auc"} <= degraded
