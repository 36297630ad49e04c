"""The ``versions:`` configuration section: prediction store, outcomes, performance, comparison.

Parsed here (not in config.py) so the section has one owner; `parse_versions_settings`
raises `VersionsConfigError` naming the key, which config.py turns into a ConfigError.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline_sidecar.performance import CLASSIFICATION_METRICS, REGRESSION_METRICS, TASKS, Task

__all__ = [
    "ModelVersionsSettings",
    "VersionsConfigError",
    "VersionsSettings",
    "parse_versions_settings",
]


class VersionsConfigError(ValueError):
    """A key of the ``versions:`` section is invalid: ``key`` (``versions.…``) and a reason."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = f"versions.{key}"
        self.reason = reason
        super().__init__(f"{self.key}: {reason}")


@dataclass(frozen=True)
class ModelVersionsSettings:
    """Per-model settings: the task, the scored output and the alert thresholds."""

    task: Task | None = None
    output: str = "value"
    threshold: float = 0.5
    performance_margin: float = 0.05
    performance_metrics: tuple[str, ...] | None = None
    agreement_below: float | None = 0.9
    mean_abs_difference_above: float | None = None


@dataclass(frozen=True)
class VersionsSettings:
    """The whole section; ``defaults`` applies to models without an entry in ``models``."""

    max_predictions: int = 100_000
    horizon: float = 86_400.0
    performance_window: int = 1_000
    compare_window: int = 5_000
    min_outcomes: int = 100
    min_pairs: int = 100
    defaults: ModelVersionsSettings = field(default_factory=ModelVersionsSettings)
    models: Mapping[str, ModelVersionsSettings] = field(default_factory=dict)

    def for_model(self, model: str) -> ModelVersionsSettings:
        """The settings of ``model``: its entry, else the section's defaults."""
        return self.models.get(model, self.defaults)


_TOP = {
    "max_predictions": 0,
    "performance_window": 1,
    "compare_window": 2,
    "min_outcomes": 1,
    "min_pairs": 2,
}
_MODEL_KEYS = tuple(ModelVersionsSettings.__dataclass_fields__)
_VALID = sorted([*_TOP, "horizon", "models", *_MODEL_KEYS])


def parse_versions_settings(raw: Any) -> VersionsSettings:
    """Return the settings of a YAML ``versions:`` section (None or absent: the defaults)."""
    if raw is None:
        return VersionsSettings()
    if not isinstance(raw, Mapping):
        raise VersionsConfigError("", f"expected a mapping, got {type(raw).__name__}")
    for key in raw:
        if key not in _VALID:
            raise VersionsConfigError(str(key), f"unknown key; valid keys: {', '.join(_VALID)}")
    values: dict[str, Any] = {}
    for key, minimum in _TOP.items():
        if key in raw:
            values[key] = _int(key, raw[key], minimum)
    if "horizon" in raw:
        values["horizon"] = _positive("horizon", raw["horizon"])
    defaults = _model("", {k: v for k, v in raw.items() if k in _MODEL_KEYS}, None)
    models_raw = raw.get("models") or {}
    if not isinstance(models_raw, Mapping):
        raise VersionsConfigError("models", "expected a mapping of model name to settings")
    models = {
        str(name): _model(f"models.{name}.", entry, defaults) for name, entry in models_raw.items()
    }
    return VersionsSettings(**values, defaults=defaults, models=models)


def _model(prefix: str, raw: Any, base: ModelVersionsSettings | None) -> ModelVersionsSettings:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise VersionsConfigError(prefix.rstrip("."), "expected a mapping")
    for key in raw:
        if key not in _MODEL_KEYS:
            valid = ", ".join(_MODEL_KEYS)
            raise VersionsConfigError(f"{prefix}{key}", f"unknown key; valid keys: {valid}")
    values: dict[str, Any] = {} if base is None else dict(base.__dict__)
    for key, value in raw.items():
        values[key] = _model_value(f"{prefix}{key}", key, value)
    return ModelVersionsSettings(**values)


def _model_value(path: str, key: str, value: Any) -> Any:
    if key == "task":
        if value is not None and value not in TASKS:
            raise VersionsConfigError(path, f"expected one of {', '.join(TASKS)} or null")
        return value
    if key == "output":
        if not isinstance(value, str) or not value:
            raise VersionsConfigError(path, "expected a non-empty string")
        return value
    if key == "performance_metrics":
        if value is None:
            return None
        known = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
        if not isinstance(value, list) or any(m not in known for m in value):
            raise VersionsConfigError(path, f"expected a list of: {', '.join(known)}")
        return tuple(value)
    if key == "mean_abs_difference_above":
        return None if value is None else _non_negative(path, value)
    if key == "agreement_below":
        return None if value is None else _ratio(path, value)
    return _ratio(path, value)  # threshold, performance_margin


def _number(path: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise VersionsConfigError(path, f"expected a finite number, got {value!r}")
    return float(value)


def _ratio(path: str, value: Any) -> float:
    number = _number(path, value)
    if not 0.0 <= number <= 1.0:
        raise VersionsConfigError(path, f"must be between 0 and 1, got {value!r}")
    return number


def _non_negative(path: str, value: Any) -> float:
    number = _number(path, value)
    if number < 0:
        raise VersionsConfigError(path, f"must be at least 0, got {value!r}")
    return number


def _positive(path: str, value: Any) -> float:
    number = _number(path, value)
    if number <= 0:
        raise VersionsConfigError(path, f"must be a positive number of seconds, got {value!r}")
    return number


def _int(path: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VersionsConfigError(path, f"expected an integer, got {value!r}")
    if value < minimum:
        raise VersionsConfigError(path, f"must be at least {minimum}, got {value}")
    return value
