"""The demo's closing summary: the drift table, the expected drift, model quality, next steps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from driftline_sidecar.demo.api import Evaluation, drift_url
from driftline_sidecar.demo.data import CATEGORICAL_FEATURES, LABEL, NUMERIC_FEATURES
from driftline_sidecar.demo.display import (
    Display,
    MonthQuality,
    format_drift_table,
    format_quality_table,
)
from driftline_sidecar.demo.model import LogisticModel, predict_proba, roc_auc
from driftline_sidecar.demo.receiver import ReceivedAlert
from driftline_sidecar.demo.shift import SHIFTED_AT_LEAST, STABLE_BELOW, expected_drift

__all__ = ["Inputs", "month_quality", "show"]


@dataclass(frozen=True)
class Inputs:
    """What the summary is made of."""

    evaluation: Evaluation | None
    alerts: list[ReceivedAlert]
    split: Any
    window: Any
    model: LogisticModel
    sidecar_url: str
    model_name: str
    version: str


def month_quality(frame: Any, model: LogisticModel) -> list[MonthQuality]:
    """Return, per month of ``frame``, the late rate, the mean prediction and the AUC."""
    rows = []
    for month, flights in frame.groupby("month", sort=True):
        predicted = predict_proba(model, flights)
        labels = flights[LABEL].to_numpy()
        rows.append(
            MonthQuality(
                month=f"2013-{int(month):02d}",
                flights=len(flights),
                late_rate=float(labels.mean()),
                mean_prediction=float(predicted.mean()),
                auc=roc_auc(labels, predicted),
            )
        )
    return rows


def _names(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


def show(display: Display, inputs: Inputs, report: dict[str, Any]) -> None:
    """Print the closing sections and record the outcome in ``report``."""
    evaluation = inputs.evaluation
    display.section("Drift in the last window (GET /v1/drift)")
    if evaluation is None:
        display.line("the sidecar made no evaluation: see its log")
        detected: tuple[str, ...] = ()
    else:
        display.line(f"window of {evaluation.window:,} records, against January")
        display.lines(format_drift_table(evaluation.rows), indent="  ")
        detected = evaluation.drifted_features
        display.line(f"prediction drift: {_names(evaluation.drifted_predictions)}")
    expected = expected_drift(
        inputs.split.train, inputs.window, NUMERIC_FEATURES, CATEGORICAL_FEATURES
    )
    display.section("What the data says (independent of the sidecar)")
    display.line(
        f"shifted (KS or total variation >= {SHIFTED_AT_LEAST}): {_names(expected.shifted)}"
    )
    display.line(f"stable  (below {STABLE_BELOW}): {_names(expected.stable)}")
    missed = expected.shifted - set(detected)
    false_alarms = expected.stable & set(detected)
    verdict = "agrees" if not missed and not false_alarms else "DISAGREES"
    display.line(
        f"the sidecar {verdict}: missed {_names(missed)}, false alarms {_names(false_alarms)}"
    )
    display.section("Model quality per month (the demo knows the true labels)")
    months = month_quality(inputs.split.replay, inputs.model)
    display.lines(format_quality_table(months), indent="  ")
    display.section("Alerts received")
    firing = [a for a in inputs.alerts if a.status == "firing"]
    display.line(f"{len(firing)} firing, {len(inputs.alerts) - len(firing)} resolved")
    display.section("Where to look next")
    display.line(f"metrics     {inputs.sidecar_url}/metrics")
    display.line(f"drift JSON  {drift_url(inputs.sidecar_url, inputs.model_name, inputs.version)}")
    display.line("dashboards  docker compose up, then Grafana at http://127.0.0.1:3000")
    display.line("(the sidecar stops with the demo: run `driftline demo --serve` to keep it up)")
    report.update(
        drifted_features=sorted(detected),
        drifted_predictions=[] if evaluation is None else sorted(evaluation.drifted_predictions),
        expected_shifted=sorted(expected.shifted),
        expected_stable=sorted(expected.stable),
        distances={k: round(v, 4) for k, v in expected.distances.items()},
        alerts=[
            {
                "name": a.name,
                "status": a.status,
                "severity": a.severity,
                "feature": a.labels.get("feature"),
                "runbook_url": a.runbook_url,
                "dashboard_url": a.dashboard_url,
            }
            for a in inputs.alerts
        ],
    )
