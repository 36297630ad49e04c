"""The drift maths: one pure method per module, a registry by name, the engine and the decision.

``fit_profile(profile, settings)`` once per reference profile, then
``evaluate(fitted, window, evaluated_at=...)`` per window. See docs/drift.md.
"""

from ._categorical import CategoryCodes
from ._types import Histogram, Kind, Method, MethodResult, Purpose
from .decision import Decision, Severity, benjamini_hochberg, decide
from .engine import FittedColumn, FittedProfile, WindowValues, evaluate, fit_profile
from .registry import METHODS, UnknownMethodError, get_method, method_names
from .results import ColumnResult, ColumnStatus, Evaluation
from .settings import ColumnSettings, DriftSettings, ResolvedSettings, SettingsError, parse_settings

__all__ = [
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
