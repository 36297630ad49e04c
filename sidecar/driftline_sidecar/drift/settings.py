"""Drift settings for one model version: the tests, effect sizes and thresholds, per column too."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from ._types import Kind
from .registry import UnknownMethodError, get_method

__all__ = ["ColumnSettings", "DriftSettings", "ResolvedSettings", "SettingsError", "parse_settings"]

DEFAULT_EFFECT_FLOORS: Mapping[str, float] = MappingProxyType(
    {"psi": 0.1, "wasserstein": 0.1, "jensen_shannon": 0.1}
)
DEFAULT_CRITICAL_EFFECTS: Mapping[str, float] = MappingProxyType(
    {"psi": 0.25, "wasserstein": 0.5, "jensen_shannon": 0.2}
)


class SettingsError(ValueError):
    """A drift setting is invalid; ``key`` names it (e.g. ``features.age.test``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class ColumnSettings:
    """Overrides for one column; None keeps the model-wide value."""

    test: str | None = None
    effect: str | None = None
    effect_floor: float | None = None
    critical_effect: float | None = None
    min_samples: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings that apply to one column once overrides are merged."""

    test: str
    effect: str
    effect_floor: float
    critical_effect: float
    min_samples: int
    enabled: bool


def _floors() -> Mapping[str, float]:
    return DEFAULT_EFFECT_FLOORS


def _criticals() -> Mapping[str, float]:
    return DEFAULT_CRITICAL_EFFECTS


@dataclass(frozen=True)
class DriftSettings:
    """How one model version's windows are judged; see docs/drift.md for the reasoning."""

    q: float = 0.05
    min_samples: int = 200
    numeric_test: str = "ks"
    categorical_test: str = "chi2"
    numeric_effect: str = "wasserstein"
    categorical_effect: str = "psi"
    effect_floors: Mapping[str, float] = field(default_factory=_floors)
    critical_effects: Mapping[str, float] = field(default_factory=_criticals)
    prediction_critical: bool = True
    columns: Mapping[str, ColumnSettings] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.q, bool) or not isinstance(self.q, int | float):
            raise SettingsError("q", f"must be a number, got {self.q!r}")
        if isinstance(self.min_samples, bool) or not isinstance(self.min_samples, int):
            raise SettingsError("min_samples", f"must be an integer, got {self.min_samples!r}")
        if not isinstance(self.prediction_critical, bool):
            raise SettingsError("prediction_critical", "must be true or false")
        if not 0.0 < self.q < 1.0:
            raise SettingsError("q", f"must be between 0 and 1 (exclusive), got {self.q}")
        if self.min_samples < 1:
            raise SettingsError("min_samples", f"must be >= 1, got {self.min_samples}")
        _check_method("numeric_test", self.numeric_test, "numeric", "test")
        _check_method("categorical_test", self.categorical_test, "categorical", "test")
        _check_method("numeric_effect", self.numeric_effect, "numeric", "effect")
        _check_method("categorical_effect", self.categorical_effect, "categorical", "effect")
        for key, table in (
            ("effect_floors", self.effect_floors),
            ("critical_effects", self.critical_effects),
        ):
            for name, value in table.items():
                _check_method(f"{key}.{name}", name, None, "effect")
                _check_threshold(f"{key}.{name}", value)
        for name, column in self.columns.items():
            prefix = f"features.{name}"
            if column.test is not None:
                _check_method(f"{prefix}.test", column.test, None, "test")
            if column.effect is not None:
                _check_method(f"{prefix}.effect", column.effect, None, "effect")
            for key in ("effect_floor", "critical_effect"):
                value = getattr(column, key)
                if value is not None:
                    _check_threshold(f"{prefix}.{key}", value)
            samples = column.min_samples
            if samples is not None and (
                isinstance(samples, bool) or not isinstance(samples, int) or samples < 1
            ):
                raise SettingsError(
                    f"{prefix}.min_samples", f"must be an integer >= 1, got {samples!r}"
                )
            if not isinstance(column.enabled, bool):
                raise SettingsError(f"{prefix}.enabled", "must be true or false")

    def for_column(self, name: str, kind: Kind) -> ResolvedSettings:
        """Return the settings for column ``name``; raise `SettingsError` for a wrong method."""
        column = self.columns.get(name, ColumnSettings())
        default_test = self.numeric_test if kind == "numeric" else self.categorical_test
        default_effect = self.numeric_effect if kind == "numeric" else self.categorical_effect
        test = column.test or default_test
        effect = column.effect or default_effect
        _check_method(f"features.{name}.test", test, kind, "test")
        _check_method(f"features.{name}.effect", effect, kind, "effect")
        floor = column.effect_floor
        critical = column.critical_effect
        return ResolvedSettings(
            test=test,
            effect=effect,
            effect_floor=(
                floor
                if floor is not None
                else _lookup(self.effect_floors, DEFAULT_EFFECT_FLOORS, effect)
            ),
            critical_effect=(
                critical
                if critical is not None
                else _lookup(self.critical_effects, DEFAULT_CRITICAL_EFFECTS, effect)
            ),
            min_samples=column.min_samples or self.min_samples,
            enabled=column.enabled,
        )


def _lookup(table: Mapping[str, float], defaults: Mapping[str, float], name: str) -> float:
    return table[name] if name in table else defaults[name]


def _check_method(key: str, name: str, kind: Kind | None, purpose: Any) -> None:
    try:
        get_method(name, kind, purpose)
    except UnknownMethodError as exc:
        raise SettingsError(key, str(exc)) from None


def _check_threshold(key: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SettingsError(key, f"must be a finite number, got {value!r}")
    if value < 0:
        raise SettingsError(key, f"must be >= 0, got {value}")


_MODEL_KEYS = {f.name for f in fields(DriftSettings)} - {"columns"}
_COLUMN_KEYS = {f.name for f in fields(ColumnSettings)}


def parse_settings(
    drift: Mapping[str, Any], features: Mapping[str, Mapping[str, Any]] | None = None
) -> DriftSettings:
    """Return `DriftSettings` from plain mappings (a config file's ``drift`` and ``features``).

    Raise `SettingsError` whose ``key`` names the bad entry (``q``, ``features.age.test``).
    """
    unknown = sorted(set(drift) - _MODEL_KEYS)
    if unknown:
        raise SettingsError(unknown[0], f"unknown key; valid: {', '.join(sorted(_MODEL_KEYS))}")
    columns: dict[str, ColumnSettings] = {}
    for name, entry in (features or {}).items():
        bad = sorted(set(entry) - _COLUMN_KEYS)
        if bad:
            raise SettingsError(
                f"features.{name}.{bad[0]}",
                f"unknown key; valid: {', '.join(sorted(_COLUMN_KEYS))}",
            )
        columns[name] = ColumnSettings(**entry)
    values = dict(drift)
    for key in ("effect_floors", "critical_effects"):
        if key in values:
            if not isinstance(values[key], Mapping):
                raise SettingsError(key, "must be a mapping of effect method to threshold")
            base = DEFAULT_EFFECT_FLOORS if key == "effect_floors" else DEFAULT_CRITICAL_EFFECTS
            values[key] = MappingProxyType({**base, **values[key]})
    try:
        return DriftSettings(**values, columns=MappingProxyType(columns))
    except TypeError as exc:
        raise SettingsError("drift", str(exc)) from None
