"""Evaluate one window of one model version against its fitted reference profile.

``fit_profile`` runs once per profile (each column's test and effect method fitted once);
``evaluate`` cleans each window column once (numeric: finite values sorted once; categorical:
labels counted once, by ``np.bincount`` when the column comes as `CategoryCodes`), scores
it, adjusts the p-values of the evaluation together with Benjamini-Hochberg and applies the
decision rule of `decision.decide`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftline_sidecar.profile import ColumnProfile, ReferenceProfile, category_label

from . import _categorical, _numeric, psi
from ._types import FloatArray, Histogram, Method, MethodResult
from .decision import Severity, benjamini_hochberg, decide
from .registry import get_method
from .results import ColumnResult, ColumnStatus
from .results import Evaluation as Evaluation
from .settings import DriftSettings, ResolvedSettings

__all__ = ["FittedColumn", "FittedProfile", "WindowValues", "evaluate", "fit_profile"]

MAX_LISTED_UNSEEN = 50
"""At most this many unseen category names are listed per column (the ratio counts all)."""


@dataclass(frozen=True)
class FittedColumn:
    """One reference column with its test and effect methods fitted."""

    column: ColumnProfile
    settings: ResolvedSettings
    test: Method[Any]
    test_state: Any
    effect: Method[Any]
    effect_state: Any
    reference: _numeric.NumericReference | _categorical.CategoricalReference


@dataclass(frozen=True)
class FittedProfile:
    """A reference profile ready to score windows: every column fitted once."""

    profile: ReferenceProfile
    settings: DriftSettings
    columns: tuple[FittedColumn, ...]


def fit_profile(profile: ReferenceProfile, settings: DriftSettings | None = None) -> FittedProfile:
    """Return ``profile`` with each column's methods fitted under ``settings``."""
    chosen = settings or DriftSettings()
    return FittedProfile(
        profile=profile,
        settings=chosen,
        columns=tuple(_fit_column(c, chosen) for c in profile.columns.values()),
    )


def _fit_column(column: ColumnProfile, settings: DriftSettings) -> FittedColumn:
    resolved = settings.for_column(column.name, column.kind)
    test = get_method(resolved.test, column.kind, "test")
    effect = get_method(resolved.effect, column.kind, "effect")
    reference: _numeric.NumericReference | _categorical.CategoricalReference
    if column.kind == "numeric":
        reference = _numeric.fit_numeric(column)
    else:
        reference = _categorical.fit_categorical(column)
    return FittedColumn(
        column=column,
        settings=resolved,
        test=test,
        test_state=_fit(test, column, reference),
        effect=effect,
        effect_state=_fit(effect, column, reference),
        reference=reference,
    )


# Methods whose state is exactly the shared reference state: fitted once per column.
_SHARED_FITS = frozenset({_numeric.fit_numeric, _categorical.fit_categorical, psi.fit})


def _fit(method: Method[Any], column: ColumnProfile, reference: Any) -> Any:
    return reference if method.fit in _SHARED_FITS else method.fit(column)


@dataclass(frozen=True)
class _Scored:
    status: ColumnStatus
    n_window: int
    n_reference: int
    quality: Mapping[str, float]
    reference_hist: Histogram | None
    window_hist: Histogram | None
    test: MethodResult | None = None
    effect: MethodResult | None = None
    unseen: tuple[str, ...] = ()


WindowValues = npt.NDArray[Any] | _categorical.CategoryCodes
"""One window column: an array of values, or a categorical column as `CategoryCodes`."""


def evaluate(
    fitted: FittedProfile,
    window: Mapping[str, WindowValues],
    settings: DriftSettings | None = None,
    *,
    evaluated_at: float,
) -> Evaluation:
    """Return the drift evaluation of ``window`` (column name → values) against ``fitted``.

    Numeric columns are float arrays with NaN for missing; categorical columns are object
    arrays of str with None for missing, or `CategoryCodes` (what the sidecar's windows hand
    over; counted with one ``np.bincount``, with the same results). ``settings`` (default:
    those used to fit) supplies ``q``, thresholds and ``min_samples``; a column whose methods
    differ from the fitted ones is refitted for this call.
    """
    started = time.perf_counter()
    chosen = settings or fitted.settings
    columns = [_refit(f, chosen) if chosen is not fitted.settings else f for f in fitted.columns]
    n_window = max((len(v) for v in window.values()), default=0)
    scratch = _numeric.Scratch.of_size(max(n_window, _largest_sample(columns)))
    scored = [_score_column(f, window.get(f.column.name), scratch) for f in columns]
    tested = [i for i, s in enumerate(scored) if s.status == "tested"]
    p_values = [_p_value(scored[i].test) for i in tested]
    adjusted = dict(zip(tested, benjamini_hochberg(p_values).tolist(), strict=True))
    results = tuple(
        _result(f, s, adjusted.get(i), chosen)
        for i, (f, s) in enumerate(zip(columns, scored, strict=True))
    )
    return Evaluation(
        model=fitted.profile.model,
        version=fitted.profile.version,
        profile_id=fitted.profile.profile_id,
        evaluated_at=evaluated_at,
        q=chosen.q,
        columns=results,
        n_window=n_window,
        duration_s=time.perf_counter() - started,
    )


def _largest_sample(columns: list[FittedColumn]) -> int:
    sizes = (
        f.reference.sample.size
        for f in columns
        if isinstance(f.reference, _numeric.NumericReference)
    )
    return max(sizes, default=0)


def _refit(fitted: FittedColumn, settings: DriftSettings) -> FittedColumn:
    resolved = settings.for_column(fitted.column.name, fitted.column.kind)
    if (resolved.test, resolved.effect) == (fitted.test.name, fitted.effect.name):
        return dataclasses.replace(fitted, settings=resolved)
    return _fit_column(fitted.column, settings)


def _p_value(result: MethodResult | None) -> float:
    if result is None or result.p_value is None:
        raise ValueError("a test method returned no p-value")
    return result.p_value


def _score_column(
    fitted: FittedColumn, raw: WindowValues | None, scratch: _numeric.Scratch
) -> _Scored:
    if fitted.column.kind == "numeric":
        return _score_numeric(fitted, raw, scratch)
    return _score_categorical(fitted, raw)


def _status(fitted: FittedColumn, raw: Any, n_window: int, n_reference: int) -> ColumnStatus:
    if raw is None:
        return "absent"
    if not fitted.settings.enabled:
        return "disabled"
    if n_reference == 0:
        return "no_reference"
    if n_window < fitted.settings.min_samples:
        return "too_few_samples"
    return "tested"


def _as_float(raw: WindowValues) -> FloatArray:
    if isinstance(raw, _categorical.CategoryCodes):
        raw = raw.decoded()
    try:
        return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        # A value that is not a number counts as missing, like None.
        return np.array([_float_or_nan(v) for v in np.asarray(raw).tolist()], dtype=np.float64)


def _float_or_nan(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _score_numeric(
    fitted: FittedColumn, raw: WindowValues | None, scratch: _numeric.Scratch
) -> _Scored:
    reference = fitted.reference
    assert isinstance(reference, _numeric.NumericReference)
    n_reference = int(reference.sample.size)
    reference_hist = _numeric.histogram(reference, reference.proportions)
    if raw is None:
        quality = {"missing": 1.0, "non_finite": 0.0, "out_of_range": 0.0}
        return _Scored("absent", 0, n_reference, quality, reference_hist, None)
    raw_values = _as_float(raw)
    total = raw_values.size
    values, missing = _numeric.sort_finite_into(raw_values, scratch)
    n = int(values.size)
    low, high = fitted.column.min, fitted.column.max
    outside = 0
    if n and low is not None and high is not None:
        outside = int(
            np.searchsorted(values, low, "left") + n - np.searchsorted(values, high, "right")
        )
    quality = {
        "missing": missing / total if total else 1.0,
        "non_finite": (total - missing - n) / total if total else 0.0,
        "out_of_range": outside / total if total else 0.0,
    }
    window_hist = (
        _numeric.histogram(reference, _numeric.window_bins(reference, values)) if n else None
    )
    status = _status(fitted, raw, n, n_reference)
    if status != "tested":
        return _Scored(status, n, n_reference, quality, reference_hist, window_hist)
    shared = _numeric.NumericWindow(values, scratch)
    return _Scored(
        status,
        n,
        n_reference,
        quality,
        reference_hist,
        window_hist,
        test=fitted.test.score(fitted.test_state, shared),
        effect=fitted.effect.score(fitted.effect_state, shared),
    )


def _labels(raw: WindowValues) -> _categorical.Tally:
    if isinstance(raw, _categorical.CategoryCodes):
        counted = _categorical.tally_codes(raw)
    else:
        counted = _categorical.tally(np.asarray(raw, dtype=object))
    if all(isinstance(label, str) for label in counted.counts):
        return counted
    # Numbers or booleans in a categorical column: label them as the profile did.
    counts: dict[str, int] = {}
    missing = counted.missing
    for value, count in counted.counts.items():
        label = category_label(value)
        if label is None:
            missing += count
        else:
            counts[label] = counts.get(label, 0) + count
    return _categorical.Tally(counts=counts, missing=missing)


def _score_categorical(fitted: FittedColumn, raw: WindowValues | None) -> _Scored:
    reference = fitted.reference
    assert isinstance(reference, _categorical.CategoricalReference)
    n_reference = int(reference.counts.sum())
    if raw is None:
        ref_hist, _ = _categorical.histograms(reference, _categorical.Tally({}, 0))
        quality = {"missing": 1.0, "unseen_category": 0.0}
        return _Scored("absent", 0, n_reference, quality, ref_hist, None)
    counted = _labels(raw)
    n = counted.n
    total = n + counted.missing
    unseen = {label: c for label, c in counted.counts.items() if label not in reference.index}
    quality = {
        "missing": counted.missing / total if total else 1.0,
        "unseen_category": sum(unseen.values()) / total if total else 0.0,
    }
    ref_hist, win_hist = _categorical.histograms(reference, counted)
    listed = tuple(label for label, _ in sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0])))[
        :MAX_LISTED_UNSEEN
    ]
    status = _status(fitted, raw, n, n_reference)
    if status != "tested":
        return _Scored(
            status, n, n_reference, quality, ref_hist, win_hist if n else None, unseen=listed
        )
    return _Scored(
        status,
        n,
        n_reference,
        quality,
        ref_hist,
        win_hist,
        test=fitted.test.score(fitted.test_state, counted),
        effect=fitted.effect.score(fitted.effect_state, counted),
        unseen=listed,
    )


def _result(
    fitted: FittedColumn, scored: _Scored, p_adjusted: float | None, settings: DriftSettings
) -> ColumnResult:
    column = fitted.column
    drifted, severity = False, Severity.NONE
    if scored.test is not None and scored.effect is not None and p_adjusted is not None:
        decision = decide(
            p_adjusted,
            scored.effect.statistic,
            q=settings.q,
            effect_floor=fitted.settings.effect_floor,
            critical_effect=fitted.settings.critical_effect,
            prediction=column.role == "prediction",
            prediction_critical=settings.prediction_critical,
        )
        drifted, severity = decision.drifted, decision.severity
    return ColumnResult(
        name=column.name,
        role=column.role,
        kind=column.kind,
        status=scored.status,
        test=fitted.test.name,
        statistic=None if scored.test is None else scored.test.statistic,
        p_value=None if scored.test is None else scored.test.p_value,
        p_adjusted=p_adjusted,
        effect_method=fitted.effect.name,
        effect_size=None if scored.effect is None else scored.effect.statistic,
        drifted=drifted,
        severity=severity,
        n_window=scored.n_window,
        n_reference=scored.n_reference,
        quality=scored.quality,
        reference_hist=scored.reference_hist,
        window_hist=scored.window_hist,
        unseen_categories=scored.unseen,
    )
