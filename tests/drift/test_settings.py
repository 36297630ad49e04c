"""Drift settings: defaults, per-column overrides and errors that name the key."""

from __future__ import annotations

import pytest
from driftline_sidecar.drift import ColumnSettings, DriftSettings, SettingsError, parse_settings


def test_defaults_per_kind() -> None:
    """Numeric columns default to KS + Wasserstein, categorical to chi2 + PSI."""
    settings = DriftSettings()
    numeric = settings.for_column("x", "numeric")
    categorical = settings.for_column("c", "categorical")
    assert (numeric.test, numeric.effect, categorical.test, categorical.effect) == (
        "ks",
        "wasserstein",
        "chi2",
        "psi",
    )


def test_column_override_wins() -> None:
    """A per-column effect method and floor replace the model-wide ones."""
    settings = DriftSettings(
        columns={"x": ColumnSettings(effect="psi", effect_floor=0.2, min_samples=10)}
    )
    resolved = settings.for_column("x", "numeric")
    assert (
        resolved.effect,
        resolved.effect_floor,
        resolved.critical_effect,
        resolved.min_samples,
    ) == (
        "psi",
        0.2,
        0.25,
        10,
    )


def test_parse_settings_names_the_bad_key() -> None:
    """An unknown test in a feature override is reported with its key path."""
    with pytest.raises(SettingsError, match=r"features\.age\.test") as info:
        parse_settings({}, {"age": {"test": "t-test"}})
    assert info.value.key == "features.age.test"


def test_parse_settings_rejects_unknown_keys() -> None:
    """A misspelt model-wide key is refused by name."""
    with pytest.raises(SettingsError) as info:
        parse_settings({"qq": 0.1})
    assert info.value.key == "qq"


def test_q_must_be_a_probability() -> None:
    """q outside (0, 1) is refused."""
    with pytest.raises(SettingsError, match=r"^q: "):
        DriftSettings(q=1.5)


def test_partial_floors_keep_the_other_defaults() -> None:
    """Setting one effect floor keeps the defaults of the others."""
    settings = parse_settings({"effect_floors": {"psi": 0.2}})
    assert (settings.effect_floors["psi"], settings.effect_floors["wasserstein"]) == (0.2, 0.1)
