"""The public surface of driftline_sidecar.drift is deliberate."""

from __future__ import annotations

from driftline_sidecar import drift


def test_all_is_sorted_and_complete() -> None:
    """__all__ lists exactly the public names, constants then classes then functions."""
    assert drift.__all__ == [
        "METHODS",
        "CategoryCodes",
        "ColumnResult",
        "ColumnSettings",
        "ColumnStatus",
        "Decision",
        "DriftSettings",
        "Evaluation",
        "FittedColumn",
        "FittedProfile",
        "Histogram",
        "Kind",
        "Method",
        "MethodResult",
        "Purpose",
        "ResolvedSettings",
        "SettingsError",
        "Severity",
        "UnknownMethodError",
        "WindowValues",
        "benjamini_hochberg",
        "decide",
        "evaluate",
        "fit_profile",
        "get_method",
        "method_names",
        "parse_settings",
    ]


def test_every_exported_name_exists() -> None:
    """Each name in __all__ is importable from the package."""
    missing = [name for name in drift.__all__ if not hasattr(drift, name)]
    assert missing == []
