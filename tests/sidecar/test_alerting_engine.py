"""Alerting fed by the real drift engine: a profile, a shifted window, and the alerts it raises."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from driftline_sidecar.alerting import AlertingSettings, AlertState, evaluation_from_document
from driftline_sidecar.drift import Evaluation, evaluate, fit_profile
from driftline_sidecar.profile import build_profile

from tests.sidecar.test_alerting_support import NOW

REPO = Path(__file__).resolve().parents[2]


def _evaluation(shift: float) -> Evaluation:
    rng = np.random.default_rng(7)
    reference = {
        "age": rng.normal(40.0, 10.0, 4000),
        "spend": rng.normal(50.0, 5.0, 4000),
        "score": rng.uniform(0.0, 1.0, 4000),
    }
    profile = build_profile(
        reference, model="churn", version="2", prediction_columns=["score"], seed=7
    )
    window = {
        "age": rng.normal(40.0 + shift, 10.0, 1000),
        "spend": rng.normal(50.0, 5.0, 1000),
        "score": rng.uniform(0.0, 1.0, 1000),
    }
    return evaluate(fit_profile(profile), window, evaluated_at=NOW)


def test_shifted_feature_from_the_engine_fires_feature_drift() -> None:
    """A window whose age is shifted by 2 standard deviations fires one alert, for age."""
    state = AlertState(AlertingSettings(pending_evaluations=1))

    transitions = state.observe("churn", "2", _evaluation(20.0), has_profile=True, now=NOW)

    assert [(t.alert.alertname, t.alert.labels["feature"]) for t in transitions] == [
        ("DriftlineFeatureDrift", "age")
    ]


def test_unshifted_window_from_the_engine_raises_nothing() -> None:
    """A window drawn from the reference distributions raises no alert."""
    state = AlertState(AlertingSettings(pending_evaluations=1))

    assert state.observe("churn", "2", _evaluation(0.0), has_profile=True, now=NOW) == []


def test_engine_severity_is_one_the_rules_list_allows() -> None:
    """The severity of an engine-driven drift alert is listed for it in sidecar_alerts.yaml."""
    listed = yaml.safe_load((REPO / "alerts" / "sidecar_alerts.yaml").read_text(encoding="utf-8"))
    allowed = {a["name"]: a["severity"] for a in listed["alerts"]}
    state = AlertState(AlertingSettings(pending_evaluations=1))

    (t,) = state.observe("churn", "2", _evaluation(20.0), has_profile=True, now=NOW)

    assert t.alert.severity in allowed[t.alert.alertname]


def test_evaluation_document_raises_the_same_alerts_as_the_evaluation() -> None:
    """Alerts from Evaluation.to_dict() (what the service keeps) equal those from the object."""
    evaluation = _evaluation(20.0)
    direct = AlertState(AlertingSettings(pending_evaluations=1))
    via_document = AlertState(AlertingSettings(pending_evaluations=1))

    expected = direct.observe("churn", "2", evaluation, has_profile=True, now=NOW)
    actual = via_document.observe(
        "churn", "2", evaluation_from_document(evaluation.to_dict()), has_profile=True, now=NOW
    )

    assert actual == expected
