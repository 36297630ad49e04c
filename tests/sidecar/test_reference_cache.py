"""Versions that share a profile file share one loaded and fitted profile."""

from __future__ import annotations

from pathlib import Path

from driftline_sidecar.config import load_config
from driftline_sidecar.evaluation import FittedCache, load_reference

from tests.support.sidecar import MODEL, write_config


def _entry(version: str, profile: Path, **extra: object) -> dict[str, object]:
    return {
        "model": MODEL,
        "version": version,
        "profile": str(profile),
        "prediction_columns": {"value": "churn_probability"},
        **extra,
    }


def test_versions_with_one_profile_and_settings_share_the_fit(
    tmp_path: Path, profile_path: Path
) -> None:
    """Two versions of one profile and the same drift settings get the same fitted object."""
    models = [_entry("1.0", profile_path), _entry("1.1", profile_path)]
    config = load_config(write_config(tmp_path, profile_path, models=models), environ={})
    cache: FittedCache = {}
    first, second = (load_reference(i, m, config, cache) for i, m in enumerate(config.models))
    assert (first.fitted is second.fitted, len(cache)) == (True, 1)


def test_different_drift_settings_get_their_own_fit(tmp_path: Path, profile_path: Path) -> None:
    """A version with other drift settings is fitted on its own, with its own settings."""
    models = [_entry("1.0", profile_path), _entry("1.1", profile_path, drift={"q": 0.01})]
    config = load_config(write_config(tmp_path, profile_path, models=models), environ={})
    cache: FittedCache = {}
    first, second = (load_reference(i, m, config, cache) for i, m in enumerate(config.models))
    assert (first.fitted is second.fitted, second.settings.q, len(cache)) == (False, 0.01, 2)
