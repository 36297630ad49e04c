"""The service's view of the drift engine: a loaded reference, and a JSON-able evaluation summary.

`Reference` binds a configured model version to its profile, fitted once; `EvaluationSummary`
is what the service keeps of each evaluation: the numbers the metrics show, plus the engine's
own ``Evaluation.to_dict()`` document that ``GET /v1/drift`` returns. Both survive a snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from driftline_sidecar.config import ConfigError, ModelConfig, SidecarConfig
from driftline_sidecar.drift import (
    DriftSettings,
    Evaluation,
    FittedProfile,
    SettingsError,
    evaluate,
    fit_profile,
    parse_settings,
)
from driftline_sidecar.ingest import Kind, Role
from driftline_sidecar.metrics import ColumnState
from driftline_sidecar.profile import ProfileError, ReferenceProfile, load_profile
from driftline_sidecar.window import WindowColumn

__all__ = ["EvaluationSummary", "FittedCache", "Reference", "load_reference"]


@dataclass(frozen=True)
class EvaluationSummary:
    """The latest evaluation of one model version, as the metrics and the JSON API use it."""

    model: str
    version: str
    profile_id: str
    evaluated_at: float
    duration_s: float
    n_window: int
    drifted_count: int
    columns: tuple[ColumnState, ...]
    document: Mapping[str, Any]

    @classmethod
    def from_evaluation(
        cls, model: str, version: str, evaluation: Evaluation, mismatches: Mapping[str, float]
    ) -> EvaluationSummary:
        """Summarise an evaluation; ``mismatches`` adds the type_mismatch ratio per column."""
        columns = []
        for result in evaluation.columns:
            quality = {check: float(ratio) for check, ratio in result.quality.items()}
            if result.kind == "numeric":
                quality["type_mismatch"] = mismatches.get(result.name, 0.0)
            tested = result.status == "tested"
            columns.append(
                ColumnState(
                    name=result.name,
                    kind=result.role,
                    test=result.test if tested else None,
                    statistic=result.statistic,
                    p_value=result.p_value,
                    p_adjusted=result.p_adjusted,
                    effect_method=result.effect_method if tested else None,
                    effect_size=result.effect_size,
                    drifted=result.drifted,
                    severity=int(result.severity),
                    quality=quality,
                )
            )
        document = evaluation.to_dict()
        # The configured names win over the ones recorded in a (possibly shared) profile.
        document.update(model=model, version=version)
        for column, entry in zip(columns, document["columns"], strict=True):
            entry["quality"] = dict(column.quality)
        return cls(
            model=model,
            version=version,
            profile_id=evaluation.profile_id,
            evaluated_at=evaluation.evaluated_at,
            duration_s=evaluation.duration_s,
            n_window=evaluation.n_window,
            drifted_count=evaluation.drifted_count,
            columns=tuple(columns),
            document=document,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for snapshots)."""
        return {
            "model": self.model,
            "version": self.version,
            "profile_id": self.profile_id,
            "evaluated_at": self.evaluated_at,
            "duration_s": self.duration_s,
            "n_window": self.n_window,
            "drifted_count": self.drifted_count,
            "columns": [column.__dict__ for column in self.columns],
            "document": dict(self.document),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationSummary:
        """Rebuild a summary written by `to_json`; raise KeyError, TypeError or ValueError."""
        return cls(
            model=str(data["model"]),
            version=str(data["version"]),
            profile_id=str(data["profile_id"]),
            evaluated_at=float(data["evaluated_at"]),
            duration_s=float(data["duration_s"]),
            n_window=int(data["n_window"]),
            drifted_count=int(data["drifted_count"]),
            columns=tuple(ColumnState(**column) for column in data["columns"]),
            document=dict(data["document"]),
        )


@dataclass(frozen=True)
class Reference:
    """A configured model version's profile, fitted once under its drift settings."""

    profile: ReferenceProfile
    settings: DriftSettings
    fitted: FittedProfile
    model: str
    version: str
    kinds: Mapping[str, Kind]
    roles: Mapping[str, Role]
    prediction_columns: Mapping[str, str]

    def column_for(self, role: Role, name: str) -> str | None:
        """The profile column a wire column feeds (predictions through the configured map)."""
        target = self.prediction_columns.get(name, name) if role == "prediction" else name
        return target if self.roles.get(target) == role else None

    def evaluate(
        self, columns: Mapping[str, WindowColumn], *, evaluated_at: float
    ) -> tuple[Evaluation, EvaluationSummary]:
        """Evaluate a window's columns against the profile: the engine's result and its summary."""
        window = {name: column.for_engine for name, column in columns.items()}
        evaluation = evaluate(self.fitted, window, self.settings, evaluated_at=evaluated_at)
        mismatches = {
            name: float(column.type_mismatch.mean())
            for name, column in columns.items()
            if column.type_mismatch is not None and len(column.type_mismatch)
        }
        summary = EvaluationSummary.from_evaluation(
            self.model, self.version, evaluation, mismatches
        )
        return evaluation, summary


FittedCache = MutableMapping[str, tuple[ReferenceProfile, DriftSettings, FittedProfile]]


def load_reference(
    index: int, model: ModelConfig, config: SidecarConfig, cache: FittedCache | None = None
) -> Reference:
    """Load and fit a configured model version's profile; raise ConfigError naming the key.

    Versions that share a profile file and drift settings share one loaded and
    fitted profile through ``cache``: 300 versions of one profile cost one fit.
    """
    prefix = f"models[{index}]"
    drift = {"min_samples": config.min_samples, **model.drift}
    key = json.dumps([str(model.profile), drift, model.features], sort_keys=True, default=str)
    if cache is not None and key in cache:
        profile, settings, fitted = cache[key]
    else:
        try:
            profile = load_profile(model.profile)
        except ProfileError as exc:
            raise ConfigError(f"{prefix}.profile", config.source, str(exc)) from None
        try:
            settings = parse_settings(drift, model.features)
            fitted = fit_profile(profile, settings)
        except SettingsError as exc:
            key_path = exc.key if exc.key.startswith("features.") else f"drift.{exc.key}"
            raise ConfigError(f"{prefix}.{key_path}", config.source, exc.reason) from None
        if cache is not None:
            cache[key] = (profile, settings, fitted)
    for output, column in model.prediction_columns.items():
        if column not in profile.columns or profile.columns[column].role != "prediction":
            raise ConfigError(
                f"{prefix}.prediction_columns.{output}",
                config.source,
                f"{column!r} is not a prediction column of {model.profile}",
            )
    return Reference(
        profile=profile,
        settings=settings,
        fitted=fitted,
        model=model.model,
        version=model.version,
        kinds={name: column.kind for name, column in profile.columns.items()},
        roles={name: column.role for name, column in profile.columns.items()},
        prediction_columns=dict(model.prediction_columns),
    )
