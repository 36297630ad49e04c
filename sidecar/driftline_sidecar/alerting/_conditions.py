"""What one evaluation says should alert: conditions per model version, before any pending count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from driftline_sidecar.alerting._model import (
    DATA_QUALITY,
    FEATURE_DRIFT,
    MISSING_REFERENCE,
    PREDICTION_DRIFT,
)
from driftline_sidecar.alerting._settings import AlertingSettings

__all__ = ["ColumnLike", "Condition", "EvaluationLike", "conditions_for"]

_SEVERITIES = ("info", "warning", "critical")


class _Labelled(Protocol):
    """The drift engine's Severity enum: its ``label`` is none, info, warning or critical."""

    @property
    def label(self) -> str: ...


class ColumnLike(Protocol):
    """The fields of the drift engine's ColumnResult that alerting reads."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def test(self) -> str: ...
    @property
    def statistic(self) -> float | None: ...
    @property
    def p_value(self) -> float | None: ...
    @property
    def p_adjusted(self) -> float | None: ...
    @property
    def effect_method(self) -> str: ...
    @property
    def effect_size(self) -> float | None: ...
    @property
    def drifted(self) -> bool: ...
    @property
    def severity(self) -> str | _Labelled: ...
    @property
    def n_window(self) -> int: ...
    @property
    def n_reference(self) -> int: ...
    @property
    def quality(self) -> Mapping[str, float]: ...


class EvaluationLike(Protocol):
    """The fields of the drift engine's Evaluation that alerting reads."""

    @property
    def columns(self) -> Sequence[ColumnLike]: ...


@dataclass(frozen=True)
class Condition:
    """An alert the latest evaluation asks for: its identity, severity and text.

    ``key`` leaves out the severity, so a feature whose severity moves from warning
    to critical stays the same alert (re-labelled) instead of starting a new pending count.
    """

    key: tuple[tuple[str, str], ...]
    labels: Mapping[str, str]
    summary: str
    description: str
    dashboard_uid: str


def _condition(alertname: str, severity: str, base: Mapping[str, str], **text: str) -> Condition:
    identity = {"alertname": alertname, **base}
    labels = {**identity, "severity": severity}
    return Condition(
        key=tuple(sorted(identity.items())),
        labels=labels,
        summary=text["summary"],
        description=text["description"],
        dashboard_uid=text["dashboard_uid"],
    )


def _number(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _severity(column: ColumnLike) -> str:
    raw = column.severity
    label = raw if isinstance(raw, str) else raw.label
    # A drifted column always alerts; the engine never pairs drifted with "none".
    return label if label in _SEVERITIES else "info"


def _drift(column: ColumnLike, model: str, version: str, service: str) -> Condition:
    role = "prediction" if column.role == "prediction" else "feature"
    alertname = PREDICTION_DRIFT if role == "prediction" else FEATURE_DRIFT
    severity = _severity(column)
    what = "Prediction output" if role == "prediction" else "Feature"
    base = {"model": model, "version": version, "feature": column.name, "service": service}
    return _condition(
        alertname,
        severity,
        base,
        summary=f"{what} {column.name} of model {model} version {version} has drifted ({severity})",
        description=(
            f"{column.test} statistic {_number(column.statistic, '.4g')}, "
            f"p-value {_number(column.p_value, '.3g')} "
            f"(adjusted {_number(column.p_adjusted, '.3g')}), {column.effect_method} effect size "
            f"{_number(column.effect_size, '.4g')}, window {column.n_window} records "
            f"against a reference of {column.n_reference}."
        ),
        dashboard_uid="driftline-drift",
    )


def _quality(
    column: ColumnLike, model: str, version: str, settings: AlertingSettings
) -> Condition | None:
    missing = float(column.quality.get("missing", 0.0))
    unseen = float(column.quality.get("unseen_category", 0.0))
    problems = []
    if missing > settings.missing_ratio:
        problems.append(f"missing values {missing:.1%} (threshold {settings.missing_ratio:.1%})")
    if unseen > settings.unseen_category_ratio:
        problems.append(
            f"unseen categories {unseen:.1%} (threshold {settings.unseen_category_ratio:.1%})"
        )
    if not problems:
        return None
    base = {"model": model, "version": version, "feature": column.name, "service": settings.service}
    return _condition(
        DATA_QUALITY,
        "warning",
        base,
        summary=f"Data quality of {column.name} for model {model} version {version} is degraded",
        description=f"{'; '.join(problems)} in a window of {column.n_window} records.",
        dashboard_uid="driftline-drift",
    )


def _missing_reference(model: str, version: str, service: str) -> Condition:
    return _condition(
        MISSING_REFERENCE,
        "warning",
        {"model": model, "version": version, "service": service},
        summary=f"Model {model} version {version} runs without a reference profile",
        description=(
            f"Records arrive for model {model} version {version} but no reference profile "
            "is loaded, so its drift cannot be computed."
        ),
        dashboard_uid="driftline-versions",
    )


def conditions_for(
    model: str,
    version: str,
    evaluation: EvaluationLike | None,
    *,
    has_profile: bool,
    settings: AlertingSettings,
) -> list[Condition]:
    """Return every alert condition that holds for one model version right now."""
    if not has_profile:
        return [_missing_reference(model, version, settings.service)]
    if evaluation is None:
        return []
    found: list[Condition] = []
    for column in evaluation.columns:
        if column.drifted:
            found.append(_drift(column, model, version, settings.service))
        quality = _quality(column, model, version, settings)
        if quality is not None:
            found.append(quality)
    return found
