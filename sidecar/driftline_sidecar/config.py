"""The sidecar's configuration: a YAML file plus ``DRIFTLINE_SIDECAR_*`` environment overrides.

Every key is validated up front into frozen dataclasses; a problem raises
:class:`ConfigError` naming the key and the file (or environment variable) it came from.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from driftline_sidecar.alerting import (
    AlertingConfigError,
    AlertingSettings,
    parse_alerting_settings,
)
from driftline_sidecar.versions_settings import (
    VersionsConfigError,
    VersionsSettings,
    parse_versions_settings,
)

__all__ = [
    "ENV_PREFIX",
    "ConfigError",
    "Limits",
    "ModelConfig",
    "SidecarConfig",
    "load_config",
]

ENV_PREFIX = "DRIFTLINE_SIDECAR_"


class ConfigError(Exception):
    """A configuration value is missing, unknown or invalid; ``key`` and ``source`` locate it."""

    def __init__(self, key: str, source: str, reason: str) -> None:
        super().__init__(f"{source}: {key}: {reason}")
        self.key = key
        self.source = source
        self.reason = reason


@dataclass(frozen=True)
class Limits:
    """Bounds on one request body and on what the sidecar keeps (metric label cardinality)."""

    max_batches: int = 64
    max_records: int = 100_000
    max_features: int = 512
    max_name_length: int = 128
    max_model_versions: int = 32
    max_window_features: int = 256


@dataclass(frozen=True)
class ModelConfig:
    """One monitored model version and its reference profile."""

    model: str
    version: str
    profile: Path
    prediction_columns: Mapping[str, str] = field(default_factory=dict)
    drift: Mapping[str, Any] = field(default_factory=dict)
    features: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class SidecarConfig:
    """The validated sidecar configuration."""

    host: str = "127.0.0.1"
    port: int = 8765
    token: str | None = field(default=None, repr=False)
    """Never in ``repr()``, so a logged configuration does not leak it."""
    max_body_bytes: int = 10 * 1024 * 1024
    state_dir: Path | None = None
    snapshot_interval: float = 60.0
    interval: float = 30.0
    window_size: int = 10_000
    window_max_age: float | None = None
    min_samples: int = 200
    limits: Limits = field(default_factory=Limits)
    models: tuple[ModelConfig, ...] = ()
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    versions: VersionsSettings = field(default_factory=VersionsSettings)
    source: str = "<defaults>"


# Scalar keys: name -> (type, optional?, minimum)
_SCALARS: dict[str, tuple[type, bool, float | None]] = {
    "host": (str, False, None),
    "port": (int, False, 0),
    "token": (str, True, None),
    "max_body_bytes": (int, False, 1),
    "state_dir": (str, True, None),
    "snapshot_interval": (float, False, 0.1),
    "interval": (float, False, 0.01),
    "window_size": (int, False, 1),
    "window_max_age": (float, True, 0.001),
    "min_samples": (int, False, 1),
}
_SECTIONS = ("alerting", "limits", "models", "versions")
_LIMIT_KEYS = tuple(Limits.__dataclass_fields__)
_MODEL_KEYS = frozenset({"model", "version", "profile", "prediction_columns", "drift", "features"})


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> SidecarConfig:
    """Return the configuration read from ``path`` (optional) with environment overrides applied."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    source = "<defaults>"
    base = Path.cwd()
    if path is not None:
        file = Path(path)
        source = str(file)
        base = file.resolve().parent
        raw = _read_yaml(file)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _SCALARS and key not in _SECTIONS:
            raise ConfigError(key, source, f"unknown key; valid keys: {_valid_top_keys()}")
        values[key] = value
    scalars = {
        key: _scalar(key, values[key], source, *_SCALARS[key]) for key in _SCALARS if key in values
    }
    for key, spec in _SCALARS.items():
        env_name = ENV_PREFIX + key.upper()
        if env_name in env:
            raw_value = env[env_name]
            # Text keys take the variable as written (YAML would read "on" as true).
            value = (raw_value or None) if spec[0] is str else _from_env(raw_value)
            scalars[key] = _scalar(key, value, f"${env_name}", *spec)
    limits = _limits(values.get("limits", {}), source, env)
    models = _models(values.get("models", []), source, base)
    try:
        alerting = parse_alerting_settings(values.get("alerting"), source=source)
    except AlertingConfigError as exc:
        raise ConfigError(exc.key, source, exc.reason) from None
    try:
        versions = parse_versions_settings(values.get("versions"))
    except VersionsConfigError as exc:
        raise ConfigError(exc.key, source, exc.reason) from None
    state_dir = scalars.pop("state_dir", None)
    return SidecarConfig(
        **scalars,
        state_dir=None if state_dir is None else (base / state_dir),
        limits=limits,
        models=models,
        alerting=alerting,
        versions=versions,
        source=source,
    )


def _valid_top_keys() -> str:
    return ", ".join(sorted([*_SCALARS, *_SECTIONS]))


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError("--config", str(file), f"cannot read the file: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError("<file>", str(file), f"not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("<file>", str(file), "the top level must be a mapping of keys")
    return {str(key): value for key, value in data.items()}


def _from_env(text: str) -> Any:
    """Environment values are strings; YAML scalar rules turn them into numbers or null."""
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        return text


def _scalar(
    key: str, value: Any, source: str, kind: type, optional: bool, low: float | None
) -> Any:
    if value is None:
        if optional:
            return None
        raise ConfigError(key, source, "must not be null")
    if kind is str:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(key, source, f"expected a string, got {_type_name(value)}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, source, f"expected a number, got {_type_name(value)}")
    if kind is int and (not isinstance(value, int)):
        raise ConfigError(key, source, f"expected an integer, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(key, source, f"expected a finite number, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(key, source, f"must be at least {low:g}, got {value!r}")
    if key == "port" and value > 65535:
        raise ConfigError(key, source, f"must be at most 65535, got {value!r}")
    return kind(value)


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", bool: "a boolean", str: "a string"}
    return names.get(type(value), type(value).__name__)


def _limits(raw: Any, source: str, env: Mapping[str, str]) -> Limits:
    if not isinstance(raw, dict):
        raise ConfigError("limits", source, f"expected a mapping, got {_type_name(raw)}")
    values: dict[str, int] = {}
    for key, value in raw.items():
        if key not in _LIMIT_KEYS:
            valid = ", ".join(_LIMIT_KEYS)
            raise ConfigError(f"limits.{key}", source, f"unknown key; valid keys: {valid}")
        values[key] = _scalar(f"limits.{key}", value, source, int, False, 1)
    for key in _LIMIT_KEYS:
        env_name = f"{ENV_PREFIX}LIMITS_{key.upper()}"
        if env_name in env:
            values[key] = _scalar(
                f"limits.{key}", _from_env(env[env_name]), f"${env_name}", int, False, 1
            )
    return Limits(**values)


def _models(raw: Any, source: str, base: Path) -> tuple[ModelConfig, ...]:
    if not isinstance(raw, list):
        raise ConfigError("models", source, f"expected a list, got {_type_name(raw)}")
    models: list[ModelConfig] = []
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(raw):
        model = _model(f"models[{index}]", entry, source, base)
        if (model.model, model.version) in seen:
            raise ConfigError(
                f"models[{index}]", source, f"{model.model} {model.version} is listed twice"
            )
        seen.add((model.model, model.version))
        models.append(model)
    return tuple(models)


def _model(prefix: str, entry: Any, source: str, base: Path) -> ModelConfig:
    if not isinstance(entry, dict):
        raise ConfigError(prefix, source, f"expected a mapping, got {_type_name(entry)}")
    for key in entry:
        if key not in _MODEL_KEYS:
            valid = ", ".join(sorted(_MODEL_KEYS))
            raise ConfigError(f"{prefix}.{key}", source, f"unknown key; valid keys: {valid}")
    for key in ("model", "version", "profile"):
        if key not in entry:
            raise ConfigError(f"{prefix}.{key}", source, "required key is missing")
    name = _name(f"{prefix}.model", entry["model"], source)
    version = _name(f"{prefix}.version", entry["version"], source)
    profile_text = _scalar(f"{prefix}.profile", entry["profile"], source, str, False, None)
    profile = base / profile_text
    if not profile.is_file():
        raise ConfigError(f"{prefix}.profile", source, f"reference profile not found: {profile}")
    mapping = _str_mapping(
        f"{prefix}.prediction_columns", entry.get("prediction_columns", {}), source
    )
    drift = _mapping(f"{prefix}.drift", entry.get("drift", {}), source)
    features_raw = _mapping(f"{prefix}.features", entry.get("features", {}), source)
    features = {
        str(feature): _mapping(f"{prefix}.features.{feature}", settings, source)
        for feature, settings in features_raw.items()
    }
    return ModelConfig(
        model=name,
        version=version,
        profile=profile,
        prediction_columns=mapping,
        drift=drift,
        features=features,
    )


def _name(key: str, value: Any, source: str) -> str:
    # YAML reads 2.3 or 1 as numbers; a version is a string on the wire, so accept both here.
    text = _scalar(key, value, source, str, False, None)
    if not 1 <= len(text) <= 128:
        raise ConfigError(key, source, "must be 1 to 128 characters")
    return str(text)


def _mapping(key: str, value: Any, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(key, source, f"expected a mapping, got {_type_name(value)}")
    return {str(k): v for k, v in value.items()}


def _str_mapping(key: str, value: Any, source: str) -> dict[str, str]:
    mapping = _mapping(key, value, source)
    for name, target in mapping.items():
        if not isinstance(target, str):
            raise ConfigError(
                f"{key}.{name}", source, f"expected a string, got {_type_name(target)}"
            )
    return {name: str(target) for name, target in mapping.items()}
